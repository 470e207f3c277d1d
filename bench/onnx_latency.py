#!/usr/bin/env python3
"""Inference latency of ONNX models in clgrad against PyTorch, in one run on one machine.

Builds the networks in PyTorch with seeded random weights, exports them with
torch.onnx.export (batch dimension open), then for each batch size times

  * PyTorch: torch.set_num_threads(T), torch.inference_mode(), the model called on a
    tensor already in memory, in a fresh process twice: with its default BLAS threading
    and with OPENBLAS_NUM_THREADS=1 (set before torch loads; Debian's PyTorch runs its
    matrix products on OpenBLAS, whose own threads otherwise compete with PyTorch's);
  * clgrad: clgrad-run --bench (the model loaded once, the input already on the device,
    each run = the forward pass plus reading the output back to the host);

and prints a markdown table of the median (p50) and p90 latencies and clgrad's median as
a multiple of the faster PyTorch configuration's. PyTorch and clgrad run one after the other, never at the same
time; with --repeat R each pair runs R times, interleaved, and the fastest median of each
counts (a machine whose load changes then hits both alike). clgrad-run --profile then
shows where clgrad's time goes, by operator. The load average before and after is printed.

Networks:
  resnet18  torchvision's resnet18 (written out when python3-torchvision is missing), 10
            classes, --res x --res RGB input (default 224)
  cnn       the README's CNN: conv(1->32, 3x3, pad 1)-ReLU-maxpool2-conv(32->64)-ReLU-
            maxpool2-flatten-linear(3136->128)-ReLU-linear(128->10), 28x28 input

Usage (from the repository root, clgrad built in build/):
  /usr/bin/python3 bench/onnx_latency.py                          # both, batch 1 and 32
  /usr/bin/python3 bench/onnx_latency.py --res 112 --runs 10 --json out.json

Needs numpy, torch and onnx (Debian: python3-numpy, python3-torch, python3-onnx).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "onnx"))


def pct(v, p):
    v = sorted(v)
    at = p / 100.0 * (len(v) - 1)
    i = int(at)
    return v[i] + (at - i) * (v[i + 1] - v[i]) if i + 1 < len(v) else v[-1]


def build(name, res):
    """The network called name with seeded weights, its input shape and a label."""
    import torch
    import torch_models  # tests/onnx/torch_models.py: the same networks as the tests
    torch.manual_seed(1)
    if name == "resnet18":
        model, origin = torch_models.resnet18()
        torch_models.randomize_bn(model, torch.Generator().manual_seed(2))
        return model.eval(), (3, res, res), "ResNet-18 (%s), %dx%d" % (origin, res, res)
    if name == "cnn":
        return torch_models.ReferenceCNN().eval(), (1, 28, 28), "reference CNN, 28x28"
    sys.exit("unknown model " + name)


def worker(name, res, batch, runs, threads):
    """In a fresh process: times the PyTorch model; prints the times (ms) as JSON."""
    import torch
    torch.set_num_threads(threads)
    model, shape, _ = build(name, res)
    x = torch.randn((batch,) + shape)
    times = []
    with torch.inference_mode():
        for r in range(runs + 3):
            t0 = time.perf_counter()
            model(x)
            t1 = time.perf_counter()
            if r >= 3:
                times.append((t1 - t0) * 1e3)
    print(json.dumps(times))


def torch_latency(name, res, batch, runs, threads, one_blas_thread):
    env = dict(os.environ)
    if one_blas_thread:
        env["OPENBLAS_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", name, str(res), str(batch),
                          str(runs), str(threads)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def clgrad_latency(run, onnx_path, x_path, runs, device):
    cmd = [run, onnx_path, "--input", x_path, "--bench", str(runs), "--json"]
    if device:
        cmd += ["--device", device]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    return json.loads(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="resnet18,cnn")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--res", type=int, default=224, help="ResNet-18 input side (default 224)")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per configuration (after 3 warm-up runs)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--device", default=None, help="clgrad device selector (default: clgrad's choice)")
    ap.add_argument("--clgrad-run", default=os.path.join(REPO, "build", "tools", "run", "clgrad-run"))
    ap.add_argument("--profile", type=int, default=3, help="clgrad-run --profile runs per model (0: none)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        n, r, b, k, t = args.worker
        worker(n, int(r), int(b), int(k), int(t))
        return

    import numpy as np
    import torch
    import torch_models

    load0 = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="clgrad-onnx-bench-") as d:
        for name in args.models.split(","):
            model, shape, label = build(name, args.res)
            onnx_path = os.path.join(d, name + ".onnx")
            torch_models.export(model, torch.randn((1,) + shape), onnx_path, 14)
            for b in (int(v) for v in args.batches.split(",")):
                x = torch.randn((b,) + shape)
                x_path = os.path.join(d, "%s_%d.npy" % (name, b))
                np.save(x_path, x.numpy())
                best_t, best_t1, best_c = None, None, None
                for _ in range(args.repeat):
                    t = torch_latency(name, args.res, b, args.runs, args.threads, False)
                    t1 = torch_latency(name, args.res, b, args.runs, args.threads, True)
                    c = clgrad_latency(args.clgrad_run, onnx_path, x_path, args.runs, args.device)
                    if best_t is None or pct(t, 50) < pct(best_t, 50):
                        best_t = t
                    if best_t1 is None or pct(t1, 50) < pct(best_t1, 50):
                        best_t1 = t1
                    if best_c is None or c["p50_ms"] < best_c["p50_ms"]:
                        best_c = c
                row = {"model": label, "batch": b,
                       "torch_p50_ms": pct(best_t, 50), "torch_p90_ms": pct(best_t, 90),
                       "torch_1blas_p50_ms": pct(best_t1, 50), "torch_1blas_p90_ms": pct(best_t1, 90),
                       "clgrad_p50_ms": best_c["p50_ms"], "clgrad_p90_ms": best_c["p90_ms"],
                       "device": best_c["device"]}
                row["ratio"] = row["clgrad_p50_ms"] / min(row["torch_p50_ms"], row["torch_1blas_p50_ms"])
                rows.append(row)
                print("%s, batch %d: PyTorch %.2f / %.2f ms, clgrad %.2f ms (%.2fx)" % (
                    label, b, row["torch_p50_ms"], row["torch_1blas_p50_ms"], row["clgrad_p50_ms"], row["ratio"]),
                    flush=True)
            if args.profile:
                x_path = os.path.join(d, "%s_%s.npy" % (name, args.batches.split(",")[-1]))
                cmd = [args.clgrad_run, onnx_path, "--input", x_path, "--profile", str(args.profile)]
                if args.device:
                    cmd += ["--device", args.device]
                out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout
                prof = out[out.index("profile over"):] if "profile over" in out else ""
                print("clgrad, %s, batch %s: where the time goes\n%s" % (label, args.batches.split(",")[-1], prof))
    load1 = os.getloadavg()
    print("\n| model | batch | PyTorch p50 / p90 (ms) | PyTorch, `OPENBLAS_NUM_THREADS=1` | clgrad p50 / p90 (ms) "
          "| clgrad / best PyTorch |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2fx |" % (
            r["model"], r["batch"], r["torch_p50_ms"], r["torch_p90_ms"], r["torch_1blas_p50_ms"],
            r["torch_1blas_p90_ms"], r["clgrad_p50_ms"], r["clgrad_p90_ms"], r["ratio"]))
    print("\nPyTorch %s, torch.set_num_threads(%d), inference_mode; clgrad on %s" % (
        torch.__version__, args.threads, rows[0]["device"] if rows else "?"))
    print("load average before %.2f %.2f %.2f, after %.2f %.2f %.2f" % (load0 + load1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "load_before": load0, "load_after": load1, "runs": args.runs,
                       "threads": args.threads, "torch": torch.__version__}, f, indent=2)


if __name__ == "__main__":
    main()
