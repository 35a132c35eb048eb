#!/usr/bin/env python3
"""Real embeddings for tests/shard_scale.rs at catalog scale: random square crops of every photo of the eval set
(benches/eval/make_eval_set.py) and of opencv-doc's sample photos, embedded by the bundled fp32 model in ONNX
Runtime (the same network as the shipped int8 file; cosine 0.999 between them), written as a float32 .npy.

    python3 benches/real_vectors.py --count 100200 --out /tmp/real100k.npy      # about 13 min on 2 cores
    SCALE_DATA=npy:/tmp/real100k.npy SCALE_PARAMS=256:1:32:45 SCALE_EF=64 \\
        cargo test --release --test shard_scale -- --ignored --nocapture

Each photo gives count / photos crops (side 0.3-1.0 of its short side, anywhere inside it, half of them mirrored),
so every vector has a hundred near-copies: the exact top 10 is a fine ordering among crops of one photo, harder for
PCA than a catalog of distinct products. Seeded: the same packages give the same vectors.
"""
import argparse, glob, time
import numpy as np, onnx, onnxruntime as ort
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument("--count", type=int, default=100200)
ap.add_argument("--out", required=True)
ap.add_argument("--eval-data", default="target/eval-data")
ap.add_argument("--model", default="models/shoplens-effnet-lite0-fp32.onnx")
a = ap.parse_args()

paths = sorted(glob.glob(f"{a.eval_data}/**/*.jpg", recursive=True) + glob.glob(f"{a.eval_data}/**/*.png", recursive=True))
if not paths:
    raise SystemExit(f"no photos under {a.eval_data}: run benches/eval/make_eval_set.py first")
paths = sorted(paths + glob.glob("/usr/share/doc/opencv-doc/examples/data/*.jpg"))
m = onnx.load(a.model)
for t in list(m.graph.input) + list(m.graph.output):   # batch of any size
    t.type.tensor_type.shape.dim[0].dim_param = "N"
del m.graph.value_info[:]
so = ort.SessionOptions()
so.intra_op_num_threads = 2
sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
per = -(-a.count // len(paths))
rng = np.random.default_rng(11)
out, batch, t0 = [], [], time.time()

def flush():
    out.append(sess.run(["embedding"], {"input": np.stack(batch)})[0])
    batch.clear()

for i, p in enumerate(paths):
    im = Image.open(p).convert("RGB")
    w, h = im.size
    short = min(w, h)
    for _ in range(per):
        side = short * rng.uniform(0.3, 1.0)
        cx, cy = rng.uniform(side / 2, w - side / 2), rng.uniform(side / 2, h - side / 2)
        box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        crop = im.resize((224, 224), Image.BILINEAR, box=box, reducing_gap=2.0)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        batch.append(((np.asarray(crop, np.float32) - 127.0) / 128.0).transpose(2, 0, 1))
        if len(batch) == 64:
            flush()
    if i % 100 == 0:
        print(f"{i}/{len(paths)} photos, {sum(len(o) for o in out)} vectors, {time.time() - t0:.0f} s", flush=True)
if batch:
    flush()
vectors = np.concatenate(out)[: a.count].astype(np.float32)
np.save(a.out, vectors)
print(f"{vectors.shape} from {len(paths)} photos in {time.time() - t0:.0f} s -> {a.out}")
