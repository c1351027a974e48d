#!/usr/bin/env python3
"""Generate the blockwise-quantized LLM fixtures of testdata/ (com.microsoft ops).

Needs the `onnx` and `numpy` Python packages (Debian: python3-onnx, python3-numpy).
Run from the repository root:

    /usr/bin/python3 testdata/generate_nbits_models.py

The weights are quantized here, in numpy, following ONNX Runtime's docs/ContribOperators.md and
the conventions of its blockwise quantizer (MLAS): no zero points -> zero point 2^(bits-1) and
scale = -v / 2^(bits-1), v the block's value of largest magnitude; zero points -> scale =
(max - min) / (2^bits - 1) with min <= 0 <= max, zp = round(-min / scale). This is the reference
the C++ tests compare onnx-reinit's own quantizer against. The float weights are "trained-like":
normal with std 0.02 (GPT-2's init, far from He's sqrt(2 / K)), so that `verify --scheme he`
must fail on them. All random values come from fixed numpy seeds.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
PRODUCER = "onnx-reinit testdata/generate_nbits_models.py"


def pack(values, bits):
    """Packs unsigned `bits`-bit values along the last axis, lowest bits first, into uint8."""
    per_byte = 8 // bits
    values = np.asarray(values, dtype=np.uint8)
    pad = (-values.shape[-1]) % per_byte
    if pad:
        values = np.concatenate([values, np.zeros(values.shape[:-1] + (pad,), np.uint8)], axis=-1)
    grouped = values.reshape(values.shape[:-1] + (-1, per_byte)).astype(np.uint32)
    out = np.zeros(grouped.shape[:-1], np.uint32)
    for j in range(per_byte):
        out |= grouped[..., j] << (j * bits)
    return out.astype(np.uint8)


def quantize_blocks(w_rows, bits, block_size, zero_points):
    """Quantizes [rows, K] float rows block by block along K. Returns (q [rows, blocks*block_size]
    padded with the zero point, scales [rows, blocks] float32, zp [rows, blocks] or None)."""
    rows, k = w_rows.shape
    blocks = -(-k // block_size)
    half, qmax = 2 ** (bits - 1), 2 ** bits - 1
    q = np.zeros((rows, blocks * block_size), np.uint8)
    scales = np.zeros((rows, blocks), np.float32)
    zps = np.zeros((rows, blocks), np.uint8)
    for r in range(rows):
        for b in range(blocks):
            block = w_rows[r, b * block_size:min(k, (b + 1) * block_size)].astype(np.float64)
            if zero_points:
                lo, hi = min(block.min(), 0.0), max(block.max(), 0.0)
                scale = np.float32((hi - lo) / qmax)
                zp = int(np.clip(np.round(-lo / scale), 0, qmax)) if scale != 0 else 0
            else:
                v = block[np.argmax(np.abs(block))]
                scale = np.float32(-v / half)
                zp = half
            scales[r, b], zps[r, b] = scale, zp
            values = np.clip(np.rint(block / np.float64(scale)) + zp, 0, qmax) if scale != 0 else zp
            q[r, b * block_size:(b + 1) * block_size] = zp
            q[r, b * block_size:b * block_size + block.size] = values
    return q, scales, (zps if zero_points else None)


def t_raw(name, arr, dtype):
    arr = np.ascontiguousarray(arr)
    t = TensorProto(name=name, data_type=dtype)
    t.dims.extend(arr.shape)
    t.raw_data = arr.tobytes()
    return t


def matmul_nbits(prefix, x, y, k, n, bits, block_size, zero_points, seed, flat_scales=False, bias=False):
    """A MatMulNBits node computing y = x @ W (+ bias) for a trained-like W [k, n], and its tensors."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.02, size=(k, n)).astype(np.float32)
    q, scales, zps = quantize_blocks(w.T, bits, block_size, zero_points)
    blocks = scales.shape[1]
    tensors = [
        t_raw(f"{prefix}.qweight", pack(q, bits).reshape(n, blocks, block_size * bits // 8), TensorProto.UINT8),
        t_raw(f"{prefix}.scales", scales.reshape(-1) if flat_scales else scales, TensorProto.FLOAT),
    ]
    inputs = [x, tensors[0].name, tensors[1].name]
    if zero_points:
        tensors.append(t_raw(f"{prefix}.qzeros", pack(zps, bits), TensorProto.UINT8))
        inputs.append(tensors[-1].name)
    if bias:
        inputs += [""] * (5 - len(inputs)) + [f"{prefix}.bias"]
        tensors.append(t_raw(f"{prefix}.bias", rng.normal(0.0, 0.02, size=n).astype(np.float32), TensorProto.FLOAT))
    node = helper.make_node("MatMulNBits", inputs, [y], name=f"{prefix}/MatMulNBits", domain="com.microsoft",
                            K=k, N=n, bits=bits, block_size=block_size, accuracy_level=0)
    return node, tensors


def gather_block_quantized(prefix, ids, y, vocab, dim, bits, block_size, seed):
    """An embedding table quantized along its rows, read by GatherBlockQuantized (uint8 data)."""
    rng = np.random.default_rng(seed)
    table = rng.normal(0.0, 0.02, size=(vocab, dim)).astype(np.float32)
    q, scales, _ = quantize_blocks(table, bits, block_size, zero_points=False)
    tensors = [
        t_raw(f"{prefix}.qweight", pack(q[:, :dim], bits), TensorProto.UINT8),
        t_raw(f"{prefix}.scales", scales, TensorProto.FLOAT),
    ]
    node = helper.make_node("GatherBlockQuantized", [tensors[0].name, ids, tensors[1].name], [y],
                            name=f"{prefix}/GatherBlockQuantized", domain="com.microsoft", bits=bits,
                            block_size=block_size, gather_axis=0, quantize_axis=1)
    return node, tensors


def dynamic_quantize_matmul(prefix, x, y, k, n, seed):
    """DynamicQuantizeMatMul with an int8 weight [k, n], per-column scales and zero points 0."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.02, size=(k, n))
    scales = (np.abs(w).max(axis=0) / 127).astype(np.float32)
    q = np.clip(np.rint(w / scales), -127, 127).astype(np.int8)
    tensors = [
        t_raw(f"{prefix}.qweight", q, TensorProto.INT8),
        t_raw(f"{prefix}.scales", scales, TensorProto.FLOAT),
        t_raw(f"{prefix}.zero_points", np.zeros(n, np.int8), TensorProto.INT8),
    ]
    node = helper.make_node("DynamicQuantizeMatMul", [x] + [t.name for t in tensors], [y],
                            name=f"{prefix}/DynamicQuantizeMatMul", domain="com.microsoft")
    return node, tensors


def quantized_nbits():
    """A small int4/int8 LLM-like stack: a 4-bit embedding, MatMulNBits without and with zero points
    (bits 4 and 8, block sizes 32 and 16, a K that is not a multiple of the block), and a
    DynamicQuantizeMatMul head."""
    parts = [
        gather_block_quantized("embed", "input_ids", "h0", vocab=40, dim=64, bits=4, block_size=32, seed=1),
        matmul_nbits("q4_sym", "h0", "h1", k=64, n=48, bits=4, block_size=32, zero_points=False, seed=2),
        matmul_nbits("q4_zp", "h1", "h2", k=48, n=40, bits=4, block_size=16, zero_points=True, seed=3,
                     flat_scales=True, bias=True),
        matmul_nbits("q8_zp", "h2", "h3", k=40, n=24, bits=8, block_size=32, zero_points=True, seed=4),
        dynamic_quantize_matmul("head", "h3", "logits", k=24, n=16, seed=5),
    ]
    graph = helper.make_graph(
        [node for node, _ in parts], "quantized_nbits",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4, 16])],
        [t for _, tensors in parts for t in tensors])
    model = helper.make_model(graph, producer_name=PRODUCER, producer_version="1",
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save(model, filename, external=False):
    path = os.path.join(HERE, filename)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if external:
        onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                  location=os.path.basename(filename) + ".data", size_threshold=0)
    else:
        onnx.save(model, path)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def main():
    save(quantized_nbits(), "quantized_nbits.onnx")
    # The same model with every tensor in a data file beside it (not in testdata/ itself, whose
    # *.onnx files are run one by one).
    save(quantized_nbits(), "external/quantized_nbits.onnx", external=True)


if __name__ == "__main__":
    main()
