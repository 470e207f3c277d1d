#!/usr/bin/env python3
"""Fails when a public function has no argument test.

Usage: args_coverage.py INCLUDE_DIR TEST_FILE...

Reads every function declared CLGRAD_API in INCLUDE_DIR/clgrad.h and INCLUDE_DIR/clgrad/*.h
and checks that each one is used (called, or named in a table of ops that the test runs) in
the code of the argument tests TEST_FILE... (comments and strings do not count). A missing
function is named with its header and the test file it belongs in,
tests/api/test_args_<header>.c.
"""
import glob
import os
import re
import sys

DECL = re.compile(r"\bCLGRAD_API\s+[^;(]*?\b(clgrad_\w+)\s*\(")
IDENT = re.compile(r"\b[A-Za-z_]\w*\b")


def strip_c(text):
    """The text without comments, string and character literals, or preprocessor lines."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', '""', text)
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("#"))


def declared(include_dir):
    """{function: header name} for every CLGRAD_API function of the public headers."""
    headers = [os.path.join(include_dir, "clgrad.h")]
    headers += sorted(glob.glob(os.path.join(include_dir, "clgrad", "*.h")))
    funcs = {}
    for h in headers:
        with open(h, encoding="utf-8") as f:
            for name in DECL.findall(strip_c(f.read())):
                funcs[name] = os.path.splitext(os.path.basename(h))[0]
    return funcs


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    funcs = declared(argv[1])
    if len(funcs) < 100:  # the parse itself went wrong: say so rather than pass
        print(f"only {len(funcs)} CLGRAD_API functions found under {argv[1]}", file=sys.stderr)
        return 1
    used = set()
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            used.update(IDENT.findall(strip_c(f.read())))
    missing = sorted(name for name in funcs if name not in used)
    for name in missing:
        print(f"{name} (include/{'clgrad/' if funcs[name] != 'clgrad' else ''}{funcs[name]}.h) has no "
              f"argument test: call it in tests/api/test_args_{funcs[name]}.c", file=sys.stderr)
    print(f"{len(funcs) - len(missing)} of {len(funcs)} public functions have argument tests")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
