#!/usr/bin/env bash
# README's test command: the Rust tests, then the Kotlin, Swift and Python tests of the bindings.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
cargo test --locked
echo "== cargo test took $((SECONDS - start)) s"
bindings/test.sh
