#!/usr/bin/python3
"""Writes the regression inputs of fuzz/regressions/NAME/ that are not raw fuzzer finds: the
crashes issue 9 reported (found by an earlier libFuzzer run, before this folder existed), rebuilt
as reinit_file and reinit_memory harness inputs ([flags byte][scheme byte][model]).
Each had crashed or overflowed in roles.cc or fan.cc. Usage: /usr/bin/python3 fuzz/regressions/generate.py
"""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
HE_NORMAL, ORTHOGONAL = 0x0A, 0x0F  # SchemeFromByte indices, as in make_seed_corpus.sh


def model(nodes, initializers, name):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def weight(name, shape):
    return numpy_helper.from_array(np.ones(shape, np.float32), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def view_into_matmul(op, second_input):
    nodes = [helper.make_node(op, ["W", "shape_or_axes"], ["W_view"], name=op.lower()),
             helper.make_node("MatMul", ["X", "W_view"], ["Y"], name="matmul")]
    return model(nodes, [weight("W", [4, 3]), second_input], f"{op.lower()}_view")


def huge_conv_weight():
    # Dims whose product passes 2^63: fan.cc multiplied them unchecked (validate.h now refuses more
    # than 2^59 elements up front). No values, as in a weight-stripped model.
    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1 << 31, 1 << 31, 1 << 31, 1])
    conv = helper.make_node("Conv", ["X", "W"], ["Y"], name="conv")
    return model([conv], [w], "huge_conv_weight")


CRASHES = {
    # roles.cc ApplyView read past the shape: repeated axes, and an axis past the rank.
    "unsqueeze_repeated_axes": view_into_matmul("Unsqueeze", ints("shape_or_axes", [1, 1])),
    "unsqueeze_axis_past_rank": view_into_matmul("Unsqueeze", ints("shape_or_axes", [7])),
    # roles.cc's Reshape view: `known *= dim` overflowed int64 on huge target dims.
    "reshape_huge_dims": view_into_matmul("Reshape", ints("shape_or_axes", [1 << 40, 1 << 40, -1])),
    "fan_product_overflow": huge_conv_weight(),
}

# File to file in place on one thread; in memory on two threads.
for harness, flags in (("reinit_file", 0x00), ("reinit_memory", 0x10)):
    folder = os.path.join(HERE, harness)
    os.makedirs(folder, exist_ok=True)
    for name, proto in CRASHES.items():
        for scheme in (HE_NORMAL, ORTHOGONAL):
            path = os.path.join(folder, f"issue9_{name}_{scheme:02x}")
            with open(path, "wb") as f:
                f.write(bytes([flags, scheme]) + proto.SerializeToString())
            print(f"wrote {os.path.relpath(path)}")
