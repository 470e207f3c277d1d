#!/usr/bin/env python3
"""Test driver: runs the export test (tests/onnx/test_onnx_export.c), which writes every
exported model into a temporary folder, then checks each file with onnx.checker (full
check, shape inference included) when a Python with the onnx module is found (Debian:
python3-onnx). Without it the clgrad part still runs and counts.

    run_export_check.py TEST_EXECUTABLE"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyenv  # noqa: E402

CHECK = r'''
import sys, onnx
for path in sys.argv[1:]:
    onnx.checker.check_model(onnx.load(path), full_check=True)
    print("onnx.checker:", path.rsplit("/", 1)[-1], "ok")
'''


def main():
    with tempfile.TemporaryDirectory(prefix="clgrad-export-") as d:
        r = subprocess.run([sys.argv[1]], env=dict(os.environ, CLGRAD_ONNX_EXPORT_DIR=d)).returncode
        if r != 0:
            return r
        files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".onnx"))
        if not files:
            print("no exported files")
            return 1
        py = pyenv.find(["onnx"])
        if not py:
            print("onnx.checker skipped: no Python with the onnx module (Debian: python3-onnx)")
            return 0
        return subprocess.run([py, "-c", CHECK] + files).returncode


if __name__ == "__main__":
    sys.exit(main())
