#!/usr/bin/env bash
# Where inference time goes, by kernel family: a release build with symbols (its own target dir, so the shipped
# stripped build is untouched), `perf record` over `shoplens bench`, samples summed per family over tract's symbols
# only (photo decode and preprocessing, also in the bench, are left out). Needs `perf` (Debian: linux-perf).
#   benches/profile_inference.sh [BENCH ARGS...]     (default `--threads 1 --iters 60`; given args replace them)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${PROFILE_TARGET_DIR:-$root/target/profile}"
CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_TARGET_DIR="$target" \
  cargo build --release --bin shoplens --manifest-path "$root/Cargo.toml"
data="$(mktemp)"; trap 'rm -f "$data"' EXIT
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(--threads 1 --iters 60)
(cd "$root" && perf record -q -F 2000 -o "$data" "$target/release/shoplens" bench "${args[@]}")
perf report -i "$data" --no-children --sort symbol --stdio 2>/dev/null | grep '%' | awk '
  { p = $1; sub("%", "", p); $1 = ""; $2 = ""; s = $0; c = "";
    if (s ~ /depthwise|depth_wise|ZoneScanner/) c = "depthwise convolutions";
    else if (s ~ /mmm_|run_blocked/) c = "matrix products (1x1 and stem convolutions)";
    else if (s ~ /pack|im2col|panel/) c = "packing and im2col for the matrix products";
    else if (s ~ /element_wise|ElementWise|BinMiniOp|ops::math|ops::nn|Reduce/) c = "element-wise and pooling";
    else if (s ~ /tract|ndarray|memmove|memset|memcpy/) c = "other tract (plan, copies)";
    if (c != "") { share[c] += p; total += p } }
  END { for (c in share) printf "%5.1f%%  %s\n", 100 * share[c] / total, c }' | sort -rn
