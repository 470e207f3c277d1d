#!/usr/bin/env python3
"""Tests of clgrad-train on data of every kind it reads, made here (small, learnable):

  1. --net specs: good ones build (--print-net shows shapes and parameter counts), bad ones
     are usage errors that underline the bad token and list the allowed layers.
  2. IDX images of another size (3-D 12x10) and with 3 channels last (4-D N x H x W x C):
     trained from a spec, normalisation computed per channel and stored in the checkpoint;
     eval reuses the stored values; broken IDX files are clear errors.
  3. Labels: a label far outside the classes is refused (with the class counts), and
     accepted with --allow-sparse-labels.
  4. CSV classification with a header and string labels (the mapping stored), eval with
     per-class precision/recall/F1 and a confusion matrix, predict to CSV; broken CSV files
     (ragged, missing, non-finite, non-numeric) are errors naming line and column;
     `inspect` lists the problems.
  5. CSV regression (--task regress) and a CSV time series (--window/--horizon) with RMSE,
     MAE and R^2; predictions in the target's units.
  6. Validation split and early stopping (the best checkpoint kept beside the last),
     --lr-schedule, --clip-grad-norm, --augment.
  7. --plot writes standalone SVG (curves; eval's confusion heat map) that parses as XML
     with the expected elements.

Usage: test_train_data.py PATH-TO-clgrad-train. Exits 77 (skipped) without an OpenCL
device. Uses only the standard library.
"""

import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SKIP = 77
EXE = None
TMP = None


def run(*args, expect=0):
    p = subprocess.run([EXE] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=300, cwd=TMP)
    if p.returncode == 1 and "cannot open the device" in p.stderr:
        print("skipped: no OpenCL device:", p.stderr.strip())
        sys.exit(SKIP)
    assert p.returncode == expect, "exit %d (want %d) for %s\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, expect, " ".join(map(str, args)), p.stdout, p.stderr)
    return p


def path(name):
    return os.path.join(TMP, name)


def write_idx(name, dims, values, type_byte=0x08):
    fmt = {0x08: "B", 0x0C: ">i"}[type_byte]
    with open(path(name), "wb") as f:
        f.write(bytes([0, 0, type_byte, len(dims)]))
        for d in dims:
            f.write(struct.pack(">I", d))
        if fmt == "B":
            f.write(bytes(values))
        else:
            for v in values:
                f.write(struct.pack(fmt, v))
    return path(name)


def blob_images(n, h, w, c, seed, channels_last=False):
    """Class k (of 3) is a bright square in a different corner, with noise."""
    rnd = random.Random(seed)
    imgs, labels = [], []
    for _ in range(n):
        k = rnd.randrange(3)
        oy, ox = [(1, 1), (1, w // 2), (h // 2, 1)][k]
        img = [[[rnd.randrange(40) for _ in range(w)] for _ in range(h)] for _ in range(c)]
        for ch in range(c):
            for y in range(oy, oy + h // 3):
                for x in range(ox, ox + w // 3):
                    img[ch][y][x] = 120 + 30 * ch + rnd.randrange(50)
        if channels_last:
            flat = [img[ch][y][x] for y in range(h) for x in range(w) for ch in range(c)]
        else:
            flat = [img[ch][y][x] for ch in range(c) for y in range(h) for x in range(w)]
        imgs.extend(flat)
        labels.append(k)
    return imgs, labels


def meta_of(checkpoint):
    with open(checkpoint, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))["__metadata__"]


def svg_check(name, want_tag, at_least):
    tree = ET.parse(path(name))
    root = tree.getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    found = [e for e in root.iter() if e.tag == "{http://www.w3.org/2000/svg}" + want_tag]
    assert len(found) >= at_least, "%s: %d <%s> elements, want >= %d" % (name, len(found), want_tag, at_least)
    return root


def test_specs():
    imgs, labels = blob_images(60, 12, 10, 1, 1)
    write_idx("img12-images.idx", [60, 12, 10], imgs)
    write_idx("img12-labels.idx", [60], labels)
    data = ["--data", path("img12-images.idx"), "--labels", path("img12-labels.idx"), "--epochs", "0",
            "--checkpoint", "", "--print-net", "--test-split", "0.2"]
    p = run(*data, "--net", "conv8k3p1-bn-relu-maxpool2-conv16k3s2-gelu-gap-flatten-dropout0.25-fc32-ln-silu-fc")
    assert "conv8k3p1" in p.stdout and "(8, 12, 10)" in p.stdout and "(8, 6, 5)" in p.stdout, p.stdout
    assert "(16, 1, 1)" in p.stdout and "(3)" in p.stdout, p.stdout
    assert "total parameters:" in p.stdout
    # conv8k3p1: 8*1*9 + 8 = 80 parameters.
    assert any(l.split()[1:2] == ["conv8k3p1"] and l.split()[-1] == "80" for l in p.stdout.splitlines()), p.stdout
    p = run(*data, "--net", "lstm16x2-gru8-fc")  # rows as time steps
    assert "(12, 16)" in p.stdout and "(8)" in p.stdout, p.stdout
    p = run(*data, "--model", "mlp")
    assert "fc256" in p.stdout and "(120)" in p.stdout, p.stdout
    for spec, bad in [("conv8k3p1-relu-fc10x-fc", "fc10x"), ("conv8-bogus-fc", "bogus"), ("fc32--fc", "-"),
                      ("dropout1.5-fc", "dropout1.5"), ("bilstm8-fc", "bilstm8"), ("fc32-relu", "relu"),
                      ("maxpool2q-fc", "maxpool2q")]:
        p = run(*data, "--net", spec, expect=2)
        lines = p.stderr.splitlines()
        assert bad in lines[0] and "allowed layers" in p.stderr and "convC" in p.stderr, p.stderr
        caret = [l for l in lines if set(l.strip()) == {"^"}]
        assert caret, p.stderr
        at = spec.index(bad) if bad != "-" else spec.index("--") + 1
        assert caret[0].index("^") - 4 == at, (spec, bad, caret[0])
    # Shapes that do not fit: a clear error naming the layer.
    p = run(*data, "--net", "conv8k3-fc32-fc", expect=1)
    assert "put flatten before it" in p.stderr, p.stderr
    p = run(*data, "--net", "conv8k20-flatten-fc", expect=1)
    assert "does not fit" in p.stderr, p.stderr
    p = run("--net", "help")
    assert "lstmH" in p.stdout
    print("specs ok")


def test_idx_images():
    # 3-channel images stored channels last (N x H x W x C), 16 x 16.
    imgs, labels = blob_images(300, 16, 16, 3, 2, channels_last=True)
    write_idx("rgb-images.idx", [300, 16, 16, 3], imgs)
    write_idx("rgb-labels.idx", [300], labels)
    ck = path("rgb.safetensors")
    svg = "curves.svg"
    p = run("--data", path("rgb-images.idx"), "--labels", path("rgb-labels.idx"), "--net",
            "conv8k3p1-relu-maxpool2-flatten-fc", "--epochs", "3", "--batch", "16", "--checkpoint", ck,
            "--test-split", "0.2", "--plot", path(svg), "--augment", "crop2,flip")
    assert "shape (3, 16, 16)" in p.stdout and "classes: 3" in p.stdout, p.stdout
    acc = float(p.stdout.split("final: test accuracy ")[1].split("%")[0])
    assert acc > 80, p.stdout
    # Per-channel statistics of the training split, stored (rounded to 4 decimals).
    m = meta_of(ck)
    mean = [float(v) for v in m["data.mean"].split(",")]
    std = [float(v) for v in m["data.std"].split(",")]
    assert len(mean) == 3 and len(std) == 3, m
    chan = [[v / 255 for i, v in enumerate(imgs) if i % 3 == c] for c in range(3)]
    for c in range(3):
        ref = sum(chan[c]) / len(chan[c])
        assert abs(mean[c] - ref) < 0.02, (c, mean[c], ref)  # of the training 80%, near the whole's
        assert abs(mean[c] - round(mean[c], 4)) < 1e-7, mean
    assert mean[0] < mean[1] < mean[2], mean
    assert "conv8k3p1-relu-maxpool2-flatten-fc" == m["train.net"], m
    root = svg_check(svg, "polyline", 2)
    assert root.find("{http://www.w3.org/2000/svg}title").text.startswith("clgrad-train")
    # Eval with the stored normalisation: the same accuracy on the same file whatever the
    # file's own statistics; a brightened copy is evaluated with the stored values too.
    e = run("eval", "--checkpoint", ck, "--data", path("rgb-images.idx"), "--labels", path("rgb-labels.idx"),
            "--plot", path("cm.svg"))
    assert "accuracy" in e.stdout and "confusion matrix" in e.stdout, e.stdout
    svg_check("cm.svg", "rect", 9 + 1)
    bright = [min(255, v + 60) for v in imgs]
    write_idx("rgb-bright.idx", [300, 16, 16, 3], bright)
    e2 = run("eval", "--checkpoint", ck, "--data", path("rgb-bright.idx"), "--labels", path("rgb-labels.idx"))
    # Stored statistics, not the new file's: normalised with its own, the brighter copy
    # would look like the original and score the same loss.
    score = lambda out: [l for l in out.splitlines() if l.startswith("samples 300:")][0]
    assert score(e2.stdout) != score(e.stdout), (score(e.stdout), score(e2.stdout))
    # A folder in the Fashion-MNIST layout (train-* and t10k-* files, 3-D images of 12x10).
    os.mkdir(path("fold"))
    tr, trl = blob_images(120, 12, 10, 1, 5)
    te, tel = blob_images(30, 12, 10, 1, 6)
    write_idx("fold/train-images-idx3-ubyte", [120, 12, 10], tr)
    write_idx("fold/train-labels-idx1-ubyte", [120], trl)
    write_idx("fold/t10k-images-idx3-ubyte", [30, 12, 10], te)
    write_idx("fold/t10k-labels-idx1-ubyte", [30], tel)
    p = run("--data", path("fold"), "--net", "conv4k3-relu-flatten-fc", "--epochs", "1", "--checkpoint", "")
    assert ("data: %s/train-images-idx3-ubyte: IDX images, 120 samples of shape (1, 12, 10)" % path("fold")) in p.stdout, \
        p.stdout
    assert "120 training / 30 test samples" in p.stdout, p.stdout
    for name in os.listdir(path("fold")):
        os.unlink(os.path.join(path("fold"), name))
    os.rmdir(path("fold"))
    # Broken IDX files: a clear error naming the file.
    with open(path("rgb-images.idx"), "rb") as f:
        blob = f.read()
    with open(path("cut-images.idx"), "wb") as f:
        f.write(blob[: len(blob) // 2])
    p = run("--data", path("cut-images.idx"), "--labels", path("rgb-labels.idx"), "--epochs", "1", "--checkpoint", "",
            expect=1)
    assert "cut-images.idx" in p.stderr, p.stderr
    write_idx("few-labels.idx", [10], labels[:10])
    p = run("--data", path("rgb-images.idx"), "--labels", path("few-labels.idx"), "--epochs", "1", "--checkpoint", "",
            expect=1)
    assert "300 images" in p.stderr and "10 labels" in p.stderr, p.stderr
    print("idx images ok")


def test_labels():
    imgs, labels = blob_images(60, 8, 8, 1, 3)
    for i in range(0, 60, 6):
        labels[i] = 200
    write_idx("sp-images.idx", [60, 8, 8], imgs)
    write_idx("sp-labels.idx", [60], labels)
    base = ["--data", path("sp-images.idx"), "--labels", path("sp-labels.idx"), "--net", "fc8-relu-fc", "--epochs",
            "1", "--checkpoint", "", "--test-split", "0.1"]
    p = run(*base, expect=1)
    assert "201 classes" in p.stderr and "no training sample" in p.stderr and "--allow-sparse-labels" in p.stderr, \
        p.stderr
    p = run("inspect", *base[:4], expect=1)
    assert "classes: 4 of 201" in p.stdout and "would refuse these labels" in p.stdout, p.stdout
    assert "no training sample" in p.stderr, p.stderr
    p = run(*base, "--allow-sparse-labels")
    assert "classes: 4 of 201 (labels 0 .. 200 here)" in p.stdout and "[sparse" in p.stdout, p.stdout
    assert " 199: 0" not in p.stdout and " 200: " in p.stdout, p.stdout
    assert "(201)" not in p.stdout  # the count is in the report, the model is built as asked
    print("labels ok")


def blob_rows(n, seed, string_labels=True):
    rnd = random.Random(seed)
    rows = []
    names = ["cat", "dog", "eel"]
    for _ in range(n):
        k = rnd.randrange(3)
        x = [rnd.gauss(3 * k, 1.0), rnd.gauss(-2 * k, 1.0) * 100, 7.0, rnd.gauss(0, 1)]
        rows.append(x + [names[k] if string_labels else k])
    return rows


def write_csv(name, header, rows):
    with open(path(name), "w") as f:
        if header:
            f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
    return path(name)


def test_csv():
    hdr = ["a", "b", "const", "noise", "animal"]
    write_csv("train.csv", hdr, blob_rows(400, 4))
    write_csv("test.csv", hdr, blob_rows(100, 5))
    ck = path("csv.safetensors")
    p = run("--data", path("train.csv"), "--test", path("test.csv"), "--net", "fc16-relu-fc", "--epochs", "8",
            "--batch", "32", "--optim", "adam", "--lr", "0.01", "--checkpoint", ck, "--val-split", "0.2")
    assert "classes: 3" in p.stdout and "cat:" in p.stdout and "eel:" in p.stdout, p.stdout
    assert "validation: 80 samples" in p.stdout, p.stdout
    acc = float(p.stdout.split("final: test accuracy ")[1].split("%")[0])
    assert acc > 90, p.stdout
    m = meta_of(ck)
    assert m["data.class_names"].split("\n") == ["cat", "dog", "eel"], m
    assert len(m["data.mean"].split(",")) == 4
    # --resume rebuilds the network from the spec in the checkpoint, without --net.
    r = run("--resume", ck, "--data", path("train.csv"), "--test", path("test.csv"), "--epochs", "9",
            "--val-split", "0.2", "--checkpoint", path("csv9.safetensors"))
    assert "fc16-relu-fc" in r.stdout and "resuming from" in r.stdout and "epoch 9/9" in r.stdout, r.stdout
    assert meta_of(path("csv9.safetensors"))["data.mean"] == m["data.mean"]
    e = run("eval", "--checkpoint", ck, "--data", path("test.csv"))
    assert "precision" in e.stdout and "recall" in e.stdout and "F1" in e.stdout, e.stdout
    cm = e.stdout.split("confusion matrix")[1].splitlines()[2:5]
    assert [r.split()[0] for r in cm] == ["cat", "dog", "eel"], cm
    assert sum(int(v) for r in cm for v in r.split()[1:]) == 100, cm
    assert ("accuracy %.2f%%" % acc) in e.stdout, (acc, e.stdout)
    # predict, with and without the target column
    run("predict", "--checkpoint", ck, "--data", path("test.csv"), "--out", path("pred.csv"))
    lines = open(path("pred.csv")).read().splitlines()
    assert lines[0] == "row,predicted,true,p_cat,p_dog,p_eel", lines[0]
    assert len(lines) == 101
    agree = sum(l.split(",")[1] == l.split(",")[2] for l in lines[1:])
    assert abs(agree - acc) < 1e-6, (agree, acc)
    assert all(abs(sum(float(v) for v in l.split(",")[3:]) - 1) < 1e-3 for l in lines[1:])
    write_csv("nolabel.csv", hdr[:4], [r[:4] for r in blob_rows(10, 6)])
    run("predict", "--checkpoint", ck, "--data", path("nolabel.csv"), "--out", path("pred2.csv"))
    assert open(path("pred2.csv")).readline().strip() == "row,predicted,p_cat,p_dog,p_eel"
    # inspect: the report, constant column and duplicates
    rows = blob_rows(50, 7)
    rows.append(list(rows[0]))
    write_csv("dup.csv", hdr, rows)
    p = run("inspect", "--data", path("dup.csv"))
    assert "constant columns: 1 (2)" in p.stdout and "duplicate samples: 1" in p.stdout, p.stdout
    # broken files: errors naming line and column
    bad = blob_rows(20, 8)
    bad[4][1] = ""
    bad[6][3] = "inf"
    bad[9][0] = "x1"
    write_csv("bad.csv", hdr, bad)
    p = run("--data", path("bad.csv"), "--net", "fc4-fc", "--epochs", "1", "--checkpoint", "", expect=1)
    assert "line 6 (row 4), column 1 'b': a missing value" in p.stderr, p.stderr
    assert "3 in all" in p.stderr or "1 missing, 1 non-finite and 1 non-numeric" in p.stderr, p.stderr
    p = run("inspect", "--data", path("bad.csv"), expect=1)
    assert "column 1 'b': 1 missing" in p.stdout and "column 3 'noise': 0 missing, 1 non-finite" in p.stdout, p.stdout
    assert "column 0 'a': 0 missing, 0 non-finite, 1 non-numeric (the first on line 11: 'x1')" in p.stdout, p.stdout
    with open(path("ragged.csv"), "w") as f:
        f.write("a,b,c\n1,2,0\n3,4\n")
    p = run("--data", path("ragged.csv"), "--epochs", "1", "--checkpoint", "", expect=1)
    assert "line 3 has 2 fields but line 1 has 3" in p.stderr, p.stderr
    p = run("--data", path("train.csv"), "--target", "nope", "--epochs", "1", "--checkpoint", "", expect=1)
    assert "no column 'nope'" in p.stderr, p.stderr
    with open(path("frac.csv"), "w") as f:
        f.write("x,y\n1,0\n2,1.5\n3,1\n4,0\n5,1\n")
    p = run("--data", path("frac.csv"), "--net", "fc", "--epochs", "1", "--checkpoint", "", expect=1)
    assert "--task regress" in p.stderr, p.stderr
    print("csv ok")


def test_regression_and_series():
    rnd = random.Random(9)
    rows = []
    for _ in range(300):
        a, b = rnd.uniform(-1, 1), rnd.uniform(-1, 1)
        rows.append([a, b, 1000 + 300 * a - 200 * b + rnd.gauss(0, 5)])
    write_csv("reg.csv", ["a", "b", "y"], rows)
    ck = path("reg.safetensors")
    p = run("--data", path("reg.csv"), "--task", "regress", "--target", "y", "--net", "fc16-tanh-fc", "--epochs", "30",
            "--batch", "16", "--optim", "adam", "--lr", "0.01", "--checkpoint", ck)
    assert "regression" in p.stdout and "test RMSE" in p.stdout, p.stdout
    rmse = float(p.stdout.split("final: test RMSE ")[1].split(",")[0])
    assert rmse < 60, p.stdout  # the target's std is ~210
    e = run("eval", "--checkpoint", ck, "--data", path("reg.csv"))
    assert "RMSE" in e.stdout and "MAE" in e.stdout and "R^2" in e.stdout, e.stdout
    r2 = float(e.stdout.split("R^2 ")[1].split()[0])
    assert r2 > 0.9, e.stdout
    run("predict", "--checkpoint", ck, "--data", path("reg.csv"), "--out", path("rp.csv"))
    lines = open(path("rp.csv")).read().splitlines()
    assert lines[0] == "row,predicted,true"
    pred, true = [float(x) for x in lines[1].split(",")[1:]]
    assert abs(true - rows[0][2]) < 1e-3 and abs(pred - true) < 200, lines[1]
    # A series: sin with a slow trend, 2 steps ahead from 20.
    with open(path("series.csv"), "w") as f:
        f.write("t,v\n")
        for i in range(600):
            f.write("%d,%.5f\n" % (i, math.sin(i * 0.2) + i * 0.001))
    ck = path("ser.safetensors")
    p = run("--data", path("series.csv"), "--window", "20", "--horizon", "2", "--features", "v", "--target", "v",
            "--net", "gru16-fc", "--epochs", "6", "--batch", "16", "--lr", "0.01", "--checkpoint", ck, "--print-net")
    assert "(20, 1)" in p.stdout and "gru16 (last)" in p.stdout and "targets: the next 2 values" in p.stdout, p.stdout
    rmse = float(p.stdout.split("final: test RMSE ")[1].split(",")[0])
    assert rmse < 0.3, p.stdout
    # --resume needs only the data: window, horizon, columns and network come from the file.
    r = run("--resume", ck, "--data", path("series.csv"), "--epochs", "7", "--checkpoint", "")
    assert "resuming from" in r.stdout and "epoch 7/7" in r.stdout and "(20, 1)" in r.stdout, r.stdout
    with open(path("short.csv"), "w") as f:
        f.write("v\n" + "".join("%d\n" % i for i in range(15)))
    p = run("--data", path("short.csv"), "--window", "20", "--net", "lstm4-fc", "--checkpoint", "", expect=1)
    assert "make no window of 20 steps" in p.stderr, p.stderr
    run("predict", "--checkpoint", ck, "--data", path("series.csv"), "--out", path("sp.csv"))
    lines = open(path("sp.csv")).read().splitlines()
    assert lines[0] == "row,predicted_1,predicted_2,true_1,true_2", lines[0]
    assert len(lines) == 1 + 600 - 20 - 2 + 1 and lines[1].startswith("19,"), (len(lines), lines[1])
    t1 = float(lines[1].split(",")[3])
    assert abs(t1 - (math.sin(20 * 0.2) + 0.02)) < 1e-4, lines[1]
    print("regression and series ok")


def test_early_stop_and_options():
    # No signal at all (random labels) and a high learning rate: validation loss rises.
    rnd = random.Random(11)
    rows = [[rnd.gauss(0, 1) for _ in range(6)] + [rnd.randrange(2)] for _ in range(200)]
    write_csv("noise.csv", ["a", "b", "c", "d", "e", "f", "y"], rows)
    ck = path("es.safetensors")
    p = run("--data", path("noise.csv"), "--net", "fc64-relu-fc64-relu-fc", "--optim", "adam", "--lr", "0.01",
            "--epochs", "40", "--batch", "8", "--val-split", "0.3", "--early-stop", "2", "--checkpoint", ck,
            "--log", path("es.csv"), "--lr-schedule", "warmup:5,step:5:0.5", "--clip-grad-norm", "1")
    assert "early stop: no validation improvement for 2 epochs" in p.stdout, p.stdout
    epochs = len(open(path("es.csv")).read().splitlines()) - 1
    assert epochs < 40, epochs
    best = int(p.stdout.split("the best was epoch ")[1].split()[0])
    assert best == epochs - 2, (best, epochs)
    assert os.path.exists(path("es.best.safetensors")) and os.path.exists(ck)
    mb, ml = meta_of(path("es.best.safetensors")), meta_of(ck)
    assert mb["clgrad.epoch"] == str(best) and ml["clgrad.epoch"] == str(epochs), (mb["clgrad.epoch"], epochs)
    run("--data", path("noise.csv"), "--net", "fc", "--early-stop", "2", "--checkpoint", "", expect=2)
    run("--data", path("noise.csv"), "--net", "fc", "--lr-schedule", "sometimes", "--checkpoint", "", expect=2)
    run("--data", path("noise.csv"), "--net", "fc", "--augment", "flip", "--checkpoint", "", expect=2)
    run("--data", path("noise.csv"), "--net", "fc", "--val-split", "1.5", "--checkpoint", "", expect=2)
    print("early stop and options ok")


def main():
    global EXE, TMP
    EXE = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="clgrad-train-data-")
    test_specs()
    test_idx_images()
    test_labels()
    test_csv()
    test_regression_and_series()
    test_early_stop_and_options()
    for name in os.listdir(TMP):
        os.unlink(os.path.join(TMP, name))
    os.rmdir(TMP)
    return 0


if __name__ == "__main__":
    sys.exit(main())
