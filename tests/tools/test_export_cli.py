#!/usr/bin/env python3
"""clgrad-train checkpoints through clgrad-export to ONNX, end to end.

For each network clgrad-train builds (mlp, cnn, lstm): a few training steps write a
checkpoint; clgrad-export turns it into an .onnx file; clgrad-run runs that file on a
random batch. Then, where a Python with PyTorch and onnx is found (Debian: python3-torch,
python3-onnx; see tests/onnx/pyenv.py), onnx.checker (full check, with shape inference)
accepts the file and the same network built in PyTorch from the checkpoint's tensors gives
the same outputs within 1e-4 relative. Also: bad usage, a checkpoint of another network,
a missing file.

Usage: test_export_cli.py clgrad-train clgrad-export clgrad-run. Exit 77 (skipped)
without the Fashion-MNIST data or an OpenCL device."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx"))
import pyenv  # noqa: E402

SKIP = 77

# Run by the Python that has torch and onnx: checks the file, rebuilds the network in
# PyTorch from the checkpoint (safetensors read by hand: an 8-byte header length, a JSON
# header, raw little-endian data) and compares with clgrad-run's output.
CHECK = r'''
import json, struct, sys
import numpy as np, onnx, torch, torch.nn as nn
model, onnx_path, ckpt, x_path, y_path = sys.argv[1:6]
onnx.checker.check_model(onnx.load(onnx_path), full_check=True)
raw = open(ckpt, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
data = raw[8 + n:]
def t(name):
    e = hdr[name]
    a, b = e["data_offsets"]
    return torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(e["shape"]).copy())
x = torch.from_numpy(np.load(x_path))
with torch.inference_mode():
    if model == "mlp":
        h = torch.relu(x @ t("0.weight").T + t("0.bias"))
        h = torch.relu(h @ t("2.weight").T + t("2.bias"))
        y = h @ t("4.weight").T + t("4.bias")
    elif model == "cnn":
        h = torch.max_pool2d(torch.relu(nn.functional.conv2d(x, t("0.weight"), t("0.bias"), padding=1)), 2)
        h = torch.max_pool2d(torch.relu(nn.functional.conv2d(h, t("3.weight"), t("3.bias"), padding=1)), 2)
        h = torch.relu(h.flatten(1) @ t("7.weight").T + t("7.bias"))
        y = h @ t("9.weight").T + t("9.bias")
    else:
        w = t("0.weight_ih_l0")
        lstm = nn.LSTM(w.shape[1], w.shape[0] // 4, batch_first=True)
        for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(lstm, k).data.copy_(t("0." + k))
        out, _ = lstm(x)
        y = out[:, -1] @ t("1.weight").T + t("1.bias")
got = np.load(y_path)
want = y.numpy()
scale = np.abs(want).max()
err = (np.abs(got - want) / np.maximum(np.abs(want), 1e-2 * scale)).max()
assert got.shape == want.shape, (got.shape, want.shape)
assert err <= 1e-4, "%s: relative error %g" % (model, err)
print("%s: onnx.checker ok, clgrad-run equals PyTorch (relative error %.2e)" % (model, err))
'''


def main():
    train, export, run = (os.path.abspath(p) for p in sys.argv[1:4])
    data = os.environ.get("CLGRAD_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    if not any(os.path.exists(os.path.join(data, "train-images-idx3-ubyte" + ext)) for ext in ("", ".gz")):
        print("skipped: no Fashion-MNIST in", data)
        return SKIP
    py = pyenv.find(["torch", "onnx", "numpy"])
    if not py:
        print("PyTorch or onnx not found: the files are checked by clgrad only")
    tmp = tempfile.mkdtemp(prefix="clgrad-export-test-")

    def sh(args, expect=0):
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
        if p.returncode == 1 and "no device" in p.stderr:
            print("skipped: no OpenCL device:", p.stderr.strip())
            sys.exit(SKIP)
        assert p.returncode == expect, "exit %d (want %d) for %s\nstdout:\n%s\nstderr:\n%s" % (
            p.returncode, expect, " ".join(args), p.stdout, p.stderr)
        return p

    shapes = {"mlp": (3, 784), "cnn": (3, 1, 28, 28), "lstm": (3, 28, 28)}
    for model, shape in shapes.items():
        ck = os.path.join(tmp, model + ".safetensors")
        sh([train, "--data", data, "--model", model, "--epochs", "1", "--limit-batches", "2", "--checkpoint", ck,
            "--quiet"])
        out = sh([export, ck]).stdout
        onnx_path = os.path.join(tmp, model + ".onnx")
        assert os.path.exists(onnx_path) and "-> " + onnx_path in out, out
        # a batch of 3 (the batch dimension is left open), written as .npy by clgrad-run's reader's format
        x_path, y_path = os.path.join(tmp, model + "_x.npy"), os.path.join(tmp, model + "_y.npy")
        write_npy(x_path, shape, seed=len(model))
        info = sh([run, onnx_path, "--input", x_path, "--out", y_path]).stdout
        assert "input input: float32 [batch" in info and "output logits: float32 [batch, 10]" in info, info
        if py:
            print(sh([py, "-c", CHECK, model, onnx_path, ck, x_path, y_path]).stdout.strip())
        else:
            print("%s: exported and run by clgrad" % model)

    # errors: usage, the wrong network, a missing file, an unwritable output
    sh([export], expect=2)
    sh([export, "--bogus"], expect=2)
    p = sh([export, os.path.join(tmp, "mlp.safetensors"), "--model", "cnn", "-o", os.path.join(tmp, "x.onnx")],
           expect=1)
    assert "does not hold clgrad-train's cnn network" in p.stderr, p.stderr
    p = sh([export, os.path.join(tmp, "missing.safetensors")], expect=1)
    assert "missing.safetensors" in p.stderr, p.stderr
    p = sh([export, os.path.join(tmp, "mlp.safetensors"), "-o", os.path.join(tmp, "no", "dir.onnx")], expect=1)
    assert "cannot write" in p.stderr, p.stderr
    p = sh([run, os.path.join(tmp, "mlp.safetensors")], expect=1)
    assert "not an ONNX model" in p.stderr, p.stderr
    print("ok")
    return 0


def write_npy(path, shape, seed):
    """A float32 .npy file of uniform values in [-1, 1), without numpy."""
    import random
    import struct
    rng = random.Random(seed)
    n = 1
    for d in shape:
        n *= d
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % dims
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % n, *[rng.uniform(-1, 1) for _ in range(n)]))


if __name__ == "__main__":
    sys.exit(main())
