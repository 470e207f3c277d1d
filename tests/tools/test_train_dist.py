#!/usr/bin/env python3
"""clgrad-train on several ranks, on a few batches of the real Fashion-MNIST.

Mode "local": two PoCL CPU devices in one process (POCL_DEVICES="pthread pthread"),
`clgrad-train --devices 0,1`. Mode "mpi": two processes under
`mpirun --allow-run-as-root --oversubscribe -np 2` (root needs the first flag, two ranks on
a small machine the second).

  1. Equivalence: 20 steps at global batch 64 on two ranks (32 each) give the weights of 20
     steps at batch 64 on one device, within 1e-5 relative (the largest difference of each
     parameter tensor over its largest value), for the CNN (SGD) and the LSTM (Adam); the
     printed per-step losses (rank 0's, the mean over the ranks) agree too. The output
     comes from rank 0 only: one loss line per step, one final line, one log row per epoch.
  2. A batch that does not split over the ranks is a usage error naming both numbers.
  3. The checkpoint records the world size, and resuming with another one continues the
     run exactly (the global batch and its order do not depend on it): one device for 10
     steps, then two ranks for 10 more, equals one device for 20.
  4. A rank that fails in the middle of training (a corrupt batch, CLGRAD_TRAIN_FAULT)
     makes every rank stop within seconds with a non-zero exit status, the message naming
     the failing rank and its cause. Under MPI, a rank that cannot start (its --devices entry
     names no device) stops every rank too, and so do ranks that read the data differently;
     in one process a --devices entry that names no device is refused at once.

Usage: test_train_dist.py PATH-TO-clgrad-train local|mpi [PATH-TO-mpirun]. Exits 77
(skipped) without the dataset, two devices, mpirun or MPI support. Standard library only.
"""

import array
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
TOL = 1e-5


def load_safetensors(path):
    """The F32 tensors of a safetensors file, and its metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, v in header.items():
        if name == "__metadata__" or v["dtype"] != "F32":
            continue
        a = array.array("f")
        s, e = v["data_offsets"]
        a.frombytes(data[base + s:base + e])
        out[name] = a
    return out, header.get("__metadata__", {})


def max_rel_diff(a, b, params_only=True):
    """Over the tensors of b: max |a - b| / max |b|, the largest of them, and its name."""
    worst, which = 0.0, None
    assert set(a) == set(b), (sorted(a), sorted(b))
    for name in b:
        if params_only and name.startswith("optim."):
            continue
        x, y = a[name], b[name]
        assert len(x) == len(y), name
        scale = max(abs(v) for v in y) or 1.0
        d = max(abs(p - q) for p, q in zip(x, y)) / scale
        if d > worst or which is None:
            worst, which = d, name
    return worst, which


def losses(text):
    out = {}
    for line in text.splitlines():
        # under mpirun, stdout may be a terminal (a progress bar, cleared with ESC [K)
        line = line.split("\x1b[K")[-1].split("\r")[-1]
        if line.startswith("step "):
            _, step, _, value = line.split()
            assert int(step) not in out, "step %s printed twice (only rank 0 prints):\n%s" % (step, text)
            out[int(step)] = float(value)
    return out


def main():
    exe = os.path.abspath(sys.argv[1])
    mode = sys.argv[2]
    mpirun = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else shutil.which("mpirun")
    data = os.environ.get("CLGRAD_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    if not any(os.path.exists(os.path.join(data, "train-images-idx3-ubyte" + ext)) for ext in ("", ".gz")):
        print("skipped: no Fashion-MNIST in", data)
        return SKIP
    env = dict(os.environ)
    env["POCL_DEVICES"] = "pthread pthread"  # PoCL shows two CPU devices; others ignore it
    env.pop("CLGRAD_TRAIN_FAULT", None)
    tmp = tempfile.mkdtemp(prefix="clgrad-train-dist-")
    base = [exe, "--data", data]

    if mode == "mpi":
        if not mpirun:
            print("skipped: no mpirun")
            return SKIP
        launch = [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2"]
        probe = subprocess.run([exe, "--dist", "mpi", "--data", data, "--epochs", "0", "--checkpoint", ""],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
        if "built without MPI" in probe.stderr:
            print("skipped: clgrad was built without MPI")
            return SKIP
    else:
        launch = []

    def run(args, expect=0, ranks=2, extra_env=None, timeout=300, prefix=None):
        cmd = (prefix if prefix is not None else (launch if ranks == 2 else [])) + base + list(args)
        if ranks == 2 and mode == "local" and prefix is None:
            cmd += ["--devices", "0,1"]
        e = dict(env)
        if extra_env:
            e.update(extra_env)
        t0 = time.time()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, timeout=timeout)
        p.seconds = time.time() - t0
        if p.returncode != 0 and ("cannot open the device" in p.stderr or "there is no device 1" in p.stderr):
            print("skipped: two OpenCL devices are needed:", p.stderr.strip())
            sys.exit(SKIP)
        if expect is not None:
            ok = p.returncode == expect if expect >= 0 else p.returncode != 0
            assert ok, "exit %d (want %s) for %s\nstdout:\n%s\nstderr:\n%s" % (
                p.returncode, expect if expect >= 0 else "non-zero", " ".join(cmd), p.stdout, p.stderr)
        return p

    # 1. Equivalence, CNN and LSTM.
    for model in ("cnn", "lstm"):
        one_ck = os.path.join(tmp, model + "-1.safetensors")
        two_ck = os.path.join(tmp, model + "-2.safetensors")
        log = os.path.join(tmp, model + "-2.csv")
        common = ["--model", model, "--epochs", "1", "--limit-batches", "20", "--batch", "64", "--print-losses"]
        p1 = run(common + ["--checkpoint", one_ck], ranks=1)
        p2 = run(common + ["--checkpoint", two_ck, "--log", log])
        a, meta2 = load_safetensors(two_ck)
        b, meta1 = load_safetensors(one_ck)
        assert meta2.get("train.world_size") == "2" and meta1.get("train.world_size") == "1", (meta1, meta2)
        worst, which = max_rel_diff(a, b)
        worst_all, which_all = max_rel_diff(a, b, params_only=False)
        print("%s: 2 ranks x 32 against 1 x 64 after 20 steps: max relative difference %.3g (%s); with the "
              "optimizer state %.3g (%s); %.1f s against %.1f s" % (model, worst, which, worst_all, which_all,
                                                                   p2.seconds, p1.seconds))
        assert worst <= TOL, "%s: the weights differ by %.3g (%s)" % (model, worst, which)
        l1, l2 = losses(p1.stdout), losses(p2.stdout)
        assert sorted(l1) == list(range(1, 21)) and sorted(l2) == sorted(l1), (p1.stdout, p2.stdout)
        for k in l1:
            assert abs(l1[k] - l2[k]) <= TOL * abs(l1[k]), "step %d loss %g against %g" % (k, l2[k], l1[k])
        assert p2.stdout.count("final:") == 1, p2.stdout
        assert "data parallel: 2" in p2.stdout and "global batch 64 = 2 x 32" in p2.stdout, p2.stdout
        rows = open(log).read().splitlines()
        assert len(rows) == 2 and rows[1].startswith("1,20,"), rows

    # 2. A global batch that does not split.
    p = run(["--batch", "63", "--epochs", "1", "--limit-batches", "2", "--checkpoint", ""], expect=-1)
    assert "--batch 63" in p.stderr and "2 ranks" in p.stderr, p.stderr
    if mode == "local":
        assert p.returncode == 2, p.returncode
    print("batch 63 on 2 ranks: refused (%s)" % p.stderr.strip().splitlines()[0])

    # 3. Resume with another world size: 10 steps on one rank, 10 on two (local) or the
    # other way round (mpi), against 20 on one.
    full = os.path.join(tmp, "full.safetensors")
    half = os.path.join(tmp, "half.safetensors")
    common = ["--epochs", "2", "--limit-batches", "10", "--batch", "64", "--quiet"]
    run(common + ["--checkpoint", full], ranks=1)
    first, second = (1, 2) if mode == "local" else (2, 1)
    run(["--epochs", "1", "--limit-batches", "10", "--batch", "64", "--quiet", "--checkpoint", half], ranks=first)
    assert load_safetensors(half)[1].get("train.world_size") == str(first)
    p = run(["--epochs", "2", "--limit-batches", "10", "--resume", half], ranks=second)
    assert "note: %s was written by %d rank" % (half, first) in p.stdout, p.stdout
    worst, which = max_rel_diff(load_safetensors(half)[0], load_safetensors(full)[0])
    print("resume: %d rank(s) then %d against 1 for 20 steps: max relative difference %.3g (%s)"
          % (first, second, worst, which))
    assert worst <= TOL, (worst, which)
    assert load_safetensors(half)[1].get("train.world_size") == str(second)

    # 4. Failures. A corrupt batch on rank 1 at step 3: both ranks stop, fast, naming it.
    clean = run(["--epochs", "1", "--limit-batches", "6", "--batch", "64", "--checkpoint", ""])
    p = run(["--epochs", "1", "--limit-batches", "200", "--batch", "64", "--checkpoint", ""], expect=-1,
            extra_env={"CLGRAD_TRAIN_FAULT": "bad-batch:1:3"}, timeout=120)
    assert "rank 1 of 2 failed" in p.stderr and "CLGRAD_ERR_SHAPE" in p.stderr, p.stderr
    assert "rank 0 of 2" in p.stderr, "rank 0 does not report the failure:\n" + p.stderr
    assert "final:" not in p.stdout, p.stdout
    assert p.seconds < clean.seconds + 30, "the failure took %.1f s to stop the run" % p.seconds
    print("a corrupt batch on rank 1: exit %d after %.1f s (a clean 6-step run: %.1f s): %s"
          % (p.returncode, p.seconds, clean.seconds, p.stderr.strip().splitlines()[0][:160]))
    # A rank that cannot start.
    if mode == "local":
        p = subprocess.run(base + ["--devices", "0,7", "--checkpoint", ""], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env, timeout=120)
        assert p.returncode == 2 and "no device 7" in p.stderr, (p.returncode, p.stderr)
    else:
        args = ["--epochs", "1", "--limit-batches", "2", "--checkpoint", ""]
        cmd = ([mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "1"] + base + args + [":", "-np", "1"] +
               base + args + ["--devices", "7"])
        t0 = time.time()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
        took = time.time() - t0
        assert p.returncode != 0, (p.stdout, p.stderr)
        assert "no device 7" in p.stderr and "rank 1 of 2 could not start" in p.stderr, p.stderr
        assert "final:" not in p.stdout, p.stdout
        print("rank 1 without its device: exit %d after %.1f s" % (p.returncode, took))
        # Ranks that read the data differently are refused before training.
        cmd = ([mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "1"] + base + args + [":", "-np", "1"] +
               base + ["--epochs", "1", "--limit-batches", "3", "--checkpoint", ""])
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
        assert p.returncode != 0 and "the ranks differ in their steps per epoch" in p.stderr, (p.returncode, p.stderr)
        assert "final:" not in p.stdout, p.stdout
    return 0


if __name__ == "__main__":
    sys.exit(main())
