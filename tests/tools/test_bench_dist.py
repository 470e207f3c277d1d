#!/usr/bin/env python3
"""clgrad-bench dist end to end: its JSON has the one-rank and two-rank step times and the
bucket timings, with times that make sense (a bucket's communication starts once its
gradients are ready and ends after; overlap never exceeds communication). Runs the
in-process form (two PoCL devices), then, given mpirun, the MPI form with 2 processes.

Usage: test_bench_dist.py CLGRAD_BENCH [MPIRUN]
"""
import json
import os
import subprocess
import sys


def check(doc, providers, where):
    rows = doc["results"]
    steps = {r["provider"]: r for r in rows if r["op"] == "dist_step"}
    for p in ["1 rank"] + providers:
        assert p in steps, f"{where}: no dist_step row for {p!r}: {sorted(steps)}"
        assert steps[p]["ms"] > 0 and steps[p]["samples_per_s"] > 0, f"{where}: {steps[p]}"
    for p in providers:
        r = steps[p]
        assert r["buckets"] >= 2, f"{where}: {p}: {r['buckets']} buckets with 64 KiB buckets"
        assert 0 <= r["overlap_ms"] <= r["comm_ms"] + 1e-6, f"{where}: {p}: overlap {r}"
        assert abs(r["speedup"] - steps["1 rank"]["ms"] / r["ms"]) < 1e-3 * r["speedup"] + 1e-6, f"{where}: {r}"
        buckets = [b for b in rows if b["op"] == "dist_bucket" and b["provider"] == p]
        assert len(buckets) == r["buckets"], f"{where}: {p}: {len(buckets)} bucket rows"
        for b in buckets:
            assert b["started_ms"] <= b["ready_ms"] + 1e-6 <= b["comm_start_ms"] + 2e-6, f"{where}: {b}"
            assert b["comm_start_ms"] <= b["comm_end_ms"], f"{where}: {b}"
    print(f"{where}: 1 rank {steps['1 rank']['ms']:.2f} ms/step; "
          + "; ".join(f"{p} {steps[p]['ms']:.2f} ms/step, communication {steps[p]['comm_ms']:.3f} ms of which "
                      f"{steps[p]['overlap_ms']:.3f} ms during backward" for p in providers))


def main():
    bench = sys.argv[1]
    env = dict(os.environ, POCL_DEVICES="pthread pthread")
    args = ["dist", "--json", "--reps", "2", "--sizes", "8,64"]
    p = subprocess.run([bench] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    assert p.returncode == 0, f"clgrad-bench dist: exit {p.returncode}\n{p.stderr}"
    check(json.loads(p.stdout), ["2 ranks local", "2 ranks local, no overlap"], "in one process")
    if len(sys.argv) > 2 and sys.argv[2]:
        p = subprocess.run([sys.argv[2], "--allow-run-as-root", "--oversubscribe", "-np", "2", bench] + args,
                           env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
        if "built without MPI" not in p.stderr:
            assert p.returncode == 0, f"mpirun clgrad-bench dist: exit {p.returncode}\n{p.stderr}"
            check(json.loads(p.stdout), ["2 ranks mpi", "2 ranks mpi, no overlap"], "mpirun -np 2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
