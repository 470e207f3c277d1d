#!/usr/bin/env python3
"""Runs one test of the kernel-variant matrix (or of the ONNX models) on Oclgrind and fails
on any Oclgrind diagnostic.

usage: run_oclgrind.py VENDORS_DIR TEST_EXECUTABLE [ARGUMENTS...]

VENDORS_DIR holds one .icd file naming Oclgrind's runtime; OCL_ICD_VENDORS points the
OpenCL loader there, so Oclgrind is the only platform the test sees and nothing is
registered system-wide. Oclgrind checks for data races (OCLGRIND_DATA_RACES), API misuse
(OCLGRIND_CHECK_API), out-of-bounds accesses and invalid barriers (always on); its
uninitialised-value check is left off (it cannot interpret LLVM's freeze instruction).
Oclgrind has no switch that makes a diagnostic fatal: it logs and carries on. So every
test process writes Oclgrind's log to a file of its own (the test harness sets OCLGRIND_LOG
from CLGRAD_TEST_DIAG_DIR, one file per context-creating process, as Oclgrind truncates its
log per context), and this script fails the test when any of them is not empty, or when
Oclgrind wrote anything to stderr. Exit status 77 (skipped) when Oclgrind is not installed.
"""
import glob
import os
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    vendors, cmd = sys.argv[1], sys.argv[2:]
    icds = glob.glob(os.path.join(vendors, "*.icd"))
    runtimes = [open(p).read().strip() for p in icds]
    if not runtimes or not all(os.path.exists(r) for r in runtimes):
        print("Oclgrind's runtime (%s) is not installed: skipping" % ", ".join(runtimes) or "none", file=sys.stderr)
        return 77
    with tempfile.TemporaryDirectory(prefix="clgrad-oclgrind-") as logs:
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("OCLGRIND_"):
                del env[k]
        env.update(OCL_ICD_VENDORS=vendors, CLGRAD_DEVICE="oclgrind", OCLGRIND_DATA_RACES="1",
                   OCLGRIND_CHECK_API="1", CLGRAD_TEST_DIAG_DIR=logs)
        proc = subprocess.run(cmd, env=env, stdout=sys.stdout, stderr=subprocess.PIPE)
        err = proc.stderr.decode(errors="replace")
        sys.stderr.write(err)
        if proc.returncode == 77:
            return 77
        bad = []
        files = sorted(glob.glob(os.path.join(logs, "*.log")))
        for path in files:
            with open(path, errors="replace") as f:
                text = f.read()
            if text.strip():
                bad.append((os.path.basename(path), text))
        stray = [line for line in err.splitlines() if line.startswith("Oclgrind")]
        for name, text in bad:
            print("\n==== Oclgrind diagnostics (%s) ====\n%s" % (name, text[:20000]))
        if stray:
            print("\n==== Oclgrind on stderr ====\n" + "\n".join(stray[:200]))
        if bad or stray:
            print("FAIL: Oclgrind reported %d diagnostic log(s)" % (len(bad) + (1 if stray else 0)))
            return 1
        if proc.returncode == 0 and not files:
            print("FAIL: no Oclgrind log was written: the tests did not run on Oclgrind")
            return 1
        print("Oclgrind: %d test processes, no diagnostics" % len(files))
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
