#!/usr/bin/env python3
"""The layer map of clgrad, checked on every #include "..." line of src/ and include/.

A file may include headers of its own folder, of lower layers and the public headers;
never a header of a higher layer. The include graph has no cycle, between files or between
folders. Headers that the layers above src/ops include bring in no OpenCL header, directly
or through their own includes. docs/architecture.md describes the layers; this table is
the same map, so a change to one is a change to the other.

Usage: check_layers.py SOURCE_ROOT     check the tree, print every fault as FILE:LINE: ...
       check_layers.py --self-test     run the checker on small made-up trees
Exit status 0 when the tree is clean, 1 otherwise.
"""
import os
import re
import shutil
import sys
import tempfile

# Folder -> rank. A file may include only headers whose folder ranks at or below its own
# (same-rank folders may include each other, but not in a cycle). "include" is the public
# API: every layer may include it, and it includes nothing else.
RANKS = {
    "include": -1,
    "src/core": 0,
    "src/device": 1,
    "src/program": 2,
    "src/memory": 3,
    "src/tensor": 4,
    "src/runtime": 5,
    "src/ops": 6,
    "src/autograd": 7,
    "src/nn": 8,
    "src/optim": 8,
    "src/io": 8,
    "src/dist": 9,     # data-parallel groups: uses nn, optim, io, autograd and the CL-free ops headers
    "src/onnx": 9,
}

# Headers Meson generates in the build folder, and the folder each one belongs to.
GENERATED = {
    "clgrad_version.h": "include",      # the version numbers, part of the public API
    "clgrad_config.h": "include",       # build configuration (CLGRAD_HAVE_CLBLAST), any layer
    "cl_embedded.h": "src/program",     # the embedded kernel sources
    "onnx.pb-c.h": "src/onnx",          # protobuf-c's code for onnx.proto
}

# Folders whose files must not see an OpenCL type: nothing they include may bring in an
# OpenCL header, even indirectly.
CL_FREE = ["include", "src/autograd", "src/nn", "src/optim", "src/io", "src/dist", "src/onnx"]

# Headers that the layers above src/ops may include although they bring in <CL/cl.h>, with
# the reason; the check reports an entry as stale once its header is free of OpenCL.
ALLOW_CL = {}

# Include edges left out of the cycle search, with the reason.
CYCLE_EXEMPT = {
    ("include/clgrad/data.h", "include/clgrad.h"):
        "data.h can be included alone, so it includes the umbrella header that includes it "
        "(both guarded); the public headers are outside this check's step",
    ("include/clgrad/npy.h", "include/clgrad.h"): "as data.h",
}

QUOTE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
ANGLE_RE = re.compile(r"^\s*#\s*include\s*<([^>]+)>")


def is_opencl_header(name):
    return name.startswith("CL/") or name.startswith("clblast")


class Tree:
    """Files under src/ and include/ with their include lines, resolved to files."""

    def __init__(self, root):
        self.root = root
        self.files = []
        for top in ("src", "include"):
            for d, _, names in os.walk(os.path.join(root, top)):
                for n in sorted(names):
                    if n.endswith((".c", ".h")):
                        self.files.append(os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/"))
        self.files.sort()
        self.quotes = {}  # file -> [(line number, spelled name, resolved path or None)]
        self.angles = {}  # file -> [(line number, name)]
        for f in self.files:
            q, a = [], []
            with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
                for no, line in enumerate(fh, 1):
                    m = QUOTE_RE.match(line)
                    if m:
                        q.append((no, m.group(1), self.resolve(f, m.group(1))))
                    m = ANGLE_RE.match(line)
                    if m:
                        a.append((no, m.group(1)))
            self.quotes[f], self.angles[f] = q, a

    def resolve(self, f, name):
        """The compiler's search order: the including file's folder, then include/, src/, the root."""
        for base in (os.path.dirname(f), "include", "src", ""):
            p = os.path.normpath(os.path.join(base, name)).replace(os.sep, "/")
            if os.path.isfile(os.path.join(self.root, p)):
                return p
        if name in GENERATED:
            return "<generated>/" + name
        return None


def folder_of(path):
    if path.startswith("<generated>/"):
        return GENERATED[path.split("/", 1)[1]]
    if path.startswith("include/"):
        return "include"
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else None


def strongly_connected(nodes, edges):
    """Tarjan's algorithm; returns the components with more than one node or a self-loop."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def check_ranks(tree, faults):
    for f in tree.files:
        ff = folder_of(f)
        if ff not in RANKS:
            faults.append(f"{f}:1: folder {ff} has no rank in the layer table of tests/arch/check_layers.py")
            continue
        for no, name, target in tree.quotes[f]:
            if target is None:
                faults.append(f'{f}:{no}: #include "{name}" names no file of the tree')
                continue
            tf = folder_of(target)
            if tf not in RANKS:
                faults.append(f'{f}:{no}: #include "{name}": folder {tf} has no rank in the layer table')
            elif ff == "include" and tf != "include":
                faults.append(f'{f}:{no}: #include "{name}": a public header includes an internal one ({tf})')
            elif RANKS[tf] > RANKS[ff]:
                faults.append(f'{f}:{no}: upward include of "{name}": {ff} (rank {RANKS[ff]}) '
                              f'must not include {tf} (rank {RANKS[tf]})')


def check_cycles(tree, faults):
    file_edges, folder_edges, where = {}, {}, {}
    for f in tree.files:
        for no, _, target in tree.quotes[f]:
            if target is None or target.startswith("<generated>/") or (f, target) in CYCLE_EXEMPT:
                continue
            file_edges.setdefault(f, set()).add(target)
            where.setdefault((f, target), f"{f}:{no}")
            a, b = folder_of(f), folder_of(target)
            if a != b:
                folder_edges.setdefault(a, set()).add(b)
                where.setdefault((a, b), f"{f}:{no}")

    def lines(comp, edges):
        """The include lines that make the edges inside one component."""
        return ", ".join(where[(a, b)] for a in comp for b in sorted(edges.get(a, ())) if b in comp)

    for comp in strongly_connected(tree.files, file_edges):
        faults.append(f"{where_first(comp, file_edges, where)}: include cycle between files "
                      f"{', '.join(comp)} (the lines: {lines(comp, file_edges)})")
    folders = set(folder_edges) | {b for s in folder_edges.values() for b in s}
    for comp in strongly_connected(folders, folder_edges):
        faults.append(f"{where_first(comp, folder_edges, where)}: include cycle between folders "
                      f"{', '.join(comp)} (the lines: {lines(comp, folder_edges)})")


def where_first(comp, edges, where):
    for a in comp:
        for b in sorted(edges.get(a, ())):
            if b in comp:
                return where[(a, b)]
    return comp[0]


def opencl_chain(tree, f, seen, stop_at_allowed):
    """A list of (file, line, name) from f to an OpenCL header, or None."""
    if f in seen:
        return None
    seen.add(f)
    for no, name in tree.angles.get(f, ()):
        if is_opencl_header(name):
            return [(f, no, "<" + name + ">")]
    for no, name, target in tree.quotes.get(f, ()):
        if target is None or target.startswith("<generated>/"):
            continue
        if target in ALLOW_CL and stop_at_allowed:
            continue
        rest = opencl_chain(tree, target, seen, stop_at_allowed)
        if rest:
            return [(f, no, name)] + rest
    return None


def check_opencl(tree, faults):
    for f in tree.files:
        if folder_of(f) not in CL_FREE:
            continue
        chain = opencl_chain(tree, f, set(), True)
        if chain:
            f0, no, _ = chain[0]
            path = " -> ".join(f"{c[0]}:{c[1]}" for c in chain)
            faults.append(f"{f0}:{no}: brings in the OpenCL header {chain[-1][2]} "
                          f"above src/ops: {path}")
    for h, why in sorted(ALLOW_CL.items()):
        if h not in tree.quotes:
            faults.append(f"{h}:1: ALLOW_CL lists a header that does not exist ({why}); remove the entry")
        elif opencl_chain(tree, h, set(), False) is None:
            faults.append(f"{h}:1: is free of OpenCL headers now; remove it from ALLOW_CL in "
                          f"tests/arch/check_layers.py")


def check(root):
    tree = Tree(root)
    faults = []
    check_ranks(tree, faults)
    check_cycles(tree, faults)
    check_opencl(tree, faults)
    return tree, faults


# ---------------------------------------------------------------------------------------
# Self-test: the checker on made-up trees, each fault seen and a clean tree passed.
# ---------------------------------------------------------------------------------------

def make_tree(files):
    root = tempfile.mkdtemp(prefix="clgrad-layers-")
    for path, text in files.items():
        p = os.path.join(root, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as fh:
            fh.write(text)
    return root


CLEAN = {
    "include/clgrad.h": "#include <stdint.h>\n",
    "src/core/core.h": '#include "clgrad.h"\n',
    "src/device/device.h": '#include <CL/cl.h>\n#include "core/core.h"\n',
    "src/ops/ops.h": '#include "device/device.h"\n',
    "src/ops/optim.h": '#include "ops/ops.h"\n',
    "src/ops/reduce.h": '#include "ops/ops.h"\n',
    "src/autograd/a.c": '#include "core/core.h"\n#include "ops/reduce.h"\n',
}


def self_test():
    global ALLOW_CL
    cases = [
        ("clean tree", {}, None),
        ("upward include", {"src/core/x.c": '#include "ops/ops.h"\n'}, "upward include"),
        ("file cycle", {"src/core/a.h": '#include "b.h"\n', "src/core/b.h": '#include "a.h"\n'},
         "cycle between files"),
        ("folder cycle", {"src/nn/a.h": '#include "io/b.h"\n', "src/io/b.h": '#include "nn/c.h"\n',
                          "src/nn/c.h": "\n"}, "cycle between folders"),
        ("unranked folder", {"src/extra/a.c": '#include "core/core.h"\n'}, "has no rank"),
        ("unresolved", {"src/core/a.c": '#include "nowhere.h"\n'}, "names no file"),
        ("public includes internal", {"include/clgrad/x.h": '#include "core/core.h"\n'},
         "public header includes an internal"),
        ("OpenCL through a header", {"src/nn/n.c": '#include "ops/ops.h"\n'}, "brings in the OpenCL header"),
        ("OpenCL directly", {"src/io/i.c": "#include <CL/cl.h>\n"}, "brings in the OpenCL header"),
        ("stale allow-list entry", {"src/ops/optim.h": '#include "core/core.h"\n'}, "remove it from ALLOW_CL"),
    ]
    saved = ALLOW_CL
    ALLOW_CL = {"src/ops/optim.h": "test", "src/ops/reduce.h": "test"}
    bad = 0
    try:
        for name, extra, want in cases:
            files = dict(CLEAN)
            files.update(extra)
            root = make_tree(files)
            try:
                _, faults = check(root)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            ok = (not faults) if want is None else any(want in x for x in faults)
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {faults if faults else 'no faults'}")
            bad += not ok
    finally:
        ALLOW_CL = saved
    return 1 if bad else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tree, faults = check(argv[1])
    for x in faults:
        print(x)
    n_inc = sum(len(v) for v in tree.quotes.values())
    print(f"{len(tree.files)} files, {n_inc} #include \"...\" lines: "
          f"{'no faults' if not faults else str(len(faults)) + ' fault(s)'}")
    if ALLOW_CL:
        print("allowed for now (see ALLOW_CL): " + ", ".join(sorted(ALLOW_CL)))
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
