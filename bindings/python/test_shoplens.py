"""The Python bindings against the real library: the bundled model and sample shard, real photos."""

import asyncio
import json
import math
import threading
from pathlib import Path

import pytest
from PIL import Image

from shoplens import (
    CameraFrame,
    CropBox,
    EngineOptions,
    FrameFormat,
    FramePlane,
    Logger,
    LogLevel,
    PageOptions,
    SearchOptions,
    SortOrder,
    ShopLens,
    ShopLensError,
    set_logger,
)

MODEL = "models/shoplens-effnet-lite0-int8.onnx"
SHARD = "tests/data/catalog/sample.shard"
CATALOG = Path("tests/data/catalog")


@pytest.fixture(scope="module")
def lens():
    lens = ShopLens(MODEL)
    lens.add_shard(SHARD)
    return lens


def test_readme_example():
    # README-BEGIN python
    lens = ShopLens("models/shoplens-effnet-lite0-int8.onnx")
    shard = lens.add_shard("tests/data/catalog/sample.shard")
    assert shard.product_count == 30
    photo = Path("tests/data/catalog/queries/aloeR.jpg").read_bytes()
    found = lens.search_photo(photo, SearchOptions(top_k=3, max_price=50.0))
    assert found.matches[0].product.id == "aloe-pot"
    # With asyncio: runs on a ShopLens worker thread, the event loop stays free.
    again = asyncio.run(lens.search_photo_async(photo))
    assert len(again.matches) == 10  # every option has a default: top_k = 10
    with pytest.raises(ShopLensError.NotFound, match='no shard "no-such-shard" is open'):
        lens.remove_shard("no-such-shard")
    # README-END


def nv21_planes(path):
    """The photo as full-range BT.601 NV21 (even sides), as an Android camera delivers it."""
    img = Image.open(path).convert("RGB")
    w, h = img.width & ~1, img.height & ~1
    # Pillow's YCbCr is JPEG's: full-range BT.601, the same conversion a camera's NV21 uses.
    y, cb, cr = img.crop((0, 0, w, h)).convert("YCbCr").split()
    cb, cr = (c.resize((w // 2, h // 2), Image.Resampling.BOX).tobytes() for c in (cb, cr))
    vu = bytes(b for pair in zip(cr, cb) for b in pair)
    return y.tobytes(), vu, w, h


def test_an_nv21_frame_of_a_photo_finds_what_the_photo_finds(lens):
    path = CATALOG / "queries/aloeR.jpg"
    y, vu, w, h = nv21_planes(path)
    frame = CameraFrame(
        format=FrameFormat.NV21,
        width=w,
        height=h,
        planes=[FramePlane(bytes=y, row_stride=w), FramePlane(bytes=vu, row_stride=w, pixel_stride=2)],
    )
    # What a camera screen does when it opens: the wide and portrait plans get made before the first frame.
    asyncio.run(lens.prepare_async(w, h))
    from_frame = lens.search_frame(frame, SearchOptions(top_k=3))
    from_photo = lens.search_photo(path.read_bytes(), SearchOptions(top_k=3))
    assert from_frame.matches[0].product.id == from_photo.matches[0].product.id == "aloe-pot"
    assert from_frame.timings.decode_ms == 0 and from_frame.timings.embed_ms > 0
    # A centred crop of the same frame, mirrored: still the aloe.
    frame.crop = CropBox(x=w // 8, y=h // 8, width=w * 3 // 4, height=h * 3 // 4)
    frame.mirrored = True
    assert lens.search_frame(frame).matches[0].product.id == "aloe-pot"


def test_a_corrupt_shard_or_missing_file_raises_with_a_message(lens, tmp_path):
    garbage = tmp_path / "garbage.shard"
    garbage.write_bytes(bytes((i * 31 + 7) % 256 for i in range(4096)))
    with pytest.raises(ShopLensError.Shard, match="^invalid shard"):
        lens.add_shard(str(garbage))
    with pytest.raises(ShopLensError.Io):
        lens.add_shard(str(tmp_path / "missing.shard"))
    assert [s.shard_id for s in lens.shards()] == ["sample"]


def test_a_malformed_frame_raises_invalid_input(lens):
    w, h = 640, 480
    short_chroma = CameraFrame(
        format=FrameFormat.NV21,
        width=w,
        height=h,
        planes=[FramePlane(bytes=bytes(w * h), row_stride=w), FramePlane(bytes=bytes(w * h // 2 - 100), row_stride=w)],
    )
    with pytest.raises(ShopLensError.InvalidInput, match="plane has 153500 bytes"):
        lens.search_frame(short_chroma)
    short_chroma.planes = short_chroma.planes[:1]
    with pytest.raises(ShopLensError.InvalidInput, match="NV21|Nv21"):
        lens.search_frame(short_chroma)
    with pytest.raises(ShopLensError.InvalidInput):
        lens.search_photo(b"not a photo")
    with pytest.raises(ShopLensError.InvalidInput, match="top_k"):
        lens.search_photo(b"", SearchOptions(top_k=0))


def test_concurrent_async_searches_are_correct_and_leave_the_loop_free(lens):
    queries = [p.read_bytes() for p in sorted((CATALOG / "queries").glob("*.jpg"))]
    sequential = [[m.product.id for m in lens.search_photo(q).matches] for q in queries]

    async def main():
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.002)

        ticker = asyncio.create_task(tick())
        results = await asyncio.gather(*(lens.search_photo_async(q) for q in queries))
        ticker.cancel()
        return results, ticks

    results, ticks = asyncio.run(main())
    assert [[m.product.id for m in r.matches] for r in results] == sequential
    assert ticks >= 5, f"the event loop ticked {ticks} times"


def test_threads_share_one_engine(lens):
    photo = (CATALOG / "queries/graf3.jpg").read_bytes()
    expected = [m.product.id for m in lens.search_photo(photo).matches]
    got = []
    threads = [threading.Thread(target=lambda: got.append(lens.search_photo(photo))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [[m.product.id for m in r.matches] for r in got] == [expected] * 4


def test_the_logger_hears_the_core_and_can_be_removed(lens):
    heard = []

    class Collect(Logger):
        def log(self, level, target, message):
            heard.append((level, target, message))

    set_logger(Collect(), LogLevel.INFO)
    try:
        asyncio.run(lens.add_shard_async(SHARD))
    finally:
        set_logger(None, LogLevel.INFO)
    lens.add_shard(SHARD)
    assert len(heard) == 1, heard
    level, target, message = heard[0]
    assert (level, target) == (LogLevel.INFO, "shoplens::engine")
    assert message.startswith('opened shard "sample"') and "30 products" in message


def test_memory_budget_refuses_a_shard_past_it():
    tight = ShopLens.with_options(MODEL, EngineOptions(threads=1, memory_budget_bytes=1000))
    with pytest.raises(ShopLensError.MemoryBudgetExceeded, match="remove a shard first"):
        tight.add_shard(SHARD)
    assert tight.shards() == []


def test_from_bytes_loads_the_model_from_memory():
    model = Path(MODEL)
    lens = ShopLens.from_bytes(model.read_bytes(), model.with_suffix(".json").read_text())
    lens.add_shard(SHARD)
    assert lens.search_photo((CATALOG / "queries/aloeR.jpg").read_bytes()).matches[0].product.id == "aloe-pot"
    with pytest.raises(ShopLensError.Model):
        ShopLens.from_bytes(b"not onnx", model.with_suffix(".json").read_text())


def test_batch_embedding_of_a_folder_puts_views_of_one_product_together(lens):
    """The data-work use of embed_photo: embed the catalog's photos and the second views, then compare."""
    catalog = {p.stem: lens.embed_photo(p.read_bytes()) for p in sorted((CATALOG / "images").glob("*.jpg"))}
    assert len(catalog) == 30
    dim = len(next(iter(catalog.values())))
    assert all(len(v) == dim and math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in catalog.values())

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b))

    same, other = [], []
    for line in (CATALOG / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        view = lens.embed_photo((CATALOG / q["query"]).read_bytes())
        scores = {pid: cos(view, v) for pid, v in catalog.items()}
        ranked = sorted(scores, key=scores.get, reverse=True)
        assert q["expected"] in ranked[:3], (q, ranked[:3])
        same.append(scores[q["expected"]])
        other.extend(s for pid, s in scores.items() if pid != q["expected"])
    # Every second view is closer to its own product than different products are to it on average, by a margin.
    assert min(same) > sum(other) / len(other) + 0.1, (min(same), sum(other) / len(other))


def test_browsing_the_catalog_offline(lens):
    p = lens.get_product("cappuccino-cup")
    assert (p.title, p.brand, p.price) == ("Cappuccino cup and saucer", "Caffè Casa", 9.9)
    with pytest.raises(ShopLensError.NotFound, match='no product "nope"'):
        lens.get_product("nope")
    tree = {c.path: c for c in lens.categories()}
    assert sum(c.count for c in tree.values() if c.depth == 0) == 30
    assert (tree["Art/Prints"].count, tree["Art/Prints"].name) == (9, "Prints")
    # Pages of 4 by price: all 9 prints once each, in price order, then an empty page.
    seen = []
    for page in range(1, 5):
        got = lens.products_in_category("Art/Prints", page, PageOptions(page_size=4, sort=SortOrder.PRICE_ASC))
        assert got.total == 9
        seen += got.products
    assert len(seen) == 9 and len({p.id for p in seen}) == 9
    assert [p.price for p in seen] == sorted(p.price for p in seen)
    with pytest.raises(ShopLensError.NotFound):
        lens.products_in_category("Garage", 1)
    with pytest.raises(ShopLensError.InvalidInput):
        lens.products_in_category("Art", 0)


def test_keyword_search_as_the_shopper_types(lens):
    assert [m.product.id for m in lens.search_text("motorcyle")] == ["motorcycle-red"]  # a typo
    posters = lens.search_text("post")  # still typing "poster"
    assert len(posters) == 4 and all("poster" in m.product.title for m in posters)
    cheap = lens.search_text("red ", SearchOptions(max_price=1.0))
    assert [m.product.id for m in cheap] == ["apple-red"]

    async def many():
        return await asyncio.gather(*(lens.search_text_async(q) for q in ["sticker", "canvas", "CAFFE"] * 3))

    results = asyncio.run(many())
    assert [len(r) for r in results[:3]] == [3, 2, 1]
    assert results[:3] == results[3:6] == results[6:]


def test_similar_products_leave_the_product_out(lens):
    found = lens.similar_products("orange", SearchOptions(top_k=3))
    assert len(found) == 3 and "orange" not in [m.product.id for m in found]
    assert [m.rank for m in found] == [1, 2, 3]
    assert asyncio.run(lens.similar_products_async("orange", SearchOptions(top_k=3))) == found
