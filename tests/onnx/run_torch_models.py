#!/usr/bin/env python3
"""Test driver: builds the PyTorch test models into a temporary folder
(tests/onnx/torch_models.py, size from $CLGRAD_ONNX_TEST_SIZE, default medium) and runs the
C test that compares clgrad's outputs with PyTorch's. Exit 77 (skipped) without PyTorch
and onnx.

    run_torch_models.py TEST_EXECUTABLE"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyenv  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: run_torch_models.py TEST_EXECUTABLE")
    py = pyenv.find(["torch", "onnx", "numpy"])
    if not py:
        print("skipped: no Python with torch, onnx and numpy (Debian: python3-torch python3-onnx)")
        return 77
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory(prefix="clgrad-onnx-") as d:
        r = subprocess.run([py, os.path.join(here, "torch_models.py"), d], stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            print("building the models failed (%d)" % r.returncode)
            return r.returncode if r.returncode == 77 else 1
        env = dict(os.environ, CLGRAD_ONNX_MODELS=d)
        return subprocess.run([sys.argv[1]], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
