#!/usr/bin/env bash
# Runs the fuzz targets with libFuzzer on the stable toolchain: the coverage instrumentation cargo-fuzz adds is made
# of stable `-C` flags; only its AddressSanitizer needs nightly, and safe Rust needs it least. Usage:
#   fuzz/run.sh [SECONDS_PER_TARGET=300] [TARGET...]      (targets: shard_reader frame; default both)
# Crashes land in fuzz/artifacts/TARGET/, the growing corpus in fuzz/corpus/TARGET/ (both ignored by git).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${1:-300}"; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(shard_reader frame)
triple="$(rustc -vV | sed -n 's/^host: //p')"
# A PCA shard with a residual weight (the bundled sample is small enough to keep all dims, so it reaches neither),
# written by the current code; built before the fuzzing flags are set.
if [ ! -s "$here/corpus/shard_reader/pca.shard" ]; then
  (cd "$here/.." && cargo test --release --test shard_hostile write_fuzz_seed -- --ignored)
fi
# The flags cargo-fuzz passes (its project.rs), minus -Zsanitizer. `--target` keeps them off build scripts.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cd "$here"
cargo build --release --target "$triple" --bins
if [ ! -s corpus/shard_reader/sample.shard ]; then
  mkdir -p corpus/shard_reader
  cp ../tests/data/catalog/sample.shard corpus/shard_reader/sample.shard
fi
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  # rss_limit: a hostile shard must not make the reader allocate without bound; 2 GiB is the alarm.
  "target/$triple/release/$t" "corpus/$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=1048576 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 || { status=$?; echo "$t: crash, see fuzz/artifacts/$t/"; }
done
exit $status
