#!/usr/bin/env python3
"""Checks that every differentiable op of src/ops/op_table.h is tested.

For each row of the table it asks for
  - a finite-difference gradient check: a tests/autograd/test_grad_*.c file that calls
    th_gradcheck and calls the row's "checked through" function, and
  - a reference test: a file under tests/ops, tests/tensor or tests/nn that calls the row's
    forward function;
and that every descriptor defined in src/ops (CLGRAD__OP_DEFINE..., or spelled out as
"const clgrad__op clgrad__op_<x> =") has a row, and every row a definition.

It cannot pass silently: it fails when the table yields fewer rows than its own count of
X(...) lines, when no row is found at all, and (run with --self-test, as the suite does
first) when a made-up op without tests is not reported.

Usage: op_table_coverage.py SOURCE_ROOT [--self-test]
Prints "N passed, M failed" and exits non-zero on any failure.
"""
import os
import re
import sys


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def table_rows(header_text):
    """(symbol, forward, checked_through) for every row of the table's X-macro lists."""
    text = strip_comments(header_text)
    rows = []
    for macro, arity in (("CLGRAD__OPS_UNARY", 1), ("CLGRAD__OPS_SCALAR", 1), ("CLGRAD__OPS", 3)):
        m = re.search(r"#define\s+" + macro + r"\(X\)((?:[^\n]*\\\n)*[^\n]*)", text)
        if not m:
            raise SystemExit("op_table_coverage: no #define %s(X) in op_table.h" % macro)
        body = m.group(1).replace("\\\n", "\n")
        lines = [l.strip() for l in body.split("\n") if l.strip()]
        for line in lines:
            r = re.fullmatch(r"X\(([^)]*)\)", line)
            if not r:
                raise SystemExit("op_table_coverage: %s: cannot read row %r" % (macro, line))
            args = [a.strip() for a in r.group(1).split(",")]
            if len(args) != arity:
                raise SystemExit("op_table_coverage: %s: row %r has %d columns, expected %d"
                                 % (macro, line, len(args), arity))
            if arity == 1:
                args = [args[0], "clgrad_" + args[0], "clgrad_" + args[0]]
            rows.append(tuple(args))
    # every "X(" in the file must have become a row: nothing skipped by a parsing slip
    expected = len(re.findall(r"^\s*X\(", text, flags=re.M))
    if expected != len(rows) or not rows:
        raise SystemExit("op_table_coverage: read %d rows but the table has %d X(...) lines"
                         % (len(rows), expected))
    return rows


def read_tree(root, subdirs, pattern):
    files = {}
    for sub in subdirs:
        d = os.path.join(root, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if re.fullmatch(pattern, name):
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    files[os.path.join(sub, name)] = f.read()
    return files


def calls(text, fn):
    """fn is called or referenced (tests keep ops in tables of function pointers)."""
    return re.search(r"\b" + re.escape(fn) + r"\b", strip_comments(text)) is not None


def check(root, rows, descriptors):
    grad = {p: t for p, t in read_tree(root, ["tests/autograd"], r"test_grad_\w+\.c").items()
            if "th_gradcheck(" in t}
    ref = read_tree(root, ["tests/ops", "tests/tensor", "tests/nn"], r"test_\w+\.c")
    failures = []
    for sym, forward, checked in rows:
        if not any(calls(t, checked) for t in grad.values()):
            failures.append("%s: no gradient check calls %s in tests/autograd/test_grad_*.c" % (sym, checked))
        if not any(calls(t, forward) for t in ref.values()):
            failures.append("%s: no reference test calls %s in tests/ops, tests/tensor or tests/nn" % (sym, forward))
    table = {r[0] for r in rows}
    for sym in sorted(descriptors - table):
        failures.append("%s: a descriptor is defined in src/ops but has no row in op_table.h" % sym)
    for sym in sorted(table - descriptors):
        failures.append("%s: a row of op_table.h has no descriptor definition in src/ops" % sym)
    return failures


def defined_descriptors(src_text):
    """Descriptors defined one by one in src/ops (the pointwise ones come from X-macros)."""
    code = re.sub(r"^#define(?:[^\n]*\\\n)*[^\n]*", " ", src_text, flags=re.M)  # not macro bodies
    found = set(re.findall(r"\bCLGRAD__OP_DEFINE(?:_STATELESS)?\(\s*(\w+)\s*,", code))
    found |= set(re.findall(r"\bconst clgrad__op clgrad__op_(\w+)\s*=", code))
    # ACT_DESCRIPTOR(x) and similar one-argument wrappers of CLGRAD__OP_DEFINE
    for wrapper in re.findall(r"#define\s+(\w+)\(\w+\)\s+CLGRAD__OP_DEFINE\(", src_text):
        found |= set(re.findall(r"^\s*" + wrapper + r"\((\w+)\)", src_text, flags=re.M))
    return found


def pointwise_symbols(header_text):
    text = strip_comments(header_text)
    out = set()
    for macro in ("CLGRAD__OPS_UNARY", "CLGRAD__OPS_SCALAR"):
        m = re.search(r"#define\s+" + macro + r"\(X\)((?:[^\n]*\\\n)*[^\n]*)", text)
        out |= set(re.findall(r"X\((\w+)\)", m.group(1)))
    return out


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    root = sys.argv[1]
    with open(os.path.join(root, "src/ops/op_table.h"), encoding="utf-8") as f:
        header = f.read()
    rows = table_rows(header)
    src = "".join(read_tree(root, ["src/ops"], r"\w+\.c").values())
    descriptors = defined_descriptors(src)
    # the pointwise rows get their descriptors from one X-macro expansion in elementwise.c
    if "CLGRAD__OPS_UNARY(UNARY_DESCRIPTOR)" in src and "CLGRAD__OPS_SCALAR(UNARY_DESCRIPTOR)" in src:
        descriptors |= pointwise_symbols(header)

    if "--self-test" in sys.argv:
        # a made-up op without tests and a made-up descriptor without a row must both fail
        fake = rows + [("no_such_op", "clgrad_no_such_op", "clgrad_no_such_op")]
        got = check(root, fake, descriptors | {"no_such_op", "orphan_op"})
        want = ["no_such_op: no gradient check", "no_such_op: no reference test", "orphan_op: a descriptor"]
        missing = [w for w in want if not any(g.startswith(w) for g in got)]
        if missing:
            print("op_table_coverage self-test: not reported: %s" % "; ".join(missing))
            print("0 passed, 1 failed")
            return 1

    failures = check(root, rows, descriptors)
    for f in failures:
        print("FAIL " + f)
    print("%d differentiable ops in src/ops/op_table.h" % len(rows))
    print("%d passed, %d failed" % (len(rows) - len({f.split(":")[0] for f in failures} & {r[0] for r in rows}),
                                    len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
