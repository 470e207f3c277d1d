#!/usr/bin/env python3
"""scripts/device-report.sh end to end on the default device (PoCL stands in for a GPU):
the probe's self-test, a tuner run of a few seconds, the three benchmarks at small sizes and
a few batches of the reference CNN give one markdown row with every column filled; with
--devices-md the row lands in the devices table, replacing the row of the same device and
driver rather than adding a second one; the tuner's results are kept in the cache folder
and reported as in use by a later probe.

Usage: test_device_report.py SCRIPT BUILD_DIR. A private cache folder keeps the tuned file
away from the other tests. Exits 77 (skipped) without an OpenCL device.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def main():
    script, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    probe = os.path.join(build, "tools", "probe", "clgrad-probe")
    tmp = tempfile.mkdtemp(prefix="clgrad-device-report-test-")
    env = dict(os.environ, CLGRAD_CACHE_DIR=os.path.join(tmp, "cache"), TMPDIR=tmp)
    p = subprocess.run([probe, "--json", "--no-selftest", "--no-bench"], env=env, stdout=subprocess.PIPE, text=True)
    if p.returncode == 2:
        print("skipped: no OpenCL device")
        return 77
    md = os.path.join(tmp, "devices.md")
    with open(md, "w") as f:
        f.write("# Devices\n\n| device | driver | self-test |\n|---|---|---|\n| Some GPU | 1.0 | 1/1 passed |\n")
    out = os.path.join(tmp, "report.md")
    args = ["sh", script, "--build", build, "--budget", "4", "--batches", "3", "--quick", "--out", out,
            "--devices-md", md]
    for run in range(2):
        p = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900)
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        if p.returncode != 0:
            print("FAIL: device-report.sh exited with", p.returncode)
            return 1
    rows = [l for l in open(out).read().splitlines() if l.startswith("| ") and not l.startswith("| device")]
    row = rows[0] if rows else ""
    cells = [c.strip() for c in row.strip("|").split("|")]
    problems = []
    if len(cells) != 9:
        problems.append("the row has %d cells, not 9: %r" % (len(cells), row))
    else:
        device, driver, selftest, sgemm, peak, copy, epoch = cells[:7]
        if not re.fullmatch(r"\d+/\d+ passed", selftest):
            problems.append("self-test column %r" % selftest)
        if not re.match(r"[0-9.]+ / ([0-9.]+|n/a) \(", sgemm):
            problems.append("SGEMM column %r" % sgemm)
        if not re.match(r"\d+% / (\d+%|n/a) of \d+", peak):
            problems.append("peak column %r" % peak)
        if not re.fullmatch(r"[0-9.]+", copy):
            problems.append("copy column %r" % copy)
        dataset = any(os.path.exists(os.path.join("/usr/share/datasets/fashion-mnist", "train-images-idx3-ubyte" + e))
                      for e in ("", ".gz")) or os.environ.get("CLGRAD_FASHION_MNIST_DIR")
        if dataset and not re.match(r"[0-9.]+ \(from 3 batches\)", epoch):
            problems.append("CNN epoch column %r" % epoch)
        table = open(md).read()
        if table.count("| %s | %s |" % (device, driver)) != 1 or "| Some GPU | 1.0 |" not in table:
            problems.append("devices table after two runs:\n" + table)
    p = subprocess.run([probe, "--json", "--no-selftest", "--no-bench"], env=env, stdout=subprocess.PIPE, text=True)
    dev = next(d for d in json.loads(p.stdout)["devices"] if d.get("selected"))
    if dev.get("tuning", {}).get("file_status") != "used":
        problems.append("after tuning, the probe reports the tuned file as %r" % dev.get("tuning", {}).get("file_status"))
    for q in problems:
        print("FAIL:", q)
    if not problems:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
