"""Puts the generated `shoplens` module (target/bindings/python, with libshoplens.so beside it) on the path and runs
the tests from the repository root, where the model and the sample catalog are."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, os.environ.get("SHOPLENS_PYTHON_BINDINGS", str(ROOT / "target/bindings/python")))
os.chdir(ROOT)
