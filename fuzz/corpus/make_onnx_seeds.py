#!/usr/bin/env python3
"""Writes the seed corpus of the ONNX loader's fuzz target (fuzz/corpus/onnx/*.onnx): small
models, each under 4 KB, that together reach every part of the loader: weights in raw and
typed fields, every operator family, opset-dependent attribute forms, shape arithmetic that
folds, the Conv + BatchNormalization, GELU and LayerNorm patterns, and recurrent layers.
Needs the onnx Python module (Debian: python3-onnx); the files are committed, so this only
runs when the seeds change.

    make_onnx_seeds.py OUT_DIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh


def w(name, shape, seed, raw=True):
    a = np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)
    if raw:
        return nh.from_array(a, name)
    return h.make_tensor(name, T.FLOAT, shape, a.flatten().tolist())


def i64(name, values):
    return nh.from_array(np.array(values, dtype=np.int64), name)


def save(out, name, nodes, inputs, outputs, inits, opset):
    g = h.make_graph(nodes, name, inputs, outputs, inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)], producer_name="clgrad-seeds")
    m.ir_version = 6 if opset < 13 else 7 if opset < 15 else 8
    onnx.checker.check_model(m)
    data = m.SerializeToString()
    assert len(data) < 4096, (name, len(data))
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(data)


def vi(name, elem, shape):
    return h.make_tensor_value_info(name, elem, shape)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    save(out, "mlp", [
        h.make_node("Gemm", ["x", "w1", "b1"], ["a"], transB=1),
        h.make_node("Relu", ["a"], ["r"]),
        h.make_node("Gemm", ["r", "w2", "b2"], ["l"], transB=1, alpha=0.5),
        h.make_node("Softmax", ["l"], ["y"], axis=1),
    ], [vi("x", T.FLOAT, ["N", 4])], [vi("y", T.FLOAT, ["N", 3])],
        [w("w1", [5, 4], 1), w("b1", [5], 2, raw=False), w("w2", [3, 5], 3), w("b2", [3], 4)], 14)
    save(out, "cnn", [
        h.make_node("Conv", ["x", "cw", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        h.make_node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["bn"], epsilon=1e-5),
        h.make_node("Relu", ["bn"], ["r"]),
        h.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("AveragePool", ["p"], ["q"], kernel_shape=[2, 2], count_include_pad=1),
        h.make_node("GlobalAveragePool", ["q"], ["gp"]),
        h.make_node("Flatten", ["gp"], ["y"], axis=1),
    ], [vi("x", T.FLOAT, ["N", 2, 8, 8])], [vi("y", T.FLOAT, ["N", 3])],
        [w("cw", [3, 2, 3, 3], 5), w("cb", [3], 6), w("g", [3], 7), w("be", [3], 8), w("mu", [3], 9),
         nh.from_array(np.array([0.5, 1.0, 2.0], dtype=np.float32), "var")], 13)
    save(out, "rnn", [
        h.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        h.make_node("LSTM", ["xt", "W", "R", "B", "", "h0", "h0"], ["y", "yh"], hidden_size=2),
        h.make_node("Squeeze", ["y", "ax1"], ["ys"]),
        h.make_node("GRU", ["ys", "GW", "GR", "GB"], ["gy", "gh"], hidden_size=2, linear_before_reset=1),
        h.make_node("RNN", ["ys", "RW", "RR"], ["", "rh"], hidden_size=2, activations=["Relu"]),
        h.make_node("Add", ["gh", "rh"], ["y2"]),
    ], [vi("x", T.FLOAT, ["N", 4, 3])], [vi("y2", T.FLOAT, [1, "N", 2])],
        [w("W", [1, 8, 3], 10), w("R", [1, 8, 2], 11), w("B", [1, 16], 12), i64("ax1", [1]),
         nh.from_array(np.zeros((1, 1, 2), np.float32), "h0"),
         w("GW", [1, 6, 2], 13), w("GR", [1, 6, 2], 14), w("GB", [1, 12], 15),
         w("RW", [1, 2, 2], 16), w("RR", [1, 2, 2], 17)], 14)
    save(out, "shapes", [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        h.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        h.make_node("Concat", ["n1", "m1"], ["target"], axis=0),
        h.make_node("Reshape", ["x", "target"], ["flat"]),
        h.make_node("Shape", ["flat"], ["fs"]),
        h.make_node("ConstantOfShape", ["fs"], ["ones"], value=h.make_tensor("v", T.FLOAT, [1], [1.0])),
        h.make_node("Range", ["r0", "r1", "r2"], ["rg"]),
        h.make_node("Cast", ["rg"], ["rgf"], to=T.FLOAT),
        h.make_node("Expand", ["rgf", "fs"], ["ex"]),
        h.make_node("Slice", ["ex", "st", "en", "ax1", "sp"], ["sl"]),
        h.make_node("Mul", ["flat", "ones"], ["fo"]),
        h.make_node("Slice", ["fo", "st", "en", "ax1", "sp"], ["fs2"]),
        h.make_node("Add", ["fs2", "sl"], ["y"]),
    ], [vi("x", T.FLOAT, ["N", 2, 3])], [vi("y", T.FLOAT, ["N", 3])],
        [i64("zero", 0), i64("ax0", [0]), i64("m1", [-1]), i64("r0", 0), i64("r1", 6), i64("r2", 1),
         i64("st", [0]), i64("en", [100]), i64("ax1", [1]), i64("sp", [2])], 13)
    save(out, "patterns", [
        h.make_node("ReduceMean", ["x"], ["mu"], axes=[-1]),
        h.make_node("Sub", ["x", "mu"], ["d"]),
        h.make_node("Pow", ["d", "two"], ["d2"]),
        h.make_node("ReduceMean", ["d2"], ["var"], axes=[-1]),
        h.make_node("Add", ["var", "eps"], ["ve"]),
        h.make_node("Sqrt", ["ve"], ["sd"]),
        h.make_node("Div", ["d", "sd"], ["nrm"]),
        h.make_node("Mul", ["nrm", "gamma"], ["sc"]),
        h.make_node("Add", ["sc", "beta"], ["ln"]),
        h.make_node("Div", ["ln", "sqrt2"], ["q"]),
        h.make_node("Erf", ["q"], ["e"]),
        h.make_node("Add", ["e", "one"], ["e1"]),
        h.make_node("Mul", ["ln", "e1"], ["g"]),
        h.make_node("Mul", ["g", "half"], ["y"]),
    ], [vi("x", T.FLOAT, ["N", 3, 4])], [vi("y", T.FLOAT, ["N", 3, 4])],
        [nh.from_array(np.float32(2), "two"), nh.from_array(np.float32(1e-5), "eps"), w("gamma", [4], 18),
         w("beta", [4], 19), nh.from_array(np.float32(1.4142135), "sqrt2"), nh.from_array(np.float32(1), "one"),
         nh.from_array(np.float32(0.5), "half")], 11)
    save(out, "misc", [
        h.make_node("Transpose", ["x"], ["t"], perm=[1, 0]),
        h.make_node("MatMul", ["t", "mw"], ["mm"]),
        h.make_node("Split", ["mm"], ["s1", "s2"], axis=1, split=[1, 2]),
        h.make_node("Greater", ["s1", "zf"], ["gt"]),
        h.make_node("Where", ["gt", "s2", "zf"], ["wh"]),
        h.make_node("Clip", ["wh", "lo", "hi"], ["cl"]),
        h.make_node("ReduceSum", ["cl"], ["rs"], axes=[1], keepdims=1),
        h.make_node("Equal", ["rs", "zf"], ["eq"]),
        h.make_node("Not", ["eq"], ["ne"]),
        h.make_node("Cast", ["ne"], ["nef"], to=T.FLOAT),
        h.make_node("ArgMax", ["cl"], ["am"], axis=1, keepdims=0),
        h.make_node("Dropout", ["nef"], ["dr"]),
        h.make_node("Identity", ["dr"], ["y"]),
        h.make_node("LeakyRelu", ["cl"], ["y2"], alpha=0.1),
    ], [vi("x", T.FLOAT, [2, "N"])], [vi("y", T.FLOAT, ["N", 1]), vi("am", T.INT64, ["N"]),
                                     vi("y2", T.FLOAT, ["N", 2])],
        [w("mw", [2, 3], 20), nh.from_array(np.float32(0), "zf"), nh.from_array(np.float32(-0.5), "lo"),
         nh.from_array(np.float32(0.5), "hi")], 12)
    print("seeds written to", out)


if __name__ == "__main__":
    main()
