#!/usr/bin/python3
"""Baseline for bench.py: what a user's script does today with Debian's python3-onnx and numpy.

Loads the model, replaces every Gemm weight (transB=1) with He-normal values, saves it.
    numpy_reinit.py IN.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main():
    model = onnx.load(sys.argv[1])
    weights = {node.input[1] for node in model.graph.node if node.op_type == "Gemm"}
    rng = np.random.default_rng(0)
    for index, tensor in enumerate(model.graph.initializer):
        if tensor.name not in weights:
            continue
        fan_in = tensor.dims[1]
        values = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=tuple(tensor.dims)).astype(np.float32)
        model.graph.initializer[index].CopyFrom(numpy_helper.from_array(values, tensor.name))
    onnx.save(model, sys.argv[2])


if __name__ == "__main__":
    main()
