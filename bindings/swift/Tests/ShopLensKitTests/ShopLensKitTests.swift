import Foundation
import ShopLensKit
import XCTest

/// The Swift bindings against the real library, run from the repository root (SHOPLENS_ROOT).
final class ShopLensKitTests: XCTestCase {
    static let model = "models/shoplens-effnet-lite0-int8.onnx"
    static let shard = "tests/data/catalog/sample.shard"
    static let root = ProcessInfo.processInfo.environment["SHOPLENS_ROOT"] ?? FileManager.default.currentDirectoryPath
    static var shared: ShopLens?

    var lens: ShopLens { Self.shared! }

    override class func setUp() {
        precondition(FileManager.default.changeCurrentDirectoryPath(root), "cannot cd to \(root)")
        shared = try! ShopLens(modelPath: model)
        _ = try! shared!.addShard(path: shard)
    }

    override class func tearDown() {
        shared = nil
    }

    func testReadmeExample() async throws {
        // README-BEGIN swift
        let lens = try ShopLens(modelPath: "models/shoplens-effnet-lite0-int8.onnx")
        let shard = try lens.addShard(path: "tests/data/catalog/sample.shard")
        XCTAssertEqual(shard.productCount, 30)
        let photo = try Data(contentsOf: URL(fileURLWithPath: "tests/data/catalog/queries/aloeR.jpg"))
        let found = try lens.searchPhoto(photo: photo, options: SearchOptions(topK: 3, maxPrice: 50))
        XCTAssertEqual(found.matches[0].product.id, "aloe-pot")
        // With async/await: runs on a ShopLens worker thread, no thread of the caller's is blocked.
        let again = try await lens.searchPhotoAsync(photo: photo)
        XCTAssertEqual(again.matches.count, 10)  // every option has a default: topK = 10
        XCTAssertThrowsError(try lens.removeShard(shardId: "no-such-shard")) { error in
            XCTAssertEqual(error as? ShopLensError, .NotFound(message: "no shard \"no-such-shard\" is open"))
        }
        // README-END
    }

    func testAnNv21FrameOfAPhotoFindsWhatThePhotoFinds() throws {
        // The photo decoded to RGB by bindings/test.sh (Foundation on Linux has no JPEG decoder).
        let (rgb, pw, ph) = try readPPM(ProcessInfo.processInfo.environment["SHOPLENS_QUERY_PPM"] ?? "aloeR.ppm")
        let (w, h) = (pw & ~1, ph & ~1)  // 4:2:0 needs even sides
        let (y, vu) = nv21(rgb: rgb, width: pw, height: ph)
        let frame = CameraFrame(
            format: .nv21, width: UInt32(w), height: UInt32(h),
            planes: [FramePlane(bytes: y, rowStride: UInt32(w)), FramePlane(bytes: vu, rowStride: UInt32(w), pixelStride: 2)]
        )
        // What a camera screen does when it opens: the wide and portrait plans get made before the first frame.
        try lens.prepare(width: UInt32(w), height: UInt32(h))
        let fromFrame = try lens.searchFrame(frame: frame, options: SearchOptions(topK: 3))
        let photo = try Data(contentsOf: URL(fileURLWithPath: "tests/data/catalog/queries/aloeR.jpg"))
        let fromPhoto = try lens.searchPhoto(photo: photo, options: SearchOptions(topK: 3))
        XCTAssertEqual(fromFrame.matches.first?.product.id, "aloe-pot")
        XCTAssertEqual(fromFrame.matches.first?.product.id, fromPhoto.matches.first?.product.id)
        XCTAssertEqual(fromFrame.timings.decodeMs, 0)

        // The same pixels as iOS hands them over: 32BGRA with padded rows.
        let stride = w * 4 + 64
        var bgra = Data(count: stride * h)
        for row in 0..<h {
            for col in 0..<w {
                let from = (row * pw + col) * 3, to = row * stride + col * 4
                bgra[to] = rgb[from + 2]; bgra[to + 1] = rgb[from + 1]; bgra[to + 2] = rgb[from]; bgra[to + 3] = 255
            }
        }
        let bgraFrame = CameraFrame(format: .bgra8888, width: UInt32(w), height: UInt32(h),
                                    planes: [FramePlane(bytes: bgra, rowStride: UInt32(stride))])
        XCTAssertEqual(try lens.searchFrame(frame: bgraFrame).matches.first?.product.id, "aloe-pot")
    }

    func testACorruptShardOrMissingFileThrowsWithAMessage() throws {
        let garbage = FileManager.default.temporaryDirectory.appendingPathComponent("garbage-\(getpid()).shard")
        try Data((0..<4096).map { UInt8(($0 * 31 + 7) % 256) }).write(to: garbage)
        defer { try? FileManager.default.removeItem(at: garbage) }
        XCTAssertThrowsError(try lens.addShard(path: garbage.path)) { error in
            guard case ShopLensError.Shard(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.hasPrefix("invalid shard"), message)
        }
        XCTAssertThrowsError(try lens.addShard(path: garbage.path + ".missing")) { error in
            guard case ShopLensError.Io = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(lens.shards().map(\.shardId), ["sample"])
    }

    func testAMalformedFrameThrowsInvalidInput() {
        let (w, h) = (640, 480)
        let frame = CameraFrame(
            format: .nv21, width: UInt32(w), height: UInt32(h),
            planes: [FramePlane(bytes: Data(count: w * h), rowStride: UInt32(w)),
                     FramePlane(bytes: Data(count: w * h / 2 - 100), rowStride: UInt32(w))]
        )
        XCTAssertThrowsError(try lens.searchFrame(frame: frame)) { error in
            guard case ShopLensError.InvalidInput(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("plane has 153500 bytes"), message)
        }
        let onePlane = CameraFrame(format: .nv21, width: frame.width, height: frame.height, planes: [frame.planes[0]])
        XCTAssertThrowsError(try lens.searchFrame(frame: onePlane)) { error in
            guard case ShopLensError.InvalidInput = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try lens.searchPhoto(photo: Data("not a photo".utf8)))
        XCTAssertThrowsError(try lens.searchPhoto(photo: Data(), options: SearchOptions(topK: 0)))
    }

    func testConcurrentAsyncSearchesFromSeveralTasksAreCorrect() async throws {
        let dir = URL(fileURLWithPath: "tests/data/catalog/queries")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".jpg") }.sorted()
        let queries = try files.map { try Data(contentsOf: dir.appendingPathComponent($0)) }
        let lens = self.lens
        let sequential = try queries.map { try lens.searchPhoto(photo: $0).matches.map(\.product.id) }
        let concurrent = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
            for (i, query) in queries.enumerated() {
                group.addTask { (i, try await lens.searchPhotoAsync(photo: query).matches.map(\.product.id)) }
            }
            var out = [[String]](repeating: [], count: queries.count)
            for try await (i, ids) in group { out[i] = ids }
            return out
        }
        XCTAssertEqual(queries.count, 8)
        XCTAssertEqual(concurrent, sequential)
    }

    func testTheLoggerHearsTheCoreAndCanBeRemoved() async throws {
        final class Collect: Logger, @unchecked Sendable {
            private let lock = NSLock()
            private var lines: [String] = []
            func log(level: LogLevel, target: String, message: String) {
                lock.lock(); defer { lock.unlock() }
                lines.append("\(level) \(target) \(message)")
            }
            var heard: [String] { lock.lock(); defer { lock.unlock() }; return lines }
        }
        let collect = Collect()
        try setLogger(logger: collect, maxLevel: .info)
        _ = try await lens.addShardAsync(path: Self.shard)
        try setLogger(logger: nil, maxLevel: .info)
        _ = try lens.addShard(path: Self.shard)
        XCTAssertEqual(collect.heard.count, 1, "\(collect.heard)")
        XCTAssertTrue(collect.heard.first?.hasPrefix("info shoplens::engine opened shard \"sample\"") ?? false,
                      "\(collect.heard)")
    }

    func testBrowsingTheCatalogOffline() throws {
        XCTAssertEqual(try lens.getProduct(id: "cappuccino-cup").title, "Cappuccino cup and saucer")
        XCTAssertThrowsError(try lens.getProduct(id: "nope")) { error in
            XCTAssertEqual(error as? ShopLensError, .NotFound(message: "no product \"nope\" in the open shards"))
        }
        let tree = Dictionary(uniqueKeysWithValues: lens.categories().map { ($0.path, $0) })
        XCTAssertEqual(tree.values.filter { $0.depth == 0 }.map { $0.count }.reduce(0, +), 30)
        XCTAssertEqual(tree["Art/Prints"]?.count, 9)
        // Pages of 4 by price: all 9 prints once each, in price order, then an empty page.
        var seen: [Product] = []
        for page in 1...4 {
            let got = try lens.productsInCategory(
                path: "Art/Prints", page: UInt32(page), options: PageOptions(pageSize: 4, sort: .priceAsc))
            XCTAssertEqual(got.total, 9)
            seen += got.products
        }
        XCTAssertEqual(Set(seen.map { $0.id }).count, 9)
        XCTAssertEqual(seen.map { $0.price }, seen.map { $0.price }.sorted())
        XCTAssertThrowsError(try lens.productsInCategory(path: "Garage", page: 1))
        XCTAssertThrowsError(try lens.productsInCategory(path: "Art", page: 0))
    }

    func testKeywordSearchAsTheShopperTypesFromManyTasks() async throws {
        XCTAssertEqual(try lens.searchText(query: "motorcyle").map { $0.product.id }, ["motorcycle-red"])
        let posters = try lens.searchText(query: "post")
        XCTAssertEqual(posters.count, 4)
        XCTAssertTrue(posters.allSatisfy { $0.product.title.contains("poster") })
        let cheap = try lens.searchText(query: "red ", options: SearchOptions(maxPrice: 1))
        XCTAssertEqual(cheap.map { $0.product.id }, ["apple-red"])
        let lens = self.lens
        let counts = try await withThrowingTaskGroup(of: (String, Int).self) { group in
            for q in ["sticker", "canvas", "CAFFE", "sticker", "canvas", "CAFFE"] {
                group.addTask { (q, try await lens.searchTextAsync(query: q).count) }
            }
            var out: [String: Set<Int>] = [:]
            for try await (q, n) in group { out[q, default: []].insert(n) }
            return out
        }
        XCTAssertEqual(counts, ["sticker": [3], "canvas": [2], "CAFFE": [1]])
        let similar = try lens.similarProducts(id: "orange", options: SearchOptions(topK: 3))
        XCTAssertEqual(similar.count, 3)
        XCTAssertFalse(similar.contains { $0.product.id == "orange" })
        let again = try await lens.similarProductsAsync(id: "orange", options: SearchOptions(topK: 3))
        XCTAssertEqual(again, similar)
    }
}

/// A binary PPM (P6, maxval 255): width, height and tightly packed RGB.
func readPPM(_ path: String) throws -> (Data, Int, Int) {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    var fields: [String] = [], at = 0, current = ""
    while fields.count < 4 {
        let c = Character(UnicodeScalar(data[at])); at += 1
        if c.isWhitespace { if !current.isEmpty { fields.append(current); current = "" } } else { current.append(c) }
    }
    guard fields[0] == "P6", let w = Int(fields[1]), let h = Int(fields[2]), fields[3] == "255" else {
        throw CocoaError(.fileReadCorruptFile)
    }
    return (data.subdata(in: at..<at + w * h * 3), w, h)
}

/// Full-range BT.601 NV21 of the even-sided top-left part of an RGB image, as an Android camera delivers it.
func nv21(rgb: Data, width: Int, height: Int) -> (Data, Data) {
    let (w, h) = (width & ~1, height & ~1)
    let px = [UInt8](rgb)
    func at(_ x: Int, _ y: Int) -> (Double, Double, Double) {
        let i = (y * width + x) * 3
        return (Double(px[i]), Double(px[i + 1]), Double(px[i + 2]))
    }
    func byte(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
    var y = [UInt8](repeating: 0, count: w * h), vu = [UInt8](repeating: 0, count: w * h / 2)
    for row in 0..<h {
        for col in 0..<w {
            let (r, g, b) = at(col, row)
            y[row * w + col] = byte(0.299 * r + 0.587 * g + 0.114 * b)
        }
    }
    for cy in 0..<h / 2 {
        for cx in 0..<w / 2 {
            var (u, v) = (0.0, 0.0)
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (r, g, b) = at(2 * cx + dx, 2 * cy + dy)
                u += -0.168736 * r - 0.331264 * g + 0.5 * b
                v += 0.5 * r - 0.418688 * g - 0.081312 * b
            }
            vu[cy * w + 2 * cx] = byte(v / 4 + 128)
            vu[cy * w + 2 * cx + 1] = byte(u / 4 + 128)
        }
    }
    return (Data(y), Data(vu))
}
