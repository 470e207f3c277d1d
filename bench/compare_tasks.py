#!/usr/bin/env python3
"""Accuracy of clgrad-train against PyTorch on the README's three runs beyond
Fashion-MNIST: the same data, split, normalisation, network, optimizer, learning-rate
schedule, batch size and number of epochs, over several seeds (the seeds draw each side's
initial weights and data order; the two libraries' random streams differ, so single runs
are compared through the mean over seeds).

  cnn-digits   a CNN from a --net spec on scikit-learn's 8x8 digits as IDX images
  mlp-cancer   an MLP on scikit-learn's breast cancer table (CSV with string labels)
  lstm-co2     an LSTM forecaster of next week's change of the Mauna Loa CO2 level from
               the last 52 weekly changes (CSV series)

Classification compares test accuracy (agreement wanted within 1.5 percentage points),
regression the test RMSE in ppm (within 10 %). Make the data first with
bench/make_datasets.py. PyTorch runs with torch.set_num_threads(1).

Usage (from the repository root, with clgrad built in build/):
  /usr/bin/python3 bench/make_datasets.py build/bench-data
  /usr/bin/python3 bench/compare_tasks.py [--data build/bench-data] [--seeds 5] [--task NAME]
                                          [--clgrad-train PATH] [--json FILE]
Needs numpy and torch (Debian: python3-numpy, python3-torch).
"""

import argparse
import csv
import json
import math
import os
import struct
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TASKS = {
    "cnn-digits": dict(kind="idx", data="digits", net="conv16k3p1-relu-conv32k3p1-relu-maxpool2-flatten-fc64-relu-fc",
                       optim="adam", lr=1e-3, batch=32, epochs=15),
    "mlp-cancer": dict(kind="csv", data="breast_cancer_train.csv", test="breast_cancer_test.csv", target="diagnosis",
                       net="fc32-relu-fc", optim="adam", lr=1e-3, batch=32, epochs=30),
    "lstm-co2": dict(kind="series", data="co2_weekly.csv", window=52, horizon=1, features="change", target="change",
                     net="lstm32-fc", optim="adam", lr=3e-3, batch=32, epochs=30, schedule="cosine",
                     test_split=0.2),
}


def clgrad_args(t, data):
    a = ["--net", t["net"], "--optim", t["optim"], "--lr", str(t["lr"]), "--batch", str(t["batch"]), "--epochs",
         str(t["epochs"]), "--data", os.path.join(data, t["data"])]
    if "test" in t:
        a += ["--test", os.path.join(data, t["test"])]
    if "target" in t:
        a += ["--target", t["target"]]
    if t["kind"] == "series":
        a += ["--window", str(t["window"]), "--horizon", str(t["horizon"]), "--features", t["features"],
              "--test-split", str(t["test_split"])]
    if "schedule" in t:
        a += ["--lr-schedule", t["schedule"]]
    return a


def run_clgrad(exe, t, data, seed):
    cmd = [exe] + clgrad_args(t, data) + ["--seed", str(seed), "--checkpoint", "", "--quiet"]
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("clgrad-train failed: %s\n%s" % (" ".join(cmd), p.stderr))
    line = [l for l in p.stdout.splitlines() if l.startswith("final:")][0]
    if t["kind"] == "series":
        value = float(line.split("test RMSE ")[1].split(",")[0])
    else:
        value = float(line.split("test accuracy ")[1].split("%")[0])
    return value, time.time() - t0, " ".join(cmd)


# --- the same data in numpy -------------------------------------------------------------------

def read_idx(path):
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [struct.unpack(">I", data[4 + 4 * i:8 + 4 * i])[0] for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_idx(t, data):
    import numpy as np
    d = os.path.join(data, t["data"])
    xtr = read_idx(os.path.join(d, "train-images-idx3-ubyte")).astype(np.float64) / 255.0
    xte = read_idx(os.path.join(d, "t10k-images-idx3-ubyte")).astype(np.float64) / 255.0
    ytr = read_idx(os.path.join(d, "train-labels-idx1-ubyte")).astype(np.int64)
    yte = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte")).astype(np.int64)
    # One channel: the mean and population std of the training pixels, rounded to 4 decimals
    # as clgrad-train rounds image statistics.
    m, s = round(float(xtr.mean()), 4), round(float(xtr.std()), 4)
    f = lambda x: ((x - m) / s).astype(np.float32)[:, None, :, :]
    return f(xtr), ytr, f(xte), yte


def load_csv(t, data):
    import numpy as np

    def read(name):
        with open(os.path.join(data, name)) as fh:
            rows = list(csv.reader(fh))
        hdr, rows = rows[0], rows[1:]
        ti = hdr.index(t["target"])
        x = np.array([[float(v) for j, v in enumerate(r) if j != ti] for r in rows], dtype=np.float32)
        return x, [r[ti] for r in rows]

    xtr, ltr = read(t["data"])
    xte, lte = read(t["test"])
    names = sorted(set(ltr))  # string labels: classes in sorted order, as clgrad-train maps them
    ytr = np.array([names.index(v) for v in ltr])
    yte = np.array([names.index(v) for v in lte])
    mean = xtr.astype(np.float64).mean(0)
    std = xtr.astype(np.float64).std(0)
    std[std <= 1e-12] = 1
    m, s = mean.astype(np.float32), std.astype(np.float32)
    return (xtr - m) / s, ytr, (xte - m) / s, yte


def load_series(t, data):
    import numpy as np
    with open(os.path.join(data, t["data"])) as fh:
        v = np.array([float(r[t["target"]]) for r in csv.DictReader(fh)], dtype=np.float32)
    w, h = t["window"], t["horizon"]
    n = len(v) - w - h + 1
    x = np.stack([v[i:i + w] for i in range(n)])[:, :, None]
    y = np.stack([v[i + w:i + w + h] for i in range(n)])
    k = int(round(t["test_split"] * n))
    n_train = n - k - (w + h - 1)  # no training window overlaps the test windows
    xtr, ytr, xte, yte = x[:n_train], y[:n_train], x[n - k:], y[n - k:]
    m, s = float(xtr.astype(np.float64).mean()), float(xtr.astype(np.float64).std())
    tm, ts = float(ytr.astype(np.float64).mean()), float(ytr.astype(np.float64).std())
    f = lambda a: ((a - np.float32(m)) / np.float32(s)).astype(np.float32)
    return f(xtr), ((ytr - tm) / ts).astype(np.float32), f(xte), yte, (tm, ts)


def run_torch(t, data, seed):
    import numpy as np
    import torch
    import torch.nn as nn
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    scale = None
    if t["kind"] == "idx":
        xtr, ytr, xte, yte = load_idx(t, data)
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))
    elif t["kind"] == "csv":
        xtr, ytr, xte, yte = load_csv(t, data)
        model = nn.Sequential(nn.Linear(xtr.shape[1], 32), nn.ReLU(), nn.Linear(32, int(ytr.max()) + 1))
    else:
        xtr, ytr, xte, yte, scale = load_series(t, data)

        class Forecaster(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(1, 32, batch_first=True)
                self.fc = nn.Linear(32, t["horizon"])

            def forward(self, x):
                _, (h, _) = self.lstm(x)
                return self.fc(h[-1])

        model = Forecaster()
    xtr_t, xte_t = torch.from_numpy(np.ascontiguousarray(xtr)), torch.from_numpy(np.ascontiguousarray(xte))
    ytr_t = torch.from_numpy(ytr)
    opt = torch.optim.Adam(model.parameters(), lr=t["lr"])
    n, bs = len(xtr_t), t["batch"]
    nb = (n + bs - 1) // bs
    total, step = t["epochs"] * nb, 0
    for _ in range(t["epochs"]):
        model.train()
        perm = torch.randperm(n, generator=g)
        for b in range(nb):
            idx = perm[b * bs:(b + 1) * bs]
            if t.get("schedule") == "cosine":
                for group in opt.param_groups:
                    group["lr"] = t["lr"] * (1 + math.cos(math.pi * step / total)) / 2
            out = model(xtr_t[idx])
            loss = nn.functional.mse_loss(out, ytr_t[idx]) if scale else nn.functional.cross_entropy(out, ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
    model.eval()
    with torch.no_grad():
        out = model(xte_t).numpy()
    if scale:
        pred = out * scale[1] + scale[0]
        value = float(np.sqrt(np.mean((pred - yte) ** 2)))
    else:
        value = 100.0 * float((out.argmax(1) == yte).mean())
    return value, time.time() - t0


def persistence_rmse(t, data):
    """The naive forecast (no change: next week = this week) on the same test windows."""
    import numpy as np
    _, _, _, yte, _ = load_series(t, data)
    return float(np.sqrt(np.mean(yte.astype(np.float64) ** 2)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(REPO, "build", "bench-data"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--task", choices=sorted(TASKS), action="append")
    ap.add_argument("--clgrad-train", default=os.path.join(REPO, "build", "tools", "train", "clgrad-train"))
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    print("| run | metric | clgrad-train, mean over %d seeds (min .. max) | PyTorch 1.13 (min .. max) | difference | "
          "agreement |" % a.seeds)
    print("|---|---|---|---|---|---|")
    for name in a.task or list(TASKS):
        t = TASKS[name]
        cl, pt, cmd = [], [], ""
        for seed in range(1, a.seeds + 1):
            v, _, cmd = run_clgrad(a.clgrad_train, t, a.data, seed)
            cl.append(v)
            pt.append(run_torch(t, a.data, seed)[0])
        mc, mp = sum(cl) / len(cl), sum(pt) / len(pt)
        if t["kind"] == "series":
            metric, diff = "test RMSE (ppm)", "%+.1f %%" % (100 * (mc - mp) / mp)
            ok = abs(mc - mp) <= 0.10 * mp
            fmt = "%.3f"
        else:
            metric, diff = "test accuracy (%)", "%+.2f pp" % (mc - mp)
            ok = abs(mc - mp) <= 1.5
            fmt = "%.2f"
        cell = lambda v: (fmt + " (" + fmt + " .. " + fmt + ")") % (sum(v) / len(v), min(v), max(v))
        print("| %s | %s | %s | %s | %s | %s |" % (name, metric, cell(cl), cell(pt), diff,
                                                   "within" if ok else "OUTSIDE"))
        sys.stdout.flush()
        row = dict(task=name, metric=metric, clgrad=cl, torch=pt, clgrad_mean=mc, torch_mean=mp, within=ok,
                   command=cmd.replace(" --seed %d" % a.seeds, " --seed S"))
        if t["kind"] == "series":
            row["persistence_rmse"] = persistence_rmse(t, a.data)
        rows.append(row)
    for r in rows:
        if "persistence_rmse" in r:
            print("(%s: the naive forecast, next week = this week, has a test RMSE of %.3f ppm)" %
                  (r["task"], r["persistence_rmse"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(r["within"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
