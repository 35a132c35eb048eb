#!/usr/bin/env python3
"""Side by side in one run: ONNX Runtime and `shoplens bench` on the same model file and the same input.

    pip install -r models/export/requirements.txt
    cargo build --release
    python3 benches/ort_compare.py [--iters 30] [--model models/shoplens-effnet-lite0-int8.onnx] [--ort-model M]
        [--agreement DIR [--agreement-n 60]]

Both time inference alone (tensor in, vector out) as the median of repeated runs after a warm-up, at 1 thread and at
all cores, interleaved so machine drift hits both, for the model's square input (a square photo) and for its wide input
(the SDK's shape for 16:9 frames and 3:2 photos; the bundled 3:2 photo). Each tensor is a photo preprocessed by
shoplens itself (`shoplens embed --dump-tensor`), so both runtimes see identical input; the script also prints their
cosine. ONNX Runtime runs the wide tensor on the same file with its input's height and width made symbolic.

`--ort-model` gives ONNX Runtime another file of the same network: the shipped int8 model is weight-only (tract folds
it to fp32 kernels, ONNX Runtime does not), so the fair alternative is the static-QDQ file of the same weights
(`python3 models/export/export_model.py --skip-eval --out-dir /tmp/m --qdq /tmp/qdq.onnx`), which ONNX Runtime runs
with its int8 kernels.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "shoplens"


def ort_session(model: Path, threads: int, shape=None) -> ort.InferenceSession:
    """A session on the model file; with `shape` other than the file's input shape, on the same graph with the input's
    height and width made symbolic (the file fixes them)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # the region output's declared 7x7 differs from a wide input's map: expected
    m = onnx.load(str(model))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    if shape is None or [d.dim_value for d in dims] == list(shape):
        return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    spatial = (2, 3) if dims[1].dim_value == 3 else (1, 2)
    for i, name in zip(spatial, ("height", "width")):
        dims[i].dim_param = name
    return ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def dumped(model: Path, photo: str, tmp: str):
    """shoplens's input tensor for `photo` (shaped as the `.shape` file says) and its embedding."""
    tensor_path = Path(tmp) / "tensor.f32"
    out = subprocess.run([str(BIN), "embed", "--model", str(model), photo, "--json", "--dump-tensor",
                          str(tensor_path)], check=True, capture_output=True, text=True, cwd=ROOT)
    shape = [int(v) for v in Path(str(tensor_path) + ".shape").read_text().split()]
    x = np.fromfile(tensor_path, dtype="<f4").reshape(shape)
    return x, np.array(json.loads(out.stdout), dtype=np.float32)


def ort_median_ms(sess: ort.InferenceSession, x: np.ndarray, iters: int) -> float:
    name = sess.get_inputs()[0].name
    sess.run(None, {name: x})
    runs = []
    for _ in range(iters):
        t = time.perf_counter()
        sess.run(None, {name: x})
        runs.append((time.perf_counter() - t) * 1e3)
    return statistics.median(runs)


def shoplens_bench(model: Path, threads: int, iters: int) -> dict:
    out = subprocess.run(
        [str(BIN), "bench", "--model", str(model), "--threads", str(threads), "--iters", str(iters), "--json"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "shoplens-effnet-lite0-int8.onnx"))
    ap.add_argument("--ort-model", help="the file ONNX Runtime runs (default: --model)")
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--agreement", metavar="DIR", help="also compare embeddings on up to --agreement-n photos in DIR")
    ap.add_argument("--agreement-n", type=int, default=60)
    args = ap.parse_args()
    model = Path(args.model)
    ort_model = Path(args.ort_model or args.model)
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: run `cargo build --release` first")

    with tempfile.TemporaryDirectory() as tmp:
        inputs = [("square", *dumped(model, "tests/data/apple.jpg", tmp)),
                  ("wide", *dumped(model, "tests/data/coffee.jpg", tmp))]

    cores = os.cpu_count() or 1
    rows = []
    for kind, x, ours in inputs:
        key = "inference_ms" if kind == "square" else "inference_wide_ms"
        for threads in sorted({1, cores}):
            sess = ort_session(ort_model, threads, x.shape)
            out = sess.run(None, {sess.get_inputs()[0].name: x})[0].reshape(-1)
            cos = float(out @ ours / (np.linalg.norm(out) * np.linalg.norm(ours)))
            # Interleave: ORT, shoplens, ORT, shoplens; keep the medians of each.
            o1 = ort_median_ms(sess, x, args.iters)
            s1 = shoplens_bench(model, threads, args.iters)[key]
            o2 = ort_median_ms(sess, x, args.iters)
            s2 = shoplens_bench(model, threads, args.iters)[key]
            o, s = statistics.median([o1, o2]), statistics.median([s1, s2])
            h, w = x.shape[2:4] if x.shape[1] == 3 else x.shape[1:3]
            rows.append((f"{kind} {h}x{w}", threads, s, o, s / o, cos))

    print(f"shoplens on {model.name}, ONNX Runtime {ort.__version__} on {ort_model.name}, {args.iters} runs x 2 "
          "rounds, median inference ms")
    print("| input (h x w) | threads | shoplens (tract) ms | ONNX Runtime ms | ratio tract/ORT | cosine tract vs ORT |")
    print("|---|---|---|---|---|---|")
    for size, threads, s, o, r, cos in rows:
        print(f"| {size} | {threads} | {s:.2f} | {o:.2f} | {r:.2f}x | {cos:.5f} |")
    if args.agreement:
        agreement(model, ort_model, Path(args.agreement), args.agreement_n)


def agreement(model: Path, ort_model: Path, folder: Path, n: int) -> None:
    """Embedding agreement on many photos: shoplens preprocesses each (the tensor it feeds tract is dumped), ONNX
    Runtime runs that same tensor; cosine of the two embeddings."""
    photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    photos = photos[:: max(1, len(photos) // n)][:n]
    sessions = {}
    cosines = []
    with tempfile.TemporaryDirectory() as tmp:
        for photo in photos:
            x, ours = dumped(model, str(photo), tmp)
            if x.shape not in sessions:
                sessions[x.shape] = ort_session(ort_model, os.cpu_count() or 1, x.shape)
            sess = sessions[x.shape]
            theirs = sess.run(None, {sess.get_inputs()[0].name: x})[0].reshape(-1)
            cosines.append(float(theirs @ ours / (np.linalg.norm(theirs) * np.linalg.norm(ours))))
    c = np.array(cosines)
    print(f"\nembedding agreement, shoplens (tract) vs ONNX Runtime on {ort_model.name}, {len(c)} photos of {folder}:")
    print("| photos | cosine mean | cosine min | share >= 0.99 |")
    print("|---|---|---|---|")
    print(f"| {len(c)} | {c.mean():.5f} | {c.min():.5f} | {(c >= 0.99).mean():.3f} |")


if __name__ == "__main__":
    main()
