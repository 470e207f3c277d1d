#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_ops (fuzz/corpus/ops): short programs in fuzz_ops.c's
instruction format, among them the hostile-shape cases of the hardening issue. Run from the
repository root; the files are committed, so this only needs running when the format changes."""
import os

EXTREME = [0, 1, -1, 2, 3, 2**63 - 1, -2**63, 2**63 - 6, -(2**63 - 1), 2**31, 2**31 - 1, 2**32, 2**61 - 1,
           2**62, 7378697629483820648, 2**40, 65536, 32768, -2**31, 2**31 + 1, (2**63 - 1) // 4,
           (2**63 - 1) // 4 + 1, 6, 7]


def i64(v):
    if -8 <= v <= 23:
        return [v + 8]
    return [0xC0 + EXTREME.index(v)]


def dim(d):
    assert -9 <= d <= 9
    return [d + 9]


def create(slot, shape, values=None):
    assert all(0 <= d <= 5 for d in shape) and len(shape) <= 4
    n = 1
    for s in shape:
        n *= s
    values = values if values is not None else [(i * 7 + slot) % 16 - 8 for i in range(n)]
    return [0, slot, 0, len(shape)] + list(shape) + [v + 8 for v in values]


def create_hostile(slot, shape):
    return [0, slot, 1, len(shape)] + sum((i64(s) for s in shape), [])


def reshape(k, o, shape):
    assert len(shape) <= 9
    out = [2, k, o, len(shape) + 1]
    for s in shape:
        out += [0] if s == -1 else [1] + i64(s)
    return out


def transpose(k, o, a, b):
    return [4, k, o] + dim(a) + dim(b)


def permute(k, o, shuffle, mode=0, corrupt=0):
    shuffle = shuffle + [0] * (7 - len(shuffle))
    return [3, k, o] + dim(0) + dim(0) + shuffle + [mode] + dim(corrupt)


def slice_(k, o, d, start, stop, step):
    return [5, k, o] + dim(d) + i64(start) + i64(stop) + i64(step)


def expand(k, o, shape):
    out = [7, k, o, len(shape)]
    for s in shape:
        out += [0] + i64(s)  # flag 0: this size, not the source's
    return out


def join(stack, o, d, slots):
    return [9 if stack else 8, len(slots) - 1, o] + dim(d) + slots


def unary(k, o, which):
    return [10, k, o, which]


def binary(a, b, o, which):
    return [11, a, b, o, which]


def reduce_(k, o, which, keep, axes):
    assert len(axes) <= 3
    return [12, k, o, which, keep, len(axes)] + sum((dim(a) for a in axes), [])


def argmax(k, o, axis, keep=0):
    return [13, k, o] + dim(axis) + [keep]


def softmax(k, o, axis):
    return [14, k, o] + dim(axis) + [0]


def matmul(a, b, o):
    return [15, a, b, o]


def clone(k, o, contig):
    return [16, k, o, contig]


def copy(d, s):
    return [17, d, s]


def copy_shift(k, d, rev, sft):
    return [18, k] + dim(d) + [rev, sft]


def fill(k, v):
    return [19, k, v + 128]


def write(k, n):
    return [20, k] + [(i * 5) % 32 for i in range(n)]


def gemm(a, b, pick, c, alpha, beta):
    return [21, 1, a, b, pick] + ([c] if pick == 2 else []) + [alpha, beta]


def release(k):
    return [21, 0, k]


SEEDS = {
    # 8 elements as [7378697629483820648, 5]: the count wraps to 8 in 64 bits
    'reshape_wrapping_count': create(0, [2, 4]) + reshape(0, 1, [7378697629483820648, 5]) +
    reshape(0, 1, [-1, 7378697629483820648, 5]) + reshape(0, 1, [4, -1]) + reshape(1, 2, [8]) +
    reshape(0, 3, [-1, -1]),
    # expand to [2^31, 2^31, 2^31] (numel wraps to 0), then sum
    'expand_wrapping_count': create(0, [1, 1, 1]) + expand(0, 1, [2**31, 2**31, 2**31]) +
    reduce_(1, 2, 0, 0, []) + expand(0, 1, [2**31, 1, 65536]) + slice_(1, 2, 2, 5, 8, 1) +
    expand(0, 3, [3, -1, 2]),
    # slice(x, 1, 0, 10, INT64_MAX - 5) gave [10, -1]
    'slice_huge_step': create(0, [5, 5]) + slice_(0, 1, 1, 0, 10, 2**63 - 6) +
    slice_(0, 2, 0, -2**63, 2**63 - 1, 1) + slice_(0, 3, -1, 2**63 - 1, -2**63, 3) +
    slice_(0, 4, 1, -(2**63 - 1), 3, 2**63 - 1) + slice_(0, 5, 0, 1, 5, 0),
    # cat sizes that add up past 2^64 (wrapping to 8)
    'cat_wrapping_total': create(0, [1]) + expand(0, 1, [2**61 - 1]) + create(2, [4]) +
    join(0, 3, 0, [1, 1, 1, 1, 1, 1, 1, 1, 2]) + join(0, 3, 0, [1, 1, 1, 1]) + join(1, 3, 0, [1, 1, 1]) +
    join(0, 4, 0, [2, 2, 0]) + join(1, 5, -1, [2, 2]),
    # x[1:] <- x[:-1], and writes through an expanded view
    'overlapping_copies': create(0, [5, 5]) + copy_shift(0, 0, 0, 1) + copy_shift(0, 1, 1, 2) +
    create(3, [1]) + expand(3, 4, [3]) + create(5, [3]) + copy(4, 5) + write(4, 3) + fill(4, 9) +
    transpose(0, 6, 0, 1) + slice_(0, 7, 0, 0, 5, 1) + copy(7, 6),
    # argmax over an axis of 2^31 (32-bit indices)
    'argmax_long_axis': create(0, [1, 1]) + expand(0, 1, [3, 2**31]) + argmax(1, 2, 1) +
    argmax(1, 2, -1, 1) + create(3, [2, 3]) + argmax(3, 4, 1) + argmax(3, 4, 0, 1),
    # ops on views: broadcasting, reductions, softmax, matmul, in-place gemm into an operand
    'ops_on_views': create(0, [3, 4]) + create(1, [4, 4]) + transpose(1, 2, 0, 1) + matmul(0, 2, 3) +
    binary(0, 3, 4, 0) + create(5, [4]) + binary(0, 5, 6, 2) + reduce_(0, 7, 0, 1, [1]) +
    reduce_(0, 7, 2, 0, [0, -1]) + softmax(2, 7, 0) + gemm(0, 1, 0, 0, 0, 1) + gemm(1, 2, 0, 0, 0, 0) +
    unary(3, 4, 2) + clone(2, 5, 1) + clone(2, 5, 0),
    # views of views: permute, expand and reshape (a copy when the strides do not allow a view)
    'view_chains': create(0, [2, 3, 4]) + permute(0, 1, [1, 0], 0b101) + reshape(1, 2, [4, -1]) +
    expand(0, 3, [2, 2, 3, 4]) + reshape(3, 4, [4, 12]) + slice_(4, 5, 1, 1, 12, 5) +
    reshape(5, 6, [-1]) + fill(5, -3) + release(0) + permute(2, 7, [0], 0) + join(0, 1, 1, [2, 2]),
    # creation with hostile sizes
    'hostile_creation': create_hostile(0, [2**62, 4]) + create_hostile(1, [-1, 3]) +
    create_hostile(2, [0, 2**40, 2**40]) + create_hostile(3, [(2**63 - 1) // 4 + 1]) +
    create_hostile(4, [3, 0, 5]) + create_hostile(5, [1, 1, 1, 1, 1, 1, 1, 1, 1]),
}

if __name__ == '__main__':
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'ops')
    os.makedirs(out, exist_ok=True)
    for name, prog in SEEDS.items():
        assert all(0 <= b < 256 for b in prog), name
        with open(os.path.join(out, name), 'wb') as f:
            f.write(bytes(prog))
