#!/usr/bin/env python3
"""Checks that the ops headers which the layers above src/ops include carry no OpenCL type.

Every `#include "ops/..."` in src/autograd, src/nn, src/optim, src/io and src/dist names a
header whose own text, and the text of every header it includes in turn (quoted includes,
looked up in src/ and include/), must neither include <CL/...> nor name an OpenCL type
(cl_mem, cl_long4, ...). Nothing above the ops layer touches OpenCL, through any include.

It cannot pass silently: it first checks itself on src/ops/ops.h, which does carry OpenCL
types and must be flagged, and it fails when no upper-layer include of an ops header is
found at all.

Usage: upper_headers_opencl_free.py SOURCE_ROOT
Prints "N passed, M failed" and exits non-zero on any failure.
"""
import os
import re
import sys

UPPER = ["src/autograd", "src/nn", "src/optim", "src/io", "src/dist"]
CL_TYPE = re.compile(r"#\s*include\s*<CL/|\bcl_(?:mem|int|uint|long|ulong|float|kernel|program|context|"
                     r"command_queue|device_id|platform_id|event)\w*\b")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def resolve(root, name):
    for base in ("src", "include", ""):
        p = os.path.join(root, base, name)
        if os.path.isfile(p):
            return p
    return None


def opencl_chain(root, header):
    """The include chain from header to the first file that names OpenCL, or None."""
    seen = set()
    stack = [(header, [header])]
    while stack:
        name, chain = stack.pop()
        path = resolve(root, name)
        if not path or path in seen:
            continue
        seen.add(path)
        with open(path, encoding="utf-8") as f:
            text = strip_comments(f.read())
        if CL_TYPE.search(text):
            return chain
        for inc in INCLUDE.findall(text):
            stack.append((inc, chain + [inc]))
    return None


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    root = sys.argv[1]
    if not opencl_chain(root, "ops/ops.h"):
        print("self-test: src/ops/ops.h (which names cl_mem) was not flagged")
        print("0 passed, 1 failed")
        return 1
    wanted = {}
    for d in UPPER:
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        for dirpath, _, names in os.walk(full):
            for n in sorted(names):
                if not n.endswith((".c", ".h")):
                    continue
                p = os.path.join(dirpath, n)
                with open(p, encoding="utf-8") as f:
                    for inc in INCLUDE.findall(strip_comments(f.read())):
                        if inc.startswith("ops/"):
                            wanted.setdefault(inc, []).append(os.path.relpath(p, root))
    if not wanted:
        print("no upper-layer file includes an ops header: nothing checked (the scan is broken?)")
        print("0 passed, 1 failed")
        return 1
    failed = 0
    for header in sorted(wanted):
        chain = opencl_chain(root, header)
        if chain:
            failed += 1
            print("FAIL %s (included by %s) reaches OpenCL: %s" % (header, ", ".join(wanted[header]),
                                                                  " -> ".join(chain)))
        else:
            print("ok   %s (included by %s)" % (header, ", ".join(wanted[header])))
    print("%d passed, %d failed" % (len(wanted) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
