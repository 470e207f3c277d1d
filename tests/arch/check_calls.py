#!/usr/bin/env python3
"""The layer map of clgrad, checked on the calls the library's object files make.

check_layers.py reads #include lines; a call can still go upward through the public header
(every layer may include clgrad.h). This script reads the symbol tables of the static
library (nm): a function or object used by a file of one layer must be defined in the same
folder, a lower layer, or a folder of the same rank; and the folders of one rank must not
call each other in a cycle. The ranks are those of check_layers.py.

Usage: check_calls.py LIBCLGRAD.a     prints every fault as FILE: ..., exit 1 when any
       check_calls.py --self-test      the checker on made-up symbol tables
Exit status 77 (skipped) when nm is not available or cannot read the archive.
"""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_layers import RANKS, strongly_connected  # noqa: E402

# Calls that still go upward, with the reason. Reported as stale once they are gone.
ALLOW_CALLS = {}


def folder_of_object(member):
    """Meson names a member <folder>_<file>.c.o after its path under src/."""
    if member.startswith("meson-generated_"):
        return "src/program" if "cl_embedded" in member else None
    return "src/" + member.split("_", 1)[0]


def source_of_object(member):
    folder = folder_of_object(member)
    if not folder or not member.endswith(".o"):
        return member
    return folder + "/" + member.split("_", 1)[1][:-2]


def parse_nm(text):
    """(defined: symbol -> member, used: [(member, symbol)]) from `nm -A -g` output."""
    defined, used = {}, []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) < 3:
            continue
        member, fields = parts[-2], parts[-1].split()
        if len(fields) < 2:
            continue
        kind, sym = fields[-2], fields[-1]
        if kind == "U":
            used.append((member, sym))
        elif kind not in ("w", "v"):
            defined[sym] = member
    return defined, used


def check(defined, used):
    faults, seen_allowed, edges = [], set(), {}
    for member, sym in sorted(used):
        if sym not in defined:
            continue  # the C library, OpenCL, CLBlast, ...
        a, b = folder_of_object(member), folder_of_object(defined[sym])
        if a is None or b is None or a == b:
            continue
        src = source_of_object(member)
        if a not in RANKS or b not in RANKS:
            faults.append(f"{src}: folder {a if a not in RANKS else b} has no rank in check_layers.py")
            continue
        edges.setdefault(a, set()).add(b)
        if RANKS[b] > RANKS[a]:
            if (a, sym) in ALLOW_CALLS:
                seen_allowed.add((a, sym))
                continue
            faults.append(f"{src}: upward call of {sym}, defined in {source_of_object(defined[sym])}: "
                          f"{a} (rank {RANKS[a]}) must not call {b} (rank {RANKS[b]})")
    same_rank = {a: {b for b in bs if RANKS.get(a) == RANKS.get(b)} for a, bs in edges.items()}
    for comp in strongly_connected(set(same_rank), same_rank):
        faults.append(f"{comp[0]}: call cycle between folders {', '.join(comp)}")
    for key, why in sorted(ALLOW_CALLS.items()):
        if key not in seen_allowed:
            faults.append(f"{key[0]}: no longer calls {key[1]} upward; remove it from ALLOW_CALLS "
                          f"in tests/arch/check_calls.py ({why})")
    return faults


def self_test():
    global ALLOW_CALLS
    nm = lambda rows: "\n".join(f"lib.a:{m}:{'' if k == 'U' else '0000000000000000'} {k} {s}"
                                for m, k, s in rows)
    base = [("core_error.c.o", "T", "clgrad__fail"), ("ops_a.c.o", "U", "clgrad__fail"),
            ("autograd_v.c.o", "T", "clgrad_reshape"), ("ops_a.c.o", "U", "clgrad_reshape"),
            ("ops_a.c.o", "U", "malloc")]
    cases = [
        ("clean (allowed call, libc call)", [], None),
        ("upward call", [("core_error.c.o", "U", "clgrad__gemm"), ("ops_m.c.o", "T", "clgrad__gemm")],
         "upward call of clgrad__gemm"),
        ("same-rank cycle", [("nn_a.c.o", "T", "f_nn"), ("io_b.c.o", "T", "f_io"),
                             ("nn_a.c.o", "U", "f_io"), ("io_b.c.o", "U", "f_nn")], "call cycle"),
        ("stale allowance", None, "remove it from ALLOW_CALLS"),
    ]
    saved, bad = ALLOW_CALLS, 0
    ALLOW_CALLS = {("src/ops", "clgrad_reshape"): "test"}
    try:
        for name, extra, want in cases:
            rows = [r for r in base if r[2] != "clgrad_reshape"] if extra is None else base + extra
            faults = check(*parse_nm(nm(rows)))
            ok = (not faults) if want is None else any(want in f for f in faults)
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {faults if faults else 'no faults'}")
            bad += not ok
    finally:
        ALLOW_CALLS = saved
    return 1 if bad else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    nm = shutil.which(os.environ.get("NM", "nm"))
    if not nm:
        print("nm not found: skipping")
        return 77
    r = subprocess.run([nm, "-A", "-g", argv[1]], capture_output=True, text=True)
    defined, used = parse_nm(r.stdout)
    if r.returncode != 0 or len(defined) < 100:
        print(f"cannot read the symbols of {argv[1]} ({len(defined)} found): skipping\n{r.stderr}")
        return 77
    faults = check(defined, used)
    for f in faults:
        print(f)
    print(f"{len(defined)} symbols defined, {len(used)} uses: "
          f"{'no faults' if not faults else str(len(faults)) + ' fault(s)'}")
    if ALLOW_CALLS:
        print("allowed for now (see ALLOW_CALLS): " + ", ".join(f"{a}: {s}" for a, s in sorted(ALLOW_CALLS)))
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
