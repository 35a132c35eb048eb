#!/usr/bin/env bash
# The Kotlin (JVM), Swift (Linux) and Python tests of the bindings, against the real library.
#   bindings/test.sh [python] [kotlin] [swift]     (all three by default)
# Installs what is missing, idempotently: a Python venv with pytest and Pillow (target/bindings-venv), Maven if
# absent, the Debian trixie root with Swift (bindings/swift/trixie.sh, needs root). Prints each step's time.
set -euo pipefail
cd "$(dirname "$0")/.."
langs=("$@")
[ ${#langs[@]} -eq 0 ] && langs=(python kotlin swift)

step() { # step NAME CMD...: runs CMD and prints how long it took
  local name="$1" start=$SECONDS
  shift
  echo "== bindings: $name"
  "$@"
  echo "== bindings: $name took $((SECONDS - start)) s"
}

generate() { bindings/generate.sh debug; }

venv=target/bindings-venv
python_env() {
  local stamp="$venv/.requirements"
  if ! cmp -s bindings/python/requirements.txt "$stamp" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv" 2>/dev/null || {
      # Debian's own python3 keeps venv in a package of its own.
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$venv" && python3 -m venv "$venv"
    }
    "$venv/bin/pip" install -q -r bindings/python/requirements.txt
    cp bindings/python/requirements.txt "$stamp"
  fi
}

python_tests() {
  ln -sf ../../debug/libshoplens.so target/bindings/python/libshoplens.so
  "$venv/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$reports/python.xml" bindings/python
}

kotlin_tests() {
  command -v mvn >/dev/null 2>&1 || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
  }
  mvn -B -ntp -f bindings/kotlin/pom.xml test
  cp bindings/kotlin/target/surefire-reports/TEST-*.xml "$reports/"
}

swift_tests() {
  bindings/swift/trixie.sh install
  local gen=target/bindings/swift pkg=bindings/swift
  cp "$gen/ShopLensKit.swift" "$pkg/Sources/ShopLensKit/"
  cp "$gen/ShopLensFFI.h" "$pkg/Sources/ShopLensFFI/"
  cp "$gen/ShopLensFFI.modulemap" "$pkg/Sources/ShopLensFFI/module.modulemap"
  # Foundation on Linux decodes no JPEG: the NV21 test reads the query photo as RGB, decoded here by Pillow.
  "$venv/bin/python" -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").save(sys.argv[2])' \
    tests/data/catalog/queries/aloeR.jpg target/bindings/aloeR.ppm
  # Apps may compile the generated code in Swift 6 language mode: it must pass strict concurrency checking.
  bindings/swift/trixie.sh run \
    "swiftc -swift-version 6 -typecheck -I bindings/swift/Sources/ShopLensFFI bindings/swift/Sources/ShopLensKit/ShopLensKit.swift"
  bindings/swift/trixie.sh run \
    "export SHOPLENS_ROOT=/work/shoplens SHOPLENS_QUERY_PPM=/work/shoplens/target/bindings/aloeR.ppm \
       LD_LIBRARY_PATH=/work/shoplens/target/debug && \
     swift test --disable-swift-testing --package-path bindings/swift -Xlinker -L/work/shoplens/target/debug 2>&1" \
    | tee "$reports/swift.log"
}

reports=target/bindings-reports
rm -rf "$reports" && mkdir -p "$reports"
step generate generate
for lang in "${langs[@]}"; do
  case "$lang" in
    python) step "python venv" python_env; step "python tests" python_tests ;;
    kotlin) step "kotlin tests" kotlin_tests ;;
    swift) python_env; step "swift tests" swift_tests ;;
    *) echo "unknown language $lang" >&2; exit 2 ;;
  esac
done

# One closing line over the three runners: pytest's and surefire's JUnit reports, XCTest's last summary line.
python3 - "$reports" <<'PY'
import glob, re, sys, xml.etree.ElementTree as ET
n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for f in glob.glob(sys.argv[1] + "/*.xml"):
    root = ET.parse(f).getroot()
    for suite in [root] if root.tag == "testsuite" else root.iter("testsuite"):
        for k in n:
            n[k] += int(suite.get(k, 0))
for f in glob.glob(sys.argv[1] + "/swift.log"):
    runs = re.findall(r"Executed (\d+) tests?, with (\d+) failures?", open(f).read())
    if runs:
        n["tests"] += int(runs[-1][0])
        n["failures"] += int(runs[-1][1])
failed = n["failures"] + n["errors"]
print(f"bindings: {n['tests'] - failed - n['skipped']} passed, {failed} failed, {n['skipped']} skipped")
PY
