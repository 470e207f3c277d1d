"""Finds a Python interpreter that has the modules the ONNX tests need (PyTorch, onnx,
numpy): $CLGRAD_PYTHON, the interpreter running this script, then the system's
/usr/bin/python3 (Debian's python3-torch and python3-onnx live there, while a python3
earlier in PATH may be a virtual environment without them)."""
import os
import subprocess
import sys


def find(modules):
    seen = []
    for exe in (os.environ.get("CLGRAD_PYTHON"), sys.executable, "/usr/bin/python3"):
        if not exe or exe in seen or not os.path.exists(exe):
            continue
        seen.append(exe)
        code = "; ".join("import " + m for m in modules)
        try:
            if subprocess.run([exe, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=300).returncode == 0:
                return exe
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None
