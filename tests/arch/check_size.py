#!/usr/bin/env python3
"""Sizes in src/: no file over MAX_FILE lines, no function over MAX_FUNC lines.

A long function is allowed when the comment just above it (the comment lines that end
right before its first line) gives the reason in a phrase that starts with "long:", e.g.
    /* long: one case per OpenCL error code; a table reads better as one switch. */
Files have no such escape: a file that outgrows the limit is split at its seams.

A function is found the way the project writes them: its first line starts in column 0,
its continuation lines are indented, its opening brace stands alone in column 0 and its
closing brace is the next "}" in column 0. Its length counts every line from the first
line of its signature to its closing brace.

Usage: check_size.py SOURCE_ROOT     check src/, print every fault as FILE:LINE: ...
       check_size.py --self-test     run the checker on small made-up trees
Exit status 0 when every size is within the limits, 1 otherwise.
"""
import os
import re
import shutil
import sys
import tempfile

MAX_FILE = 600
MAX_FUNC = 80
REASON_RE = re.compile(r"\blong:", re.IGNORECASE)
NAME_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def source_files(root):
    out = []
    for d, _, names in os.walk(os.path.join(root, "src")):
        for n in sorted(names):
            if n.endswith((".c", ".h")):
                out.append(os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/"))
    return sorted(out)


def comment_above(lines, first):
    """The text of the comment lines that end right above line index `first`."""
    i = first - 1
    if i < 0 or not lines[i].rstrip().endswith("*/") and not lines[i].lstrip().startswith("//"):
        return ""
    text = []
    if lines[i].lstrip().startswith("//"):
        while i >= 0 and lines[i].lstrip().startswith("//"):
            text.append(lines[i])
            i -= 1
    else:
        while i >= 0:
            text.append(lines[i])
            if "/*" in lines[i]:
                break
            i -= 1
    return "\n".join(reversed(text))


def functions(lines):
    """[(name, first line index, length in lines, reason comment)] of a C file's lines."""
    out = []
    i = 0
    while i < len(lines):
        if lines[i].rstrip() != "{":
            i += 1
            continue
        start = i - 1
        while start > 0 and lines[start][:1] in (" ", "\t"):
            start -= 1
        head = " ".join(lines[start:i])
        m = NAME_RE.search(head)
        end = i + 1
        while end < len(lines) and not lines[end].startswith("}"):
            end += 1
        if start >= 0 and m and lines[start][:1] not in ("", "#", "/", "*", "}") and "=" not in head.split("(")[0]:
            out.append((m.group(1), start, end - start + 1, comment_above(lines, start)))
        i = end + 1
    return out


def check(root):
    faults, nfiles, nfuncs = [], 0, 0
    for f in source_files(root):
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            lines = fh.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        nfiles += 1
        if len(lines) > MAX_FILE:
            faults.append(f"{f}:1: {len(lines)} lines, over {MAX_FILE}: split the file at its seams")
        for name, start, n, comment in functions(lines):
            nfuncs += 1
            if n > MAX_FUNC and not REASON_RE.search(comment):
                faults.append(f"{f}:{start + 1}: function {name} is {n} lines, over {MAX_FUNC}: split it "
                              f"into named steps, or say why in a comment just above it (\"long: ...\")")
    return faults, nfiles, nfuncs


# ---------------------------------------------------------------------------------------
# Self-test: the checker on made-up trees, each fault seen and a clean tree passed.
# ---------------------------------------------------------------------------------------

def body(n):
    return "".join(f"    x += {k};\n" for k in range(n))


def func(name, n, above=""):
    """A function of exactly n lines (signature, brace, n - 4 body lines, return, brace)."""
    return f"{above}static int {name}(int x,\n    int y)\n{{\n{body(n - 5)}    return x + y;\n}}\n"


def make_tree(files):
    root = tempfile.mkdtemp(prefix="clgrad-size-")
    for path, text in files.items():
        p = os.path.join(root, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as fh:
            fh.write(text)
    return root


def self_test():
    table = "static const int t[] =\n{\n" + "    1,\n" * 100 + "};\n"
    cases = [
        ("clean tree", {"src/a/a.c": func("f", MAX_FUNC) + table}, None),
        ("long file", {"src/a/a.c": "int x;\n" * (MAX_FILE + 1)}, f"over {MAX_FILE}"),
        ("long header", {"src/a/a.h": "int x;\n" * (MAX_FILE + 1)}, f"over {MAX_FILE}"),
        ("long function", {"src/a/a.c": func("g", MAX_FUNC + 1)}, "function g is 81 lines"),
        ("long function, unrelated comment", {"src/a/a.c": func("g", 90, "/* adds */\n")}, "function g"),
        ("long function, comment not adjacent",
         {"src/a/a.c": func("g", 90, "/* long: a table */\n\n")}, "function g"),
        ("long function with a reason", {"src/a/a.c": func("g", 90, "/* Adds.\n * long: a table */\n")}, None),
        ("long function with a // reason", {"src/a/a.c": func("g", 90, "// long: a table\n")}, None),
        ("second of two functions", {"src/a/a.c": func("f", 10) + "\n" + func("h", 85)}, "function h is 85"),
    ]
    bad = 0
    for name, files, want in cases:
        root = make_tree(files)
        try:
            faults, _, _ = check(root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        ok = (not faults) if want is None else any(want in x for x in faults)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {faults if faults else 'no faults'}")
        bad += not ok
    return 1 if bad else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    faults, nfiles, nfuncs = check(argv[1])
    for x in faults:
        print(x)
    print(f"{nfiles} files, {nfuncs} functions: "
          f"{'no faults' if not faults else str(len(faults)) + ' fault(s)'}")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
