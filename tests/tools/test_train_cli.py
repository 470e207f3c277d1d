#!/usr/bin/env python3
"""Tests of the clgrad-train command line, on a few batches of the real Fashion-MNIST.

  1. A short CNN run writes a CSV log with one row per epoch, a checkpoint, and the
     per-step losses; a second run with the same seed prints the same losses (also for the
     LSTM).
  2. Two MLP runs with the same seed print identical losses for every step, another seed
     other losses (JSON-lines log).
  3. Ctrl-C (SIGINT) in the middle of an epoch saves a checkpoint and exits with 130;
     --resume continues from it, and the remaining steps' losses and the final log rows are
     exactly those of an uninterrupted run.
  4. Bad usage exits with 2; resuming from a damaged checkpoint fails cleanly.

Usage: test_train_cli.py PATH-TO-clgrad-train. Exits 77 (skipped) when the dataset or an
OpenCL device is missing. Uses only the standard library.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


def main():
    exe = os.path.abspath(sys.argv[1])
    data = os.environ.get("CLGRAD_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    if not any(os.path.exists(os.path.join(data, "train-images-idx3-ubyte" + ext)) for ext in ("", ".gz")):
        print("skipped: no Fashion-MNIST in", data)
        return SKIP
    tmp = tempfile.mkdtemp(prefix="clgrad-train-test-")
    base = [exe, "--data", data]

    def run(*args, expect=0):
        p = subprocess.run(base + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=300)
        if p.returncode == 1 and "cannot open the device" in p.stderr:
            print("skipped: no OpenCL device:", p.stderr.strip())
            sys.exit(SKIP)
        assert p.returncode == expect, "exit %d (want %d) for %s\nstdout:\n%s\nstderr:\n%s" % (
            p.returncode, expect, " ".join(args), p.stdout, p.stderr)
        return p

    def losses(text):
        out = {}
        for line in text.splitlines():
            if line.startswith("step "):
                _, step, _, value = line.split()
                out[int(step)] = value
        return out

    t0 = time.time()

    # 1. CNN, the default model: log, checkpoint, losses.
    ck = os.path.join(tmp, "cnn.safetensors")
    log = os.path.join(tmp, "cnn.csv")
    p = run("--epochs", "2", "--limit-batches", "3", "--batch", "16", "--checkpoint", ck, "--log", log,
            "--print-losses", "--quiet")
    l = losses(p.stdout)
    assert sorted(l) == [1, 2, 3, 4, 5, 6], p.stdout
    assert all(0 < float(v) < 10 for v in l.values()), l
    rows = open(log).read().splitlines()
    assert rows[0].startswith("epoch,step,train_loss,test_loss,test_acc"), rows
    assert len(rows) == 3 and rows[1].startswith("1,3,") and rows[2].startswith("2,6,"), rows
    assert os.path.getsize(ck) > 400000 * 4, "the checkpoint is too small"
    assert "final: test accuracy" in p.stdout
    p2 = run("--epochs", "2", "--limit-batches", "3", "--batch", "16", "--checkpoint", "", "--print-losses",
             "--quiet")
    assert losses(p2.stdout) == l, "two CNN runs with the same seed differ:\n%s\n%s" % (p.stdout, p2.stdout)
    print("cnn run ok (%.1f s)" % (time.time() - t0))

    # The LSTM reading rows, with Adam: same seed, same losses.
    lstm = ["--model", "lstm", "--epochs", "1", "--limit-batches", "3", "--batch", "16", "--checkpoint", "",
            "--print-losses", "--quiet"]
    q1, q2 = run(*lstm), run(*lstm)
    assert len(losses(q1.stdout)) == 3 and losses(q1.stdout) == losses(q2.stdout), (q1.stdout, q2.stdout)
    print("lstm runs ok (%.1f s)" % (time.time() - t0))

    # 2. Same seed, same losses; JSON-lines log for a .jsonl name.
    mlp = ["--model", "mlp", "--epochs", "2", "--batch", "32", "--print-losses"]
    common = mlp + ["--seed", "7", "--limit-batches", "12", "--quiet", "--checkpoint", ""]
    la = os.path.join(tmp, "a.jsonl")
    pa = run(*common, "--log", la)
    pb = run(*common, "--profile")  # profiling changes no result
    assert losses(pa.stdout) == losses(pb.stdout) and len(losses(pa.stdout)) == 24, (pa.stdout, pb.stdout)
    ja = [json.loads(x) for x in open(la)]
    assert [r["epoch"] for r in ja] == [1, 2] and ja[1]["step"] == 24, ja
    for k in ("train_loss", "test_loss", "test_acc", "epoch_seconds", "samples_per_s"):
        assert isinstance(ja[1][k], float), ja
    assert ja[1]["device_peak_bytes"] > 0, ja
    # --profile: the steps after the first, by kernel family and phase, and the host's time
    for want in ("profile: 23 steps", "device time per step by op family", "matmul", "host time per step by phase",
                 "backward", "optimizer"):
        assert want in pb.stdout, (want, pb.stdout)
    pc = run(*mlp, "--seed", "8", "--limit-batches", "12", "--quiet", "--checkpoint", "")
    assert losses(pc.stdout) != losses(pa.stdout), "another seed gave the same losses"
    print("determinism ok (%.1f s)" % (time.time() - t0))

    # 3. SIGINT mid-epoch, then resume: the same losses and log as the uninterrupted run.
    ck = os.path.join(tmp, "int.safetensors")
    li = os.path.join(tmp, "int.jsonl")
    long_run = mlp + ["--seed", "7", "--limit-batches", "60"]
    cmd = base + long_run + ["--checkpoint", ck, "--log", li]
    full = run(*long_run, "--quiet", "--checkpoint", "", "--log", os.path.join(tmp, "full.jsonl"))
    want = losses(full.stdout)
    assert len(want) == 120
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("step 70 "):  # second epoch, mid-way
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    out = "".join(seen) + out
    assert proc.returncode == 130, "exit %d after SIGINT\n%s\n%s" % (proc.returncode, out, err)
    assert "checkpoint saved to " + ck in err and "--resume" in err, err
    got = losses(out)
    last = max(got)
    assert 70 <= last < 120, got
    assert all(got[k] == want[k] for k in got), "losses before the interruption differ"
    pr = run("--resume", ck, "--epochs", "2", "--limit-batches", "60", "--log", li, "--checkpoint", ck,
             "--print-losses")
    rest = losses(pr.stdout)
    assert sorted(rest) == list(range(last + 1, 121)), (last, sorted(rest)[:3])
    assert all(rest[k] == want[k] for k in rest), "resumed losses differ from the uninterrupted run"
    assert "resuming from" in pr.stdout
    rows_i = [json.loads(x) for x in open(li)]
    rows_f = [json.loads(x) for x in open(os.path.join(tmp, "full.jsonl"))]
    assert [r["epoch"] for r in rows_i] == [1, 2], rows_i
    for a, b in zip(rows_i, rows_f):
        for k in ("step", "train_loss", "test_loss", "test_acc"):
            assert a[k] == b[k], (k, a, b)
    # Resuming a finished run does nothing.
    pd = run("--resume", ck, "--epochs", "2", "--limit-batches", "60", "--checkpoint", "")
    assert "nothing to do" in pd.stdout
    print("interrupt and resume ok (%.1f s)" % (time.time() - t0))

    # 4. Usage errors and a damaged checkpoint.
    run("--epochs", "x", expect=2)
    run("--model", "resnet", expect=2)
    run("--bogus", expect=2)
    bad = os.path.join(tmp, "bad.safetensors")
    with open(ck, "rb") as f:
        blob = f.read()
    with open(bad, "wb") as f:
        f.write(blob[: len(blob) // 2])
    p = run("--resume", bad, expect=1)
    assert "bad.safetensors" in p.stderr, p.stderr
    print("errors ok (%.1f s)" % (time.time() - t0))

    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
