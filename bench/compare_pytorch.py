#!/usr/bin/env python3
"""Training speed of clgrad against PyTorch on the same network, batch and data.

Trains the Fashion-MNIST CNN (and with --model lstm or both, the row-by-row LSTM) for one
epoch, or for --batches N batches in quick mode, three ways in this one run:

  * PyTorch with torch.set_num_threads(T) and its default BLAS threading,
  * PyTorch with torch.set_num_threads(T) and OPENBLAS_NUM_THREADS=1 (set in a fresh
    subprocess, before torch is imported, since OpenBLAS reads it once),
  * clgrad-train on the chosen OpenCL device,

and prints a markdown table (and, with --json FILE, the same numbers as JSON) with the
training time, samples per second and clgrad's time as a multiple of the faster PyTorch
run. With --repeat R each configuration runs R times, interleaved, and the fastest counts
(the machine's load then hits all of them alike). Only training is timed (forward, loss, backward, optimizer step and reading the loss
every step, as clgrad-train does); data loading and evaluation are not. clgrad-train is run
once with two batches first so that kernel compilation and one-time GEMM measurements are
cached and not counted.

Networks (as in clgrad-train):
  cnn:  conv(1->32, 3x3, pad 1)-ReLU-maxpool2-conv(32->64, 3x3, pad 1)-ReLU-maxpool2-
        linear(3136->128)-ReLU-linear(128->10); SGD momentum 0.9, lr 0.01
  lstm: LSTM over the 28 rows of an image (input 28, hidden 128, one layer), linear(128->10)
        on the last hidden state; Adam lr 1e-3

Usage (from the repository root, after building into build/):
  /usr/bin/python3 bench/compare_pytorch.py                     # CNN, one full epoch
  /usr/bin/python3 bench/compare_pytorch.py --batches 100       # quick mode
  /usr/bin/python3 bench/compare_pytorch.py --model both --json results.json
  /usr/bin/python3 bench/compare_pytorch.py --worker ...        # internal: one PyTorch run

Needs numpy and torch (Debian: python3-numpy, python3-torch).
"""

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

MEAN, STD = 0.2860, 0.3530
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_idx(data_dir, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    sys.exit("compare_pytorch: %s[.gz] not found in %s" % (stem, data_dir))


def torch_worker(args):
    """One PyTorch training run; prints one JSON line with the timing."""
    import numpy as np
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x = read_idx(find_idx(args.data, "train-images-idx3-ubyte")).astype(np.float32)
    y = read_idx(find_idx(args.data, "train-labels-idx1-ubyte")).astype(np.int64)
    x = torch.from_numpy((x / 255.0 - MEAN) / STD)
    y = torch.from_numpy(y)

    if args.model == "cnn":
        net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
        x = x.reshape(-1, 1, 28, 28)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    else:
        class RowLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(28, 128, batch_first=True)
                self.fc = nn.Linear(128, 10)

            def forward(self, v):
                out, _ = self.lstm(v)
                return self.fc(out[:, -1])
        net = RowLSTM()
        x = x.reshape(-1, 28, 28)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    n = x.shape[0]
    order = torch.randperm(n)
    n_batches = (n + args.batch - 1) // args.batch
    if args.batches > 0:
        n_batches = min(n_batches, args.batches)
    batches = [order[i * args.batch:(i + 1) * args.batch] for i in range(n_batches)]
    net.train()
    t0 = time.perf_counter()
    samples = 0
    loss_sum = 0.0
    for idx in batches:
        xb, yb = x[idx], y[idx]
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        loss_sum += loss.item()
        samples += len(idx)
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "samples": samples, "batches": n_batches,
                      "loss": loss_sum / max(n_batches, 1),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


def run_torch(args, model, openblas_one):
    env = dict(os.environ)
    if openblas_one:
        env["OPENBLAS_NUM_THREADS"] = "1"
    else:
        env.pop("OPENBLAS_NUM_THREADS", None)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--model", model,
           "--data", args.data, "--batch", str(args.batch), "--batches", str(args.batches),
           "--threads", str(args.threads), "--seed", str(args.seed)]
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["command"] = ("OPENBLAS_NUM_THREADS=1 " if openblas_one else "") + " ".join(cmd[1:])
    return r


def find_train_binary(explicit):
    if explicit:
        return explicit
    for d in ("build", "builddir", "_build"):
        p = os.path.join(REPO, d, "tools", "train", "clgrad-train")
        if os.path.exists(p):
            return p
    p = shutil.which("clgrad-train")
    if p:
        return p
    sys.exit("compare_pytorch: clgrad-train not found; build it or pass --clgrad-train PATH")


def run_clgrad(args, model):
    binary = find_train_binary(args.clgrad_train)
    optim, lr = ("sgd", "0.01") if model == "cnn" else ("adam", "0.001")
    base = [binary, "--data", args.data, "--model", model, "--optim", optim, "--lr", lr,
            "--batch", str(args.batch), "--epochs", "1", "--seed", str(args.seed),
            "--checkpoint", "", "--quiet"]
    if args.device:
        base += ["--device", args.device]
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up: compiles (or loads from the cache) every kernel and settles the GEMM choice.
        subprocess.run(base + ["--limit-batches", "2"], check=True, stdout=subprocess.DEVNULL)
        log = os.path.join(tmp, "log.jsonl")
        cmd = base + ["--log", log]
        if args.batches > 0:
            cmd += ["--limit-batches", str(args.batches)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(log) as f:
            row = json.loads(f.read().strip().splitlines()[-1])
    seconds = row["epoch_seconds"]
    samples = row["samples_per_s"] * seconds
    return {"seconds": seconds, "samples": int(round(samples)), "loss": row["train_loss"],
            "command": " ".join(cmd[1:]).replace(log, "LOG.jsonl")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["cnn", "lstm", "both"], default="cnn")
    ap.add_argument("--data", default=os.environ.get("CLGRAD_FASHION_MNIST_DIR",
                                                     "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=0, help="train N batches only (0: one epoch)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each configuration; the fastest counts")
    ap.add_argument("--device", default=None, help="clgrad device selector (default: the tool's)")
    ap.add_argument("--clgrad-train", default=None, help="path of the clgrad-train binary")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        torch_worker(args)
        return

    models = ["cnn", "lstm"] if args.model == "both" else [args.model]
    results = []
    for model in models:
        # Each configuration args.repeat times, interleaved so that a change in the machine's
        # load hits all three alike; the fastest run of each counts.
        runs = {0: [], 1: [], 2: []}
        for _ in range(args.repeat):
            runs[0].append(run_torch(args, model, False))
            runs[1].append(run_torch(args, model, True))
            runs[2].append(run_clgrad(args, model))
        best_of = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
        rows = [("pytorch", "default BLAS threads", best_of[0]),
                ("pytorch", "OPENBLAS_NUM_THREADS=1", best_of[1]),
                ("clgrad", args.device or "default device", best_of[2])]
        best = min(r["seconds"] for name, _, r in rows if name == "pytorch")
        for name, cfg, r in rows:
            results.append({"model": model, "impl": name, "config": cfg, "seconds": r["seconds"],
                            "samples": r["samples"], "samples_per_s": r["samples"] / r["seconds"],
                            "ratio_to_best_pytorch": r["seconds"] / best,
                            "train_loss": r.get("loss"), "command": r["command"]})

    what = "one epoch" if args.batches <= 0 else "%d batches" % args.batches
    print("Training time, %s, batch %d, torch threads %d, best of %d:\n" % (what, args.batch, args.threads,
                                                                         args.repeat))
    print("| model | implementation | configuration | seconds | samples/s | x best PyTorch |")
    print("|---|---|---|---:|---:|---:|")
    for r in results:
        print("| %s | %s | %s | %.2f | %.0f | %.2f |" % (r["model"], r["impl"], r["config"],
              r["seconds"], r["samples_per_s"], r["ratio_to_best_pytorch"]))
    print()
    for r in results:
        print("%s %s (%s): %s" % (r["model"], r["impl"], r["config"], r["command"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
