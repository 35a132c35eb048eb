#!/usr/bin/env bash
# Builds the shoplens cdylib and generates its Kotlin, Swift and Python bindings in library mode.
#   bindings/generate.sh [debug|release]    (default debug)
# Output: target/bindings/{kotlin,swift,python}/ and the library at target/<profile>/libshoplens.so.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-debug}"
flags=(--locked)
[ "$profile" = release ] && flags+=(--release)

cargo build "${flags[@]}" --lib
lib="target/$profile/libshoplens.so"
# The generator is its own crate at the library's exact uniffi version (bindings/uniffi-bindgen).
cargo build --locked -p uniffi-bindgen
bindgen=target/debug/uniffi-bindgen

out=target/bindings
rm -rf "$out"
for language in kotlin swift python; do
  "$bindgen" generate --library "$lib" --language "$language" --out-dir "$out/$language" --no-format >/dev/null
done
echo "bindings in $out for $lib"
