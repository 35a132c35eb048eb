#!/usr/bin/env python3
"""ShopLens's catalog index against the vector indexes a user might pick instead (faiss, usearch), same vectors.

    pip install -r benches/ann_requirements.txt
    python3 benches/ann_compare.py --dump DUMP [--dump DUMP2 ...] [--out-dir docs/img] [--json OUT.json] \
        [--queries 1000] [--build-threads N] [--default-ef 64]

DUMP is a directory written by the Rust side: `catalog.npy` (float32 [V, D], L2-normalised), `catalog_product.npy`
(int32 [V], product of each vector, non-decreasing), `queries.npy` (float32 [Q, D]) and `shoplens.json` (ShopLens's
own figures measured in Rust on exactly these vectors). Nothing here runs ShopLens itself.

What each figure means:

- recall@10 is product-level: the fraction of the exact top-10 products (fp32 cosine over catalog.npy, a product
  scoring the max over its views, computed with numpy) that an index returns in its top-10 products. Every index
  is asked for `k_retrieve` vectors (10 when each product has one vector, else 3x10 by default, `--oversample`),
  which are collapsed to their products in score order and cut to 10. ShopLens's recall10 in shoplens.json is
  the same metric against the same ground truth.
- p50 / p99 us: per-query latency, one query per call on one thread (as a phone searches), time.perf_counter_ns
  around the single library call only. "raw" is what Python measured; "adj" subtracts that library's Python call
  overhead: the median time of the same call on a one-vector index (binding, argument checks, result arrays and
  the timer itself: costs a native caller does not pay). ShopLens's figures are native Rust, so compare ShopLens
  with "adj"; the truth for a native faiss/usearch caller lies between adj and raw, near adj.
- bytes/vector: the index as the library serialises it (faiss `serialize_index`, usearch `save()`), divided by V,
  raw and zstd-compressed at level 19 (ShopLens's figure is its compressed shard, so compare compressed with
  compressed). Level 19 runs at ~5 MB/s, so an index over 2 x --zstd-sample-mib (default 16) is estimated from
  32 evenly spaced 512 KiB slices (marked ~ in the tables; within 3% of the exact figure on a 100k x 320 dump);
  `--zstd-sample-mib 0` compresses everything (adds ~2 min at 100k x 320). bytes/product =
  the same over P. ShopLens's `index_bytes_per_product` (vectors + graph + id map, compressed) is the like-for-like
  figure; its `bytes_per_product` is the whole shard (with product records and text), shown for reference only.
- recall at equal latency: each competitor's recall interpolated (linear in log latency, on its best-recall-so-far
  envelope) at ShopLens's p50 for each ShopLens ef; "-" when ShopLens is faster than the competitor's fastest
  setting. The other way round: the p50 a competitor needs to reach ShopLens's recall at the default ef.

Indexes, all searched single-threaded: faiss IndexHNSWFlat (M=16, 32; efConstruction 100), IndexHNSWSQ 8-bit
(M=32), IndexFlatIP (exact scan); usearch Index(metric='cos', dtype f32 / f16 / i8, connectivity 16,
expansion_add 128). efSearch / expansion_search swept over --efs; values below k_retrieve are raised to it (both
libraries search with max(ef, k) anyway). Builds use --build-threads (default: all cores); with 1 the graphs are
deterministic (faiss and usearch seed their level generators; two runs give identical recall and bytes), with
more usearch's concurrent inserts race and its recall and bytes vary slightly run to run (faiss's came out
identical at 2 threads, but nothing promises it). Queries are the first --queries rows of queries.npy (the exact
scan, ~10 ms a query at 100k x 320, times only the first --exact-queries).

Fairness: the competitors index the full-D vectors as given (fp32, f16, or 8-bit of full D) and return their
graph's scores without re-ranking; ShopLens searches PCA-projected int8 vectors and re-ranks exactly. That is the
point of the comparison (what a user gets from the alternative on the same embeddings), not a like-for-like
algorithm test. usearch's i8 maps each component x to round(127 x); unit vectors with D in the hundreds have
components of a few hundredths, so it keeps only ~3 bits and its recall plateaus (~0.9): that is what a user who
picks it gets, not a bug here. Timings on a shared 2-core machine are noisy, p99 most of all.

Outputs: markdown tables on stdout (for docs/benchmarks.md), `recall_vs_latency_<name>.png` and
`bytes_vs_recall_<name>.png` in --out-dir (<name> = the dump directory's basename), and every number in --json.
"""
import argparse
import gc
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import faiss
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import usearch  # noqa: E402
import zstandard  # noqa: E402
from usearch.index import Index as UIndex  # noqa: E402

TOPK = 10
DEFAULT_EFS = [10, 16, 24, 32, 48, 64, 96, 128, 256]
ZSTD_LEVEL = 19
ZSTD_STRATA = 32


# ----------------------------------------------------------------------------------------------- data, ground truth

def load_dump(d: Path, max_queries: int) -> dict:
    x = np.ascontiguousarray(np.load(d / "catalog.npy"), dtype=np.float32)
    prod = np.load(d / "catalog_product.npy").astype(np.int64)
    q = np.ascontiguousarray(np.load(d / "queries.npy")[:max_queries], dtype=np.float32)
    sl = json.loads((d / "shoplens.json").read_text())
    if x.ndim != 2 or prod.shape != (x.shape[0],) or q.shape[1] != x.shape[1]:
        sys.exit(f"{d}: shapes do not fit: catalog {x.shape}, product {prod.shape}, queries {q.shape}")
    if np.any(np.diff(prod) < 0):
        sys.exit(f"{d}: catalog_product.npy is not non-decreasing")
    return {"name": d.resolve().name, "x": x, "prod": prod, "q": q, "shoplens": sl}


def ground_truth(x: np.ndarray, prod: np.ndarray, q: np.ndarray, k: int) -> list:
    """Exact fp32 product-level top-k per query: cosine = dot (unit vectors), product score = max over its views."""
    starts = np.flatnonzero(np.r_[True, prod[1:] != prod[:-1]])
    pids = prod[starts]
    k = min(k, len(pids))
    chunk = max(1, (64 << 20) // (4 * x.shape[0]))
    out = []
    for i in range(0, len(q), chunk):
        s = q[i:i + chunk] @ x.T
        ps = np.maximum.reduceat(s, starts, axis=1)
        top = np.argpartition(-ps, k - 1, axis=1)[:, :k]
        out.extend(set(pids[row].tolist()) for row in top)
    return out


def product_recall(ids_per_query: list, prod: np.ndarray, gt: list) -> float:
    """Collapse each query's retrieved vector ids (best first) to products, keep the first 10, recall vs gt."""
    hits = 0
    total = 0
    for ids, truth in zip(ids_per_query, gt):
        ids = ids[ids >= 0]
        top = list(dict.fromkeys(prod[ids].tolist()))[:TOPK]
        hits += len(truth.intersection(top))
        total += len(truth)
    return hits / total


# ------------------------------------------------------------------------------------------------------ timing

def time_calls(call, queries: list) -> tuple:
    """Run call(q) for each query, timing each single call; returns (latencies_us, results)."""
    lat = np.empty(len(queries))
    res = []
    gc.disable()
    try:
        for i, qq in enumerate(queries):
            t0 = time.perf_counter_ns()
            r = call(qq)
            t1 = time.perf_counter_ns()
            lat[i] = (t1 - t0) / 1e3
            res.append(r)
    finally:
        gc.enable()
    return lat, res


def pct(lat: np.ndarray) -> tuple:
    p50, p99 = np.percentile(lat, [50, 99])
    return float(p50), float(p99)


def call_overhead_us(family: str, dim: int, k: int, reps: int = 3000) -> dict:
    """Median time of the library's single-query search call on a one-vector index: Python binding + timer cost."""
    rng = np.random.default_rng(0)
    v = rng.standard_normal((1, dim)).astype(np.float32)
    v /= np.linalg.norm(v)
    if family == "faiss":
        ix = faiss.IndexFlatIP(dim)
        ix.add(v)
        qs = [v] * reps
        call = lambda qq: ix.search(qq, k)[1][0]  # noqa: E731
    else:
        ix = UIndex(ndim=dim, metric="cos", dtype="f32")
        ix.add(np.array([0]), v, threads=1)
        qs = [v[0]] * reps
        call = lambda qq: ix.search(qq, k, threads=1).keys  # noqa: E731
    time_calls(call, qs[:200])
    lat, _ = time_calls(call, qs)
    p50, p99 = pct(lat)
    return {"p50_us": p50, "p99_us": p99}


# ---------------------------------------------------------------------------------------------------- bytes

def zstd_size(buf, sample_bytes: int) -> tuple:
    """zstd level-19 size of buf; (size, was_exact). A buffer over 2 x sample_bytes (0 = never) is estimated from
    ZSTD_STRATA equal slices, compressing sample_bytes / ZSTD_STRATA bytes at the start of each slice, so every
    region of the file (header, graph, vectors) is sampled in proportion to its size."""
    mv = memoryview(buf).cast("B")
    n = len(mv)
    cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    if sample_bytes <= 0 or n <= 2 * sample_bytes:
        return len(cctx.compress(mv)), True
    piece = sample_bytes // ZSTD_STRATA
    raw = comp = 0
    for i in range(ZSTD_STRATA):
        s = i * n // ZSTD_STRATA
        raw += piece
        comp += len(cctx.compress(mv[s:s + piece]))
    return int(round(n * comp / raw)), False


# ------------------------------------------------------------------------------------------ index families

def faiss_indexes(dim: int) -> list:
    ip = faiss.METRIC_INNER_PRODUCT

    def hnsw_flat(m):
        def build(x):
            ix = faiss.IndexHNSWFlat(dim, m, ip)
            ix.hnsw.efConstruction = 100
            ix.add(x)
            return ix
        return build

    def hnsw_sq8(x):
        ix = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, 32, ip)
        ix.hnsw.efConstruction = 100
        ix.train(x)
        ix.add(x)
        return ix

    def flat(x):
        ix = faiss.IndexFlatIP(dim)
        ix.add(x)
        return ix

    return [
        {"name": "faiss HNSWFlat M=16", "family": "faiss", "build": hnsw_flat(16), "ann": True},
        {"name": "faiss HNSWFlat M=32", "family": "faiss", "build": hnsw_flat(32), "ann": True},
        {"name": "faiss HNSWSQ8 M=32", "family": "faiss", "build": hnsw_sq8, "ann": True},
        {"name": "faiss FlatIP (exact)", "family": "faiss", "build": flat, "ann": False},
    ]


def faiss_build(spec: dict, x: np.ndarray, threads: int):
    faiss.omp_set_num_threads(threads)
    try:
        return spec["build"](x)
    finally:
        faiss.omp_set_num_threads(1)


def faiss_sweep(ix, q: np.ndarray, efs: list, k: int, ann: bool) -> list:
    faiss.omp_set_num_threads(1)
    qs = [q[i:i + 1] for i in range(len(q))]
    call = lambda qq: ix.search(qq, k)[1][0]  # noqa: E731
    out = []
    for ef in (efs if ann else [None]):
        if ef is not None:
            ix.hnsw.efSearch = ef
        time_calls(call, qs[: min(50, len(qs))])  # warm-up
        lat, ids = time_calls(call, qs)
        out.append((ef, lat, ids))
    return out


def faiss_bytes(ix) -> bytes:
    return faiss.serialize_index(ix)


def usearch_indexes(dim: int) -> list:
    def build(dtype):
        def b(x, threads):
            ix = UIndex(ndim=dim, metric="cos", dtype=dtype, connectivity=16, expansion_add=128)
            ix.add(np.arange(len(x), dtype=np.uint64), x, threads=threads)
            return ix
        return b

    return [{"name": f"usearch {dt}", "family": "usearch", "build": build(dt), "ann": True}
            for dt in ("f32", "f16", "i8")]


def usearch_build(spec: dict, x: np.ndarray, threads: int):
    return spec["build"](x, threads)


def usearch_sweep(ix, q: np.ndarray, efs: list, k: int, ann: bool) -> list:
    qs = [q[i] for i in range(len(q))]
    call = lambda qq: ix.search(qq, k, threads=1).keys.astype(np.int64)  # noqa: E731
    out = []
    for ef in efs:
        ix.expansion_search = ef
        time_calls(call, qs[: min(50, len(qs))])
        lat, ids = time_calls(call, qs)
        out.append((ef, lat, ids))
    return out


def usearch_bytes(ix) -> bytes:
    return ix.save()


FAMILY = {
    "faiss": (faiss_build, faiss_sweep, faiss_bytes),
    "usearch": (usearch_build, usearch_sweep, usearch_bytes),
}


# ----------------------------------------------------------------------------------------------- interpolation

def envelope(points: list) -> list:
    """(latency, recall) sorted by latency, recall replaced by the best recall at that latency or less."""
    pts = sorted(points)
    out, best = [], -1.0
    for lat, r in pts:
        best = max(best, r)
        out.append((lat, best))
    return out


def recall_at_latency(points: list, lat: float):
    env = envelope(points)
    if not env or lat < env[0][0]:
        return None
    for (l0, r0), (l1, r1) in zip(env, env[1:]):
        if l0 <= lat <= l1:
            if l1 == l0:
                return r1
            t = (math.log(lat) - math.log(l0)) / (math.log(l1) - math.log(l0))
            return r0 + t * (r1 - r0)
    return env[-1][1]


def latency_for_recall(points: list, recall: float):
    env = envelope(points)
    prev = None
    for lat, r in env:
        if r >= recall:
            if prev is None or prev[1] >= r:
                return lat
            t = (recall - prev[1]) / (r - prev[1])
            return math.exp(math.log(prev[0]) + t * (math.log(lat) - math.log(prev[0])))
        prev = (lat, r)
    return None


# ------------------------------------------------------------------------------------------------------ report

def md_table(headers: list, rows: list) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def f(v, nd=1, none="-"):
    return none if v is None else f"{v:.{nd}f}"


def shoplens_default(sl: dict, ef: int):
    ann = sl.get("ann") or []
    if not ann:
        return None
    return min(ann, key=lambda a: (abs(a["ef"] - ef), a["ef"]))


def point_at_ef(res: dict, ef: int):
    if not res["sweep"]:
        return None
    if not res["ann"]:
        return res["sweep"][0]
    return min(res["sweep"], key=lambda s: (abs(s["ef"] - ef), s["ef"]))


def run_dump(d: Path, args) -> dict:
    t_start = time.time()
    data = load_dump(d, args.queries)
    x, prod, q, sl = data["x"], data["prod"], data["q"], data["shoplens"]
    V, D = x.shape
    P = int(len(np.unique(prod)))
    views = V / P
    k_ret = TOPK if V == P else args.oversample * TOPK
    efs = sorted(set(max(e, k_ret) for e in args.efs))  # both libraries search with max(ef, k)
    print(f"\n## {data['name']}: {V} vectors, {P} products, D={D}, {len(q)} queries, k_retrieve={k_ret}",
          file=sys.stderr)

    t = time.time()
    gt = ground_truth(x, prod, q, TOPK)
    gt_s = time.time() - t
    overhead = {fam: call_overhead_us(fam, D, k_ret) for fam in FAMILY}
    print(f"ground truth {gt_s:.1f}s; call overhead p50 us: "
          + ", ".join(f"{k} {v['p50_us']:.2f}" for k, v in overhead.items()), file=sys.stderr)

    results = []
    for spec in faiss_indexes(D) + usearch_indexes(D):
        build, sweep, serialize = FAMILY[spec["family"]]
        t = time.time()
        ix = build(spec, x, args.build_threads)
        build_s = time.time() - t
        t = time.time()
        runs = sweep(ix, q if spec["ann"] else q[:args.exact_queries], efs, k_ret, spec["ann"])
        search_s = time.time() - t
        ov = overhead[spec["family"]]["p50_us"]
        pts = []
        for ef, lat, ids in runs:
            p50, p99 = pct(lat)
            pts.append({"ef": ef, "recall10": product_recall(ids, prod, gt), "p50_us": p50, "p99_us": p99,
                        "p50_us_adj": max(p50 - ov, 0.01), "p99_us_adj": max(p99 - ov, 0.01)})
        t = time.time()
        buf = serialize(ix)
        raw = len(memoryview(buf).cast("B"))
        comp, exact = zstd_size(buf, args.zstd_sample_mib << 20)
        zstd_s = time.time() - t
        del buf, ix
        gc.collect()
        res = {"name": spec["name"], "family": spec["family"], "ann": spec["ann"], "build_s": build_s,
               "search_s": search_s, "zstd_s": zstd_s, "bytes_raw": raw, "bytes_zstd": comp, "zstd_exact": exact,
               "bytes_per_vector_raw": raw / V, "bytes_per_vector_zstd": comp / V,
               "bytes_per_product_raw": raw / P, "bytes_per_product_zstd": comp / P, "sweep": pts}
        results.append(res)
        best = max(p["recall10"] for p in pts)
        print(f"{spec['name']:<22} build {build_s:6.1f}s  search {search_s:6.1f}s  zstd {zstd_s:5.1f}s  "
              f"best recall {best:.3f}  {comp / V:.0f} B/vec", file=sys.stderr)

    # ShopLens's figures, in the same units.
    sl_ann = sl.get("ann") or []
    sl_def = shoplens_default(sl, args.default_ef)
    sl_ibpp = sl.get("index_bytes_per_product")
    sl_bpp = sl.get("bytes_per_product")
    shoplens = {
        "ann": sl_ann, "exact": sl.get("exact"), "default": sl_def, "dims": sl.get("dims") or [],
        "projected_dim": sl.get("projected_dim"),
        "index_bytes_per_product": sl_ibpp, "bytes_per_product": sl_bpp,
        "index_bytes_per_vector": None if sl_ibpp is None else sl_ibpp * P / V,
        "bytes_per_vector": None if sl_bpp is None else sl_bpp * P / V,
    }
    if sl.get("vectors") not in (None, V) or sl.get("products") not in (None, P):
        print(f"WARNING: shoplens.json says {sl.get('vectors')} vectors / {sl.get('products')} products, "
              f"the dump has {V} / {P}", file=sys.stderr)

    # Recall at ShopLens's latency, and latency to reach ShopLens's recall.
    equal_latency = []
    for r in results:
        if not r["ann"]:
            continue
        adj = [(p["p50_us_adj"], p["recall10"]) for p in r["sweep"]]
        raw = [(p["p50_us"], p["recall10"]) for p in r["sweep"]]
        row = {"index": r["name"], "at_shoplens_ef": []}
        for a in sl_ann:
            row["at_shoplens_ef"].append({
                "ef": a["ef"], "shoplens_p50_us": a["p50_us"], "shoplens_recall10": a["recall10"],
                "recall10_adj": recall_at_latency(adj, a["p50_us"]),
                "recall10_raw": recall_at_latency(raw, a["p50_us"])})
        if sl_def:
            row["p50_us_adj_for_shoplens_recall"] = latency_for_recall(adj, sl_def["recall10"])
            row["p50_us_raw_for_shoplens_recall"] = latency_for_recall(raw, sl_def["recall10"])
        equal_latency.append(row)

    out = {"name": data["name"], "dump": str(d), "vectors": V, "products": P, "dim": D, "queries": len(q),
           "views_per_product": views, "k_retrieve": k_ret, "efs": efs, "default_ef": args.default_ef,
           "build_threads": args.build_threads, "ground_truth_s": gt_s, "call_overhead_us": overhead,
           "indexes": results, "shoplens": shoplens, "equal_latency": equal_latency,
           "runtime_s": time.time() - t_start}
    print_tables(out)
    if args.out_dir:
        plot_recall_latency(out, args.out_dir)
        plot_bytes_recall(out, args.out_dir)
    return out


def print_tables(o: dict):
    sl = o["shoplens"]
    ov = o["call_overhead_us"]
    print(f"\n### {o['name']}: {o['vectors']} vectors, {o['products']} products, D={o['dim']}, "
          f"{o['queries']} queries\n")
    print(f"Product-level recall@10 against exact fp32; one query per call, 1 thread; each index returns "
          f"{o['k_retrieve']} vectors collapsed to products. Python call overhead subtracted in *adj*: "
          + ", ".join(f"{k} {v['p50_us']:.1f} us" for k, v in ov.items()) + ".\n")

    # 1. Recall at ShopLens's latency.
    if sl["ann"]:
        heads = ["index"] + [f"ef={a['ef']}: {a['p50_us']:.0f} us" for a in sl["ann"]]
        rows = [["**ShopLens** (its recall)"] + [f"**{a['recall10']:.3f}**" for a in sl["ann"]]]
        for e in o["equal_latency"]:
            rows.append([e["index"]] + [f"{f(c['recall10_adj'], 3)} ({f(c['recall10_raw'], 3)})"
                                        for c in e["at_shoplens_ef"]])
        print("Recall@10 at ShopLens's p50 latency, adj (raw); - = slower than that even at its lowest ef:\n")
        print(md_table(heads, rows))
        print()

    # 2. Summary: bytes, default setting, latency to reach ShopLens's recall.
    d = sl["default"]
    target = f"{d['recall10']:.3f}" if d else "?"
    heads = ["index", "B/vector raw", "B/vector zstd", "B/product zstd", f"recall@10 ef={o['default_ef']}",
             f"p50 us ef={o['default_ef']} adj (raw)", "best recall@10",
             f"p50 us to reach {target} adj (raw)", "build s"]
    rows = []
    if d:
        bpv = sl["index_bytes_per_vector"]
        rows.append(["**ShopLens**", "-", f(bpv, 0), f(sl["index_bytes_per_product"], 0),
                     f"{d['recall10']:.3f}", f"{d['p50_us']:.1f}",
                     f"{max(a['recall10'] for a in sl['ann']):.3f}", f"{d['p50_us']:.1f} (ef={d['ef']})", "-"])
    eq = {e["index"]: e for e in o["equal_latency"]}
    for r in o["indexes"]:
        p = point_at_ef(r, o["default_ef"])
        best = max(r["sweep"], key=lambda s: s["recall10"])
        e = eq.get(r["name"], {})
        reach = (f"{f(e.get('p50_us_adj_for_shoplens_recall'))} ({f(e.get('p50_us_raw_for_shoplens_recall'))})"
                 if r["ann"] else "-")
        mark = "" if r["zstd_exact"] else "~"
        rows.append([r["name"], f(r["bytes_per_vector_raw"], 0), mark + f(r["bytes_per_vector_zstd"], 0),
                     mark + f(r["bytes_per_product_zstd"], 0), f"{p['recall10']:.3f}",
                     f"{p['p50_us_adj']:.1f} ({p['p50_us']:.1f})", f"{best['recall10']:.3f}", reach,
                     f"{r['build_s']:.1f}"])
    print(f"Size and speed; ShopLens bytes = index_bytes_per_product (vectors + graph + map, compressed); "
          f"whole shard {f(sl['bytes_per_product'], 0)} B/product. - in the reach column = never reached:\n")
    print(md_table(heads, rows))
    print()

    # 3. Exact scans.
    rows = []
    if sl.get("exact"):
        rows.append(["ShopLens exact", f(sl["exact"].get("recall10"), 3), f(sl["exact"].get("p50_us")),
                     f(sl["exact"].get("p99_us"))])
    for r in o["indexes"]:
        if not r["ann"]:
            p = r["sweep"][0]
            rows.append([r["name"], f"{p['recall10']:.3f}", f"{p['p50_us_adj']:.1f} ({p['p50_us']:.1f})",
                         f"{p['p99_us_adj']:.1f} ({p['p99_us']:.1f})"])
    print("Exact scans, us adj (raw):\n")
    print(md_table(["scan", "recall@10", "p50 us", "p99 us"], rows))
    print()

    # 4. Full sweep.
    rows = []
    for a in sl["ann"]:
        rows.append(["ShopLens", a["ef"], f"{a['recall10']:.3f}", f(a["p50_us"]), "-", f(a.get("p99_us")), "-"])
    for r in o["indexes"]:
        if r["ann"]:
            for p in r["sweep"]:
                rows.append([r["name"], p["ef"], f"{p['recall10']:.3f}", f(p["p50_us_adj"]), f(p["p50_us"]),
                             f(p["p99_us_adj"]), f(p["p99_us"])])
    print("<details><summary>Full sweep</summary>\n")
    print(md_table(["index", "ef", "recall@10", "p50 us adj", "p50 us raw", "p99 us adj", "p99 us raw"], rows))
    print("\n</details>\n")


# ------------------------------------------------------------------------------------------------------- plots

STYLE = {
    "faiss HNSWFlat M=16": ("tab:blue", "o"),
    "faiss HNSWFlat M=32": ("tab:cyan", "s"),
    "faiss HNSWSQ8 M=32": ("tab:purple", "D"),
    "faiss FlatIP (exact)": ("tab:gray", "*"),
    "usearch f32": ("tab:orange", "^"),
    "usearch f16": ("tab:red", "v"),
    "usearch i8": ("tab:green", "P"),
}


def new_fig(title: str):
    fig, ax = plt.subplots(figsize=(12, 6.5), dpi=100)
    ax.set_title(title, fontsize=13)
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax


def log_x(ax):
    """Log x axis with plain-number ticks at 1, 2, 5 x 10^n."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def plot_recall_latency(o: dict, out_dir: Path):
    fig, ax = new_fig(f"Recall@10 vs latency, {o['vectors']:,} vectors x D={o['dim']} "
                      f"({o['products']:,} products), 1 thread, 1 query/call")
    sl = o["shoplens"]
    for r in o["indexes"]:
        color, marker = STYLE.get(r["name"], ("k", "o"))
        lat_adj = [p["p50_us_adj"] for p in r["sweep"]]
        lat_raw = [p["p50_us"] for p in r["sweep"]]
        rec = [p["recall10"] for p in r["sweep"]]
        if r["ann"]:
            ax.plot(lat_adj, rec, color=color, marker=marker, ms=5, lw=1.6, label=r["name"])
            ax.plot(lat_raw, rec, color=color, lw=0.9, ls="--", alpha=0.45)
        else:
            ax.scatter(lat_adj, rec, color=color, marker=marker, s=160, zorder=5, label=r["name"])
            ax.scatter(lat_raw, rec, color=color, marker=marker, s=160, alpha=0.35, zorder=5)
    if sl["ann"]:
        ax.plot([a["p50_us"] for a in sl["ann"]], [a["recall10"] for a in sl["ann"]], color="black", marker="o",
                lw=2.8, ms=7, label="ShopLens (Rust)", zorder=6)
        for a in sl["ann"]:
            ax.annotate(f"ef {a['ef']}", (a["p50_us"], a["recall10"]), textcoords="offset points",
                        xytext=(4, -12), fontsize=8)
    ex = sl.get("exact") or {}
    if ex.get("p50_us"):
        if ex.get("recall10") is not None:
            ax.scatter([ex["p50_us"]], [ex["recall10"]], color="black", marker="*", s=200, zorder=6,
                       label="ShopLens exact scan")
        else:
            ax.axvline(ex["p50_us"], color="black", ls=":", lw=1.2,
                       label="ShopLens exact scan p50 (recall not in dump)")
    log_x(ax)
    ax.set_xlabel("p50 latency per query, us (log). Solid: minus Python call overhead; dashed/faint: raw",
                  fontsize=11)
    ax.set_ylabel("product-level recall@10 vs exact fp32", fontsize=11)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    path = Path(out_dir) / f"recall_vs_latency_{o['name']}.png"
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)


def plot_bytes_recall(o: dict, out_dir: Path):
    fig, ax = new_fig(f"Index size vs recall@10, {o['vectors']:,} vectors x D={o['dim']} "
                      f"({o['products']:,} products)")
    sl = o["shoplens"]
    ef = o["default_ef"]
    for r in o["indexes"]:
        color, marker = STYLE.get(r["name"], ("k", "o"))
        x = r["bytes_per_vector_zstd"]
        p = point_at_ef(r, ef)
        best = max(p2["recall10"] for p2 in r["sweep"])
        ax.scatter([x], [p["recall10"]], color=color, marker=marker, s=90, zorder=5, label=r["name"])
        if r["ann"]:
            ax.scatter([x], [best], facecolors="none", edgecolors=color, marker=marker, s=90, zorder=5)
            ax.plot([x, x], [p["recall10"], best], color=color, lw=1, alpha=0.6)
    scale = o["products"] / o["vectors"]
    dims = sorted(sl["dims"], key=lambda d: d["index_bytes_per_product"])
    if dims:
        xs = [d["index_bytes_per_product"] * scale for d in dims]
        ax.plot(xs, [d["recall10"] for d in dims], color="black", marker="o", lw=2.2,
                label=f"ShopLens, PCA dim sweep (ef={ef})", zorder=6)
        for d, xx in zip(dims, xs):
            ax.annotate(f"{d['projected_dim']}d", (xx, d["recall10"]), textcoords="offset points", xytext=(5, -12),
                        fontsize=8)
    d = sl["default"]
    if d and sl["index_bytes_per_vector"]:
        ax.scatter([sl["index_bytes_per_vector"]], [d["recall10"]], color="black", marker="*", s=260, zorder=7,
                   label=f"ShopLens shipped ({sl.get('projected_dim')}d, ef={d['ef']})")
        if sl["bytes_per_vector"]:
            ax.scatter([sl["bytes_per_vector"]], [d["recall10"]], facecolors="none", edgecolors="black",
                       marker="*", s=260, zorder=7, label="ShopLens whole shard (+records, text)")
    log_x(ax)
    ax.set_xlabel("compressed (zstd -19) index bytes per vector, log", fontsize=11)
    ax.set_ylabel(f"product-level recall@10 (filled: ef={ef}, hollow: best ef)", fontsize=11)
    if abs(scale - 1) > 1e-9:
        sec = ax.secondary_xaxis("top", functions=(lambda b: b / scale, lambda b: b * scale))
        sec.set_xlabel("bytes per product", fontsize=10)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    path = Path(out_dir) / f"bytes_vs_recall_{o['name']}.png"
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)


# -------------------------------------------------------------------------------------------------------- main

def versions() -> dict:
    return {"python": platform.python_version(), "numpy": np.__version__, "faiss": faiss.__version__,
            "faiss_compile_options": faiss.get_compile_options(), "usearch": usearch.__version__,
            "usearch_simd": UIndex(ndim=8, metric="cos", dtype="f32").hardware_acceleration,
            "zstandard": zstandard.__version__, "matplotlib": matplotlib.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", type=Path, action="append", required=True, help="dump directory (repeatable)")
    ap.add_argument("--out-dir", type=Path, help="write the PNG plots here")
    ap.add_argument("--json", type=Path, help="write every number here")
    ap.add_argument("--queries", type=int, default=1000, help="use the first N queries (default 1000)")
    ap.add_argument("--exact-queries", type=int, default=200, help="queries timed on the exact scan (default 200)")
    ap.add_argument("--efs", type=lambda s: [int(v) for v in s.split(",")], default=DEFAULT_EFS,
                    help="efSearch / expansion_search sweep, comma-separated")
    ap.add_argument("--default-ef", type=int, default=64, help="ShopLens's default ef (default 64)")
    ap.add_argument("--oversample", type=int, default=3,
                    help="retrieve N x 10 vectors when some product has several views (default 3)")
    ap.add_argument("--build-threads", type=int, default=os.cpu_count() or 1,
                    help="threads for index builds (search is always 1 thread); 1 = deterministic graphs")
    ap.add_argument("--zstd-sample-mib", type=int, default=16,
                    help="compress at most this many MiB per index, sampled over the whole file (0 = all of it; "
                         "default 16)")
    args = ap.parse_args()
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    faiss.omp_set_num_threads(1)
    t0 = time.time()
    vers = versions()
    print(f"versions: {json.dumps(vers)}", file=sys.stderr)
    dumps = [run_dump(d, args) for d in args.dump]
    print(f"total {time.time() - t0:.0f}s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"versions": vers, "args": {k: str(v) for k, v in vars(args).items()},
                                         "dumps": dumps}, indent=1))
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
