package dev.shoplens

import java.io.File
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.Executors
import javax.imageio.ImageIO
import kotlin.math.roundToInt
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows

// Runs from the repository root (surefire's workingDirectory), against target/debug/libshoplens.so through JNA.
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ShopLensTest {
    private val model = "models/shoplens-effnet-lite0-int8.onnx"
    private val shard = "tests/data/catalog/sample.shard"
    private lateinit var lens: ShopLens

    @BeforeAll
    fun open() {
        lens = ShopLens(model)
        lens.addShard(shard)
    }

    @AfterAll
    fun close() = lens.close()

    @Test
    fun readmeExample() {
        // README-BEGIN kotlin
        ShopLens("models/shoplens-effnet-lite0-int8.onnx").use { lens ->
            val shard = lens.addShard("tests/data/catalog/sample.shard")
            assertEquals(30u, shard.productCount)
            val photo = File("tests/data/catalog/queries/aloeR.jpg").readBytes()
            val found = lens.searchPhoto(photo, SearchOptions(topK = 3u, maxPrice = 50.0))
            assertEquals("aloe-pot", found.matches[0].product.id)
            // From a coroutine: runs on a ShopLens worker thread, the caller's thread stays free.
            val again = runBlocking { lens.searchPhotoAsync(photo) }
            assertEquals(10, again.matches.size) // every option has a default: topK = 10
            val err = assertThrows<ShopLensException.NotFound> { lens.removeShard("no-such-shard") }
            assertEquals("no shard \"no-such-shard\" is open", err.message)
        }
        // README-END
    }

    @Test
    fun nv21FrameOfAPhotoFindsWhatThePhotoFinds() {
        val photo = File("tests/data/catalog/queries/aloeR.jpg")
        val (nv21, w, h) = nv21(photo)
        val frame = CameraFrame(
            format = FrameFormat.NV21,
            width = w.toUInt(),
            height = h.toUInt(),
            planes = listOf(
                FramePlane(nv21.copyOfRange(0, w * h), w.toUInt()),
                FramePlane(nv21.copyOfRange(w * h, nv21.size), w.toUInt(), pixelStride = 2u),
            ),
        )
        // What a camera screen does when it opens: the wide and portrait plans get made before the first frame.
        runBlocking { lens.prepareAsync(w.toUInt(), h.toUInt()) }
        val fromFrame = lens.searchFrame(frame, SearchOptions(topK = 3u))
        val fromPhoto = lens.searchPhoto(photo.readBytes(), SearchOptions(topK = 3u))
        assertEquals("aloe-pot", fromFrame.matches[0].product.id)
        assertEquals(fromPhoto.matches[0].product.id, fromFrame.matches[0].product.id)
        assertEquals(0.0, fromFrame.timings.decodeMs)
        assertTrue(fromFrame.timings.embedMs > 0.0)

        // The same frame as the sensor delivered it turned: rotated back by rotationDegrees.
        val turned = frame.copy(
            width = h.toUInt(), height = w.toUInt(), rotationDegrees = 90,
            planes = rotateNv21Ccw(nv21, w, h).let { (y, vu) -> listOf(FramePlane(y, h.toUInt()), FramePlane(vu, h.toUInt())) },
        )
        assertEquals("aloe-pot", lens.searchFrame(turned).matches[0].product.id)
    }

    @Test
    fun aCorruptShardOrAMissingFileIsAnExceptionWithAMessage() {
        val garbage = Files.createTempFile("garbage", ".shard").toFile()
        try {
            garbage.writeBytes(ByteArray(4096) { (it * 31 + 7).toByte() })
            val e = assertThrows<ShopLensException.Shard> { lens.addShard(garbage.path) }
            assertTrue(e.message!!.startsWith("invalid shard"), e.message)
            assertThrows<ShopLensException.Io> { lens.addShard(garbage.path + ".missing") }
            assertEquals(1, lens.shards().size) // the good shard is still open
        } finally {
            garbage.delete()
        }
    }

    @Test
    fun aMalformedFrameIsInvalidInputNotACrash() {
        val (w, h) = 640 to 480
        val shortChroma = CameraFrame(
            FrameFormat.NV21, w.toUInt(), h.toUInt(),
            listOf(FramePlane(ByteArray(w * h), w.toUInt()), FramePlane(ByteArray(w * h / 2 - 100), w.toUInt())),
        )
        val e = assertThrows<ShopLensException.InvalidInput> { lens.searchFrame(shortChroma) }
        assertTrue(e.message!!.contains("plane has 153500 bytes"), e.message)
        val onePlane = shortChroma.copy(planes = shortChroma.planes.take(1))
        assertThrows<ShopLensException.InvalidInput> { lens.searchFrame(onePlane) }
        val badCrop = shortChroma.copy(
            planes = listOf(FramePlane(ByteArray(w * h), w.toUInt()), FramePlane(ByteArray(w * h / 2), w.toUInt())),
            crop = CropBox(600u, 0u, 100u, 100u),
        )
        assertTrue(assertThrows<ShopLensException.InvalidInput> { lens.searchFrame(badCrop) }.message!!.contains("crop"))
        assertThrows<ShopLensException.InvalidInput> { lens.searchPhoto(ByteArray(100)) }
        assertThrows<ShopLensException.InvalidInput> { lens.searchPhoto(ByteArray(0), SearchOptions(topK = 0u)) }
    }

    @Test
    fun concurrentSuspendingSearchesAreCorrectAndDoNotBlockTheCaller() {
        val queries = File("tests/data/catalog/queries").listFiles()!!.sorted().map { it.readBytes() }
        val sequential = queries.map { lens.searchPhoto(it).matches.map { m -> m.product.id } }
        // One thread for the caller: had the searches blocked it, the ticker could not run meanwhile.
        Executors.newSingleThreadExecutor().asCoroutineDispatcher().use { caller ->
            runBlocking(caller) {
                var ticks = 0
                val ticker = launch { while (true) { ticks++; delay(2) } }
                val concurrent = queries.map { async { lens.searchPhotoAsync(it) } }.awaitAll()
                ticker.cancel()
                assertEquals(8, concurrent.size)
                assertEquals(sequential, concurrent.map { r -> r.matches.map { it.product.id } })
                assertTrue(ticks >= 5, "the caller's thread ticked $ticks times")
            }
        }
    }

    @Test
    fun theLoggerHearsTheCoreAndCanBeRemoved() {
        val heard = Collections.synchronizedList(mutableListOf<String>())
        val logger = object : Logger {
            override fun log(level: LogLevel, target: String, message: String) {
                heard.add("$level $target $message")
            }
        }
        setLogger(logger, LogLevel.INFO)
        try {
            runBlocking { lens.addShardAsync(shard) }
        } finally {
            setLogger(null, LogLevel.INFO)
        }
        lens.addShard(shard)
        assertEquals(1, heard.size, heard.toString())
        assertTrue(heard[0].startsWith("INFO shoplens::engine opened shard \"sample\""), heard[0])
        assertTrue(heard[0].contains("30 products"), heard[0])
    }

    @Test
    fun aClosedEngineRefusesCalls() {
        val other = ShopLens.withOptions(model, EngineOptions(threads = 1u))
        other.close()
        other.close() // idempotent
        assertThrows<IllegalStateException> { other.shards() }
    }

    @Test
    fun browsingTheCatalogOffline() {
        val cup = lens.getProduct("cappuccino-cup")
        assertEquals("Cappuccino cup and saucer", cup.title)
        val err = assertThrows<ShopLensException.NotFound> { lens.getProduct("nope") }
        assertEquals("no product \"nope\" in the open shards", err.message)
        val tree = lens.categories().associateBy { it.path }
        assertEquals(30u, tree.values.filter { it.depth == 0u }.sumOf { it.count })
        assertEquals(9u, tree.getValue("Art/Prints").count)
        // Pages of 4 by price: all 9 prints once each, in price order, then an empty page.
        val seen = (1u..4u).flatMap { page ->
            val got = lens.productsInCategory("Art/Prints", page, PageOptions(pageSize = 4u, sort = SortOrder.PRICE_ASC))
            assertEquals(9u, got.total)
            got.products
        }
        assertEquals(9, seen.map { it.id }.toSet().size)
        assertEquals(seen.map { it.price }.sorted(), seen.map { it.price })
        assertThrows<ShopLensException.NotFound> { lens.productsInCategory("Garage", 1u) }
        assertThrows<ShopLensException.InvalidInput> { lens.productsInCategory("Art", 0u) }
    }

    @Test
    fun keywordSearchAsTheShopperTypesFromManyCoroutines() {
        assertEquals(listOf("motorcycle-red"), lens.searchText("motorcyle").map { it.product.id })
        val posters = lens.searchText("post")
        assertEquals(4, posters.size)
        assertTrue(posters.all { "poster" in it.product.title })
        assertEquals(listOf("apple-red"), lens.searchText("red ", SearchOptions(maxPrice = 1.0)).map { it.product.id })
        val queries = listOf("sticker", "canvas", "CAFFE")
        val results = runBlocking { (1..3).flatMap { queries }.map { q -> async { lens.searchTextAsync(q) } }.awaitAll() }
        assertEquals(listOf(3, 2, 1), results.take(3).map { it.size })
        assertEquals(results.take(3), results.drop(3).take(3))
        val similar = lens.similarProducts("orange", SearchOptions(topK = 3u))
        assertEquals(3, similar.size)
        assertTrue(similar.none { it.product.id == "orange" })
        assertEquals(similar, runBlocking { lens.similarProductsAsync("orange", SearchOptions(topK = 3u)) })
    }

    /** The photo as full-range BT.601 NV21 (even sides), as an Android camera delivers it. */
    private fun nv21(file: File): Triple<ByteArray, Int, Int> {
        val img = ImageIO.read(file)
        val (w, h) = (img.width and 1.inv()) to (img.height and 1.inv())
        val out = ByteArray(w * h * 3 / 2)
        val rgb = { x: Int, y: Int -> img.getRGB(x, y).let { Triple((it shr 16) and 255, (it shr 8) and 255, it and 255) } }
        for (y in 0 until h) for (x in 0 until w) {
            val (r, g, b) = rgb(x, y)
            out[y * w + x] = clamp(0.299 * r + 0.587 * g + 0.114 * b)
        }
        for (cy in 0 until h / 2) for (cx in 0 until w / 2) {
            var u = 0.0
            var v = 0.0
            for ((dx, dy) in listOf(0 to 0, 1 to 0, 0 to 1, 1 to 1)) {
                val (r, g, b) = rgb(2 * cx + dx, 2 * cy + dy)
                u += -0.168736 * r - 0.331264 * g + 0.5 * b
                v += 0.5 * r - 0.418688 * g - 0.081312 * b
            }
            out[w * h + cy * w + 2 * cx] = clamp(v / 4 + 128)
            out[w * h + cy * w + 2 * cx + 1] = clamp(u / 4 + 128)
        }
        return Triple(out, w, h)
    }

    /** An upright w x h NV21 image turned 90 degrees counter-clockwise: the sensor's view of a phone held upright. */
    private fun rotateNv21Ccw(nv21: ByteArray, w: Int, h: Int): Pair<ByteArray, ByteArray> {
        // Turned: h wide, w high; pixel (x, y) of the upright image lands at (y, w - 1 - x).
        val y = ByteArray(w * h)
        for (sy in 0 until h) for (sx in 0 until w) y[(w - 1 - sx) * h + sy] = nv21[sy * w + sx]
        val vu = ByteArray(w * h / 2)
        val (cw, ch) = w / 2 to h / 2
        for (sy in 0 until ch) for (sx in 0 until cw) {
            val to = (cw - 1 - sx) * h + 2 * sy
            vu[to] = nv21[w * h + sy * w + 2 * sx]
            vu[to + 1] = nv21[w * h + sy * w + 2 * sx + 1]
        }
        return y to vu
    }

    private fun clamp(x: Double): Byte = x.roundToInt().coerceIn(0, 255).toByte()
}
