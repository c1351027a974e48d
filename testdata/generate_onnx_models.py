#!/usr/bin/env python3
"""Generate the hand-made ONNX fixture models in testdata/.

Needs only the `onnx` and `numpy` Python packages (Debian: python3-onnx,
python3-numpy).  Run from the repository root:

    /usr/bin/python3 testdata/generate_onnx_models.py

Every tensor is built field by field (not with helper.make_tensor) so that the
storage field used (raw_data, float_data, double_data, int32_data, ...) is
exactly the one named here.  All random values come from fixed numpy seeds,
so the output is byte-for-byte reproducible with the same onnx version.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
IR_VERSION = 7  # ONNX 1.8+ / opset 13; readable by every current runtime
PRODUCER = "onnx-reinit testdata/generate_onnx_models.py"


# --------------------------------------------------------------------------
# tensor builders


def t_raw(name, arr, dtype):
    """Tensor stored in raw_data (little-endian)."""
    arr = np.ascontiguousarray(arr)
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(arr.shape)
    t.raw_data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    return t


def t_f32_raw(name, arr):
    return t_raw(name, np.asarray(arr, dtype=np.float32), TensorProto.FLOAT)


def t_f32_float_data(name, arr):
    arr = np.asarray(arr, dtype=np.float32)
    t = TensorProto(name=name, data_type=TensorProto.FLOAT)
    t.dims.extend(arr.shape)
    t.float_data.extend(arr.ravel().tolist())
    return t


def t_f64_double_data(name, arr):
    arr = np.asarray(arr, dtype=np.float64)
    t = TensorProto(name=name, data_type=TensorProto.DOUBLE)
    t.dims.extend(arr.shape)
    t.double_data.extend(arr.ravel().tolist())
    return t


def t_f16_raw(name, arr):
    return t_raw(name, np.asarray(arr, dtype=np.float16), TensorProto.FLOAT16)


def t_f16_int32_data(name, arr):
    """float16 stored as one uint16 bit pattern per int32_data element."""
    bits = np.asarray(arr, dtype=np.float16).view(np.uint16)
    t = TensorProto(name=name, data_type=TensorProto.FLOAT16)
    t.dims.extend(bits.shape)
    t.int32_data.extend(int(b) for b in bits.ravel())
    return t


def bf16_bits(arr):
    """float32 -> bfloat16 bit patterns (round to nearest even)."""
    u = np.asarray(arr, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def t_bf16_raw(name, arr):
    bits = bf16_bits(arr)
    t = TensorProto(name=name, data_type=TensorProto.BFLOAT16)
    t.dims.extend(bits.shape)
    t.raw_data = bits.astype("<u2").tobytes()
    return t


def t_i64_raw(name, arr):
    return t_raw(name, np.asarray(arr, dtype=np.int64), TensorProto.INT64)


def t_i8_raw(name, arr):
    return t_raw(name, np.asarray(arr, dtype=np.int8), TensorProto.INT8)


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def make_model(graph, doc_string=None, metadata=None, opset=OPSET, ir_version=IR_VERSION,
               full_check=True, check=True):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name=PRODUCER,
        producer_version="1",
    )
    model.ir_version = ir_version
    if doc_string is not None:
        model.doc_string = doc_string
    for k, v in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key = k
        entry.value = v
    if check:
        onnx.checker.check_model(model, full_check=full_check)
    return model


def save(model, filename):
    path = os.path.join(HERE, filename)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")
    return path


# --------------------------------------------------------------------------
# models


def constant_weights():
    """Gemm B from a Constant node; MatMul weight through Identity->Identity."""
    rng = np.random.default_rng(101)
    gemm_b = rng.standard_normal((4, 5)).astype(np.float32)  # [K, N], transB=0
    gemm_c = rng.standard_normal((5,)).astype(np.float32)
    mm_w = rng.standard_normal((5, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Constant", [], ["gemm_B"], name="const_gemm_B",
                         value=t_f32_raw("gemm_B_value", gemm_b)),
        helper.make_node("Gemm", ["X", "gemm_B", "gemm_C"], ["H"], name="gemm",
                         transA=0, transB=0),
        helper.make_node("Identity", ["mm_W"], ["mm_W_id1"], name="identity_1"),
        helper.make_node("Identity", ["mm_W_id1"], ["mm_W_id2"], name="identity_2"),
        helper.make_node("MatMul", ["H", "mm_W_id2"], ["Y"], name="matmul"),
    ]
    graph = helper.make_graph(
        nodes, "constant_weights",
        [vi("X", TensorProto.FLOAT, [2, 4])],
        [vi("Y", TensorProto.FLOAT, [2, 3])],
        [t_f32_raw("gemm_C", gemm_c), t_f32_raw("mm_W", mm_w)],
        doc_string="graph doc string: Gemm weight in a Constant node, MatMul weight behind two Identity nodes",
    )
    model = make_model(
        graph,
        doc_string="onnx-reinit fixture: model doc string must survive a round trip",
        metadata={"onnx_reinit_fixture": "constant_weights", "author": "onnx-reinit testdata"},
    )
    return save(model, "constant_weights.onnx")


def dtypes_models():
    """Same-shape [4,3] MatMul weights in every storage variant."""
    rng = np.random.default_rng(202)

    def w():
        return rng.standard_normal((4, 3)).astype(np.float32)

    # --- dtypes.onnx: everything here runs in ONNX Runtime (CPU) -----------
    inits = [
        t_f32_raw("w_f32_raw", w()),
        t_f32_float_data("w_f32_float_data", w()),
        t_f64_double_data("w_f64_double_data", w()),
        t_f16_raw("w_f16_raw", w()),
        t_f16_int32_data("w_f16_int32_data", w()),
        # reaches its MatMul only through Cast (ORT has no bfloat16 MatMul);
        # the tool follows Identity only, so it must leave this one alone.
        t_bf16_raw("w_bf16_raw_behind_cast", w()),
    ]
    nodes = [
        helper.make_node("MatMul", ["X", "w_f32_raw"], ["Y_f32_raw"], name="mm_f32_raw"),
        helper.make_node("MatMul", ["X", "w_f32_float_data"], ["Y_f32_float_data"], name="mm_f32_float_data"),
        helper.make_node("MatMul", ["X64", "w_f64_double_data"], ["Y_f64_double_data"], name="mm_f64_double_data"),
        helper.make_node("MatMul", ["X16", "w_f16_raw"], ["Y_f16_raw"], name="mm_f16_raw"),
        helper.make_node("MatMul", ["X16", "w_f16_int32_data"], ["Y_f16_int32_data"], name="mm_f16_int32_data"),
        helper.make_node("Cast", ["w_bf16_raw_behind_cast"], ["w_bf16_as_f32"], name="cast_bf16", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["X", "w_bf16_as_f32"], ["Y_bf16_cast"], name="mm_bf16_cast"),
    ]
    graph = helper.make_graph(
        nodes, "dtypes",
        [vi("X", TensorProto.FLOAT, [2, 4]),
         vi("X64", TensorProto.DOUBLE, [2, 4]),
         vi("X16", TensorProto.FLOAT16, [2, 4])],
        [vi("Y_f32_raw", TensorProto.FLOAT, [2, 3]),
         vi("Y_f32_float_data", TensorProto.FLOAT, [2, 3]),
         vi("Y_f64_double_data", TensorProto.DOUBLE, [2, 3]),
         vi("Y_f16_raw", TensorProto.FLOAT16, [2, 3]),
         vi("Y_f16_int32_data", TensorProto.FLOAT16, [2, 3]),
         vi("Y_bf16_cast", TensorProto.FLOAT, [2, 3])],
        inits,
    )
    save(make_model(graph), "dtypes.onnx")

    # --- dtypes_noort.onnx: bfloat16 MatMul directly (valid ONNX, but ORT
    # CPU has no bfloat16 MatMul kernel) -- for the C++ tests only ----------
    rng = np.random.default_rng(203)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["Xbf16", "w_bf16_raw"], ["Y_bf16_raw"], name="mm_bf16_raw")],
        "dtypes_noort",
        [vi("Xbf16", TensorProto.BFLOAT16, [2, 4])],
        [vi("Y_bf16_raw", TensorProto.BFLOAT16, [2, 3])],
        [t_bf16_raw("w_bf16_raw", rng.standard_normal((4, 3)).astype(np.float32))],
    )
    save(make_model(graph), "dtypes_noort.onnx")


def gemm_layouts():
    rng = np.random.default_rng(303)
    w_nt = rng.standard_normal((4, 6)).astype(np.float32)   # transB=0: [K=4, N=6]
    b_nt = rng.standard_normal((6,)).astype(np.float32)
    w_t = rng.standard_normal((5, 6)).astype(np.float32)    # transB=1: [N=5, K=6]
    b_t = rng.standard_normal((5,)).astype(np.float32)
    a_t = rng.standard_normal((2, 7)).astype(np.float32)    # transA=1: A is [K=2, M=7]
    nodes = [
        helper.make_node("Gemm", ["X", "gemm_transB0_W", "gemm_transB0_C"], ["H1"], name="gemm_transB0", transB=0),
        helper.make_node("Gemm", ["H1", "gemm_transB1_W", "gemm_transB1_C"], ["H2"], name="gemm_transB1", transB=1),
        # Y = A^T * H2, A constant [K=2, M=7], H2 [K=2, N=5] -> Y [7, 5]
        helper.make_node("Gemm", ["gemm_transA1_A", "H2"], ["Y"], name="gemm_transA1", transA=1, transB=0),
    ]
    graph = helper.make_graph(
        nodes, "gemm_layouts",
        [vi("X", TensorProto.FLOAT, [2, 4])],
        [vi("Y", TensorProto.FLOAT, [7, 5])],
        [t_f32_raw("gemm_transB0_W", w_nt), t_f32_raw("gemm_transB0_C", b_nt),
         t_f32_raw("gemm_transB1_W", w_t), t_f32_raw("gemm_transB1_C", b_t),
         t_f32_raw("gemm_transA1_A", a_t)],
    )
    return save(make_model(graph), "gemm_layouts.onnx")


def shared_two_consumers():
    rng = np.random.default_rng(404)
    s = rng.standard_normal((4, 6)).astype(np.float32)
    nodes = [
        # as B: X[2,4] @ S[4,6] -> fan_in 4, fan_out 6
        helper.make_node("MatMul", ["X", "shared_W"], ["Y1"], name="mm_shared_as_B"),
        # as A: S[4,6] @ Z[6,3] -> contracted dim is 6, so fan_in 6, fan_out 4
        helper.make_node("MatMul", ["shared_W", "Z"], ["Y2"], name="mm_shared_as_A"),
    ]
    graph = helper.make_graph(
        nodes, "shared_two_consumers",
        [vi("X", TensorProto.FLOAT, [2, 4]), vi("Z", TensorProto.FLOAT, [6, 3])],
        [vi("Y1", TensorProto.FLOAT, [2, 6]), vi("Y2", TensorProto.FLOAT, [4, 3])],
        [t_f32_raw("shared_W", s)],
    )
    return save(make_model(graph), "shared_two_consumers.onnx")


def int_and_shape():
    rng = np.random.default_rng(505)
    conv_w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    conv_b = rng.standard_normal((4,)).astype(np.float32)
    scale = np.array(0.5, dtype=np.float32)                      # scalar, rank 0
    bias = rng.standard_normal((256,)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["X", "conv_W", "conv_B"], ["C"], name="conv",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Reshape", ["C", "reshape_shape"], ["R"], name="reshape"),
        helper.make_node("Mul", ["R", "mul_scale"], ["M"], name="mul"),
        helper.make_node("Add", ["M", "add_bias"], ["Y"], name="add"),
    ]
    graph = helper.make_graph(
        nodes, "int_and_shape",
        [vi("X", TensorProto.FLOAT, [1, 3, 8, 8])],
        [vi("Y", TensorProto.FLOAT, [1, 256])],
        [t_f32_raw("conv_W", conv_w), t_f32_raw("conv_B", conv_b),
         t_i64_raw("reshape_shape", np.array([1, -1])),
         t_f32_raw("mul_scale", scale), t_f32_raw("add_bias", bias)],
    )
    model = make_model(graph, doc_string="int_and_shape: only conv_W is a weight",
                       metadata={"onnx_reinit_fixture": "int_and_shape"})
    return save(model, "int_and_shape.onnx")


def subgraph_if():
    """If node whose branches hold their own weights (subgraph initializers,
    a Constant node) and read an outer-scope weight."""
    rng = np.random.default_rng(606)
    then_w = rng.standard_normal((4, 3)).astype(np.float32)
    then_const_w = rng.standard_normal((3, 3)).astype(np.float32)
    else_w = rng.standard_normal((4, 5)).astype(np.float32)
    outer_w = rng.standard_normal((5, 3)).astype(np.float32)   # Gemm transB=0: [K=5, N=3]
    outer_c = rng.standard_normal((3,)).astype(np.float32)
    then_branch = helper.make_graph(
        [helper.make_node("MatMul", ["X", "then_W"], ["then_H"], name="then_matmul"),
         helper.make_node("Constant", [], ["then_const_W"], name="then_const",
                          value=t_f32_raw("then_const_W_value", then_const_w)),
         helper.make_node("MatMul", ["then_H", "then_const_W"], ["then_Y"], name="then_matmul_const")],
        "then_branch",
        [],
        [vi("then_Y", TensorProto.FLOAT, [2, 3])],
        [t_f32_raw("then_W", then_w)],
    )
    else_branch = helper.make_graph(
        [helper.make_node("MatMul", ["X", "else_W"], ["else_H"], name="else_matmul"),
         helper.make_node("Gemm", ["else_H", "outer_gemm_W", "outer_gemm_C"], ["else_Y"],
                          name="else_gemm_outer", transB=0)],
        "else_branch",
        [],
        [vi("else_Y", TensorProto.FLOAT, [2, 3])],
        [t_f32_raw("else_W", else_w)],
    )
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["Y"], name="if",
                          then_branch=then_branch, else_branch=else_branch)],
        "subgraph_if",
        [vi("cond", TensorProto.BOOL, []), vi("X", TensorProto.FLOAT, [2, 4])],
        [vi("Y", TensorProto.FLOAT, [2, 3])],
        [t_f32_raw("outer_gemm_W", outer_w), t_f32_raw("outer_gemm_C", outer_c)],
    )
    return save(make_model(graph), "subgraph_if.onnx")


def via_ops():
    """MatMul weights that reach the MatMul only through another op."""
    rng = np.random.default_rng(707)
    w_t = rng.standard_normal((6, 4)).astype(np.float32)
    w_r = rng.standard_normal((24,)).astype(np.float32)
    w_u = rng.standard_normal((4, 6)).astype(np.float32)
    w_h = rng.standard_normal((4, 6)).astype(np.float32)
    w_q = rng.integers(-127, 128, size=(4, 6)).astype(np.int8)
    nodes = [
        # (a) [6,4] -> Transpose -> [4,6]
        helper.make_node("Transpose", ["W_t"], ["W_t_transposed"], name="transpose_W_t", perm=[1, 0]),
        helper.make_node("MatMul", ["X", "W_t_transposed"], ["Y_transpose"], name="mm_transpose"),
        # (b) [24] -> Reshape([4,6]) -> [4,6]
        helper.make_node("Reshape", ["W_r", "reshape_shape"], ["W_r_reshaped"], name="reshape_W_r"),
        helper.make_node("MatMul", ["X", "W_r_reshaped"], ["Y_reshape"], name="mm_reshape"),
        # (c) [4,6] -> Unsqueeze(axes=[0]) -> [1,4,6]; X [2,4] broadcasts -> [1,2,6]
        helper.make_node("Unsqueeze", ["W_u", "unsqueeze_axes"], ["W_u_unsqueezed"], name="unsqueeze_W_u"),
        helper.make_node("MatMul", ["X", "W_u_unsqueezed"], ["Y_unsqueeze"], name="mm_unsqueeze"),
        # (d) float16 [4,6] -> Cast(FLOAT)
        helper.make_node("Cast", ["W_h"], ["W_h_f32"], name="cast_W_h", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["X", "W_h_f32"], ["Y_cast"], name="mm_cast"),
        # (e) int8 [4,6] -> DequantizeLinear(scale, zero_point) (QDQ weight)
        helper.make_node("DequantizeLinear", ["W_q", "W_q_scale", "W_q_zero_point"], ["W_q_dq"], name="dq_W_q"),
        helper.make_node("MatMul", ["X", "W_q_dq"], ["Y_dq"], name="mm_dq"),
    ]
    graph = helper.make_graph(
        nodes, "via_ops",
        [vi("X", TensorProto.FLOAT, [2, 4])],
        [vi("Y_transpose", TensorProto.FLOAT, [2, 6]),
         vi("Y_reshape", TensorProto.FLOAT, [2, 6]),
         vi("Y_unsqueeze", TensorProto.FLOAT, [1, 2, 6]),
         vi("Y_cast", TensorProto.FLOAT, [2, 6]),
         vi("Y_dq", TensorProto.FLOAT, [2, 6])],
        [t_f32_raw("W_t", w_t),
         t_f32_raw("W_r", w_r), t_i64_raw("reshape_shape", np.array([4, 6])),
         t_f32_raw("W_u", w_u), t_i64_raw("unsqueeze_axes", np.array([0])),
         t_f16_raw("W_h", w_h),
         t_i8_raw("W_q", w_q), t_f32_raw("W_q_scale", np.array(0.02, dtype=np.float32)),
         t_i8_raw("W_q_zero_point", np.array(3, dtype=np.int8))],
    )
    return save(make_model(graph), "via_ops.onnx")


def ir3_inputs():
    """IR version 3 / opset 7: every initializer is also a graph input."""
    rng = np.random.default_rng(808)
    w = rng.standard_normal((3, 4)).astype(np.float32)   # transB=1: [N=3, K=4]
    c = rng.standard_normal((3,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["X", "fc_W", "fc_B"], ["Y"], name="gemm", transB=1)],
        "ir3_inputs",
        [vi("X", TensorProto.FLOAT, [2, 4]),
         vi("fc_W", TensorProto.FLOAT, [3, 4]),
         vi("fc_B", TensorProto.FLOAT, [3])],
        [vi("Y", TensorProto.FLOAT, [2, 3])],
        [t_f32_raw("fc_W", w), t_f32_raw("fc_B", c)],
    )
    return save(make_model(graph, opset=7, ir_version=3), "ir3_inputs.onnx")


def sparse_init():
    """A MatMul weight stored as a sparse_initializer, plus a dense one."""
    rng = np.random.default_rng(909)
    dense_s = np.zeros((4, 6), dtype=np.float32)
    flat = np.sort(rng.choice(24, size=6, replace=False))   # linearized, strictly increasing
    dense_s.ravel()[flat] = rng.standard_normal(6).astype(np.float32)
    sparse = helper.make_sparse_tensor(
        t_f32_raw("sparse_W", dense_s.ravel()[flat]),          # values [NNZ]; name = tensor name
        t_i64_raw("sparse_W_indices", flat),                   # indices [NNZ], linearized
        [4, 6],
    )
    dense_w = rng.standard_normal((6, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "sparse_W"], ["H"], name="mm_sparse"),
         helper.make_node("MatMul", ["H", "dense_W"], ["Y"], name="mm_dense")],
        "sparse_init",
        [vi("X", TensorProto.FLOAT, [2, 4])],
        [vi("Y", TensorProto.FLOAT, [2, 3])],
        [t_f32_raw("dense_W", dense_w)],
        sparse_initializer=[sparse],
    )
    # onnx 1.12 shape inference types a sparse initializer as a
    # sparse_tensor_type value, which MatMul's type inference rejects in
    # strict mode ("Input tensors of wrong rank (0)"; declaring it as a dense
    # tensor in value_info gives "type case mismatch"). So this one model
    # gets the structural checker only (which does validate the sparse
    # tensor: name, index range and ordering) plus non-strict inference.
    model = make_model(graph, full_check=False)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=False)
    return save(model, "sparse_init.onnx")


def rnn_models():
    """Hand-made ONNX LSTM (bidirectional) and GRU (linear_before_reset=1)."""
    rng = np.random.default_rng(1010)
    hidden, inp, seq = 4, 3, 5
    w = rng.standard_normal((2, 4 * hidden, inp)).astype(np.float32)       # [dirs, 4H, in], gates iofc
    r = rng.standard_normal((2, 4 * hidden, hidden)).astype(np.float32)    # [dirs, 4H, H]
    b = rng.standard_normal((2, 8 * hidden)).astype(np.float32)            # [dirs, Wb|Rb]
    h0 = rng.standard_normal((2, 1, hidden)).astype(np.float32)            # [dirs, batch, H]
    graph = helper.make_graph(
        [helper.make_node("LSTM", ["X", "lstm_W", "lstm_R", "lstm_B", "", "lstm_initial_h"],
                          ["Y", "Y_h"], name="lstm", hidden_size=hidden, direction="bidirectional")],
        "lstm_onnx",
        [vi("X", TensorProto.FLOAT, [seq, 1, inp])],
        [vi("Y", TensorProto.FLOAT, [seq, 2, 1, hidden]), vi("Y_h", TensorProto.FLOAT, [2, 1, hidden])],
        [t_f32_raw("lstm_W", w), t_f32_raw("lstm_R", r), t_f32_raw("lstm_B", b),
         t_f32_raw("lstm_initial_h", h0)],
    )
    save(make_model(graph), "lstm_onnx.onnx")

    rng = np.random.default_rng(1111)
    w = rng.standard_normal((1, 3 * hidden, inp)).astype(np.float32)       # [dirs, 3H, in], gates zrh
    r = rng.standard_normal((1, 3 * hidden, hidden)).astype(np.float32)
    b = rng.standard_normal((1, 6 * hidden)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("GRU", ["X", "gru_W", "gru_R", "gru_B"], ["Y", "Y_h"], name="gru",
                          hidden_size=hidden, linear_before_reset=1)],
        "gru_linear_before_reset",
        [vi("X", TensorProto.FLOAT, [seq, 1, inp])],
        [vi("Y", TensorProto.FLOAT, [seq, 1, 1, hidden]), vi("Y_h", TensorProto.FLOAT, [1, 1, hidden])],
        [t_f32_raw("gru_W", w), t_f32_raw("gru_R", r), t_f32_raw("gru_B", b)],
    )
    save(make_model(graph), "gru_linear_before_reset.onnx")


def malformed(valid_path):
    d = os.path.join(HERE, "malformed")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "not_a_model.onnx"), "wb") as f:
        f.write(b"this is not an ONNX model, just some text bytes\n")
    with open(valid_path, "rb") as f:
        data = f.read()
    truncated = data[: len(data) // 2]
    try:
        onnx.load_from_string(truncated)
    except Exception:
        pass
    else:
        sys.exit("truncated model unexpectedly parses; pick another source model")
    with open(os.path.join(d, "truncated.onnx"), "wb") as f:
        f.write(truncated)
    open(os.path.join(d, "empty.onnx"), "wb").close()
    for n in ("not_a_model.onnx", "truncated.onnx", "empty.onnx"):
        p = os.path.join(d, n)
        print(f"wrote {os.path.relpath(p)} ({os.path.getsize(p)} bytes)")


def ambiguous():
    """Models that onnx-reinit must refuse (validate.h): each is a valid-looking MatMul/Gemm model
    with one defect that makes re-initialization ambiguous. Most fail the ONNX checker, which is
    therefore not run on them."""
    rng = np.random.default_rng(1201)

    def mlp(nodes, initializers, name):
        graph = helper.make_graph(
            nodes, name,
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 4])],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 3])],
            initializer=initializers)
        return make_model(graph, check=False)

    def weight(name):
        return t_f32_raw(name, rng.standard_normal((4, 3)))

    matmul = helper.make_node("MatMul", ["X", "W"], ["Y"], name="matmul")
    save(mlp([matmul], [weight("W"), weight("W")], "duplicate_initializer"),
         "malformed/duplicate_initializer.onnx")

    both = weight("W")
    both.float_data.extend(rng.standard_normal(12).astype(np.float32).tolist())
    save(mlp([matmul], [both], "raw_and_float_data"), "malformed/raw_and_float_data.onnx")

    cycle = [helper.make_node("Identity", ["W_b"], ["W_a"], name="identity_a"),
             helper.make_node("Identity", ["W_a"], ["W_b"], name="identity_b"),
             helper.make_node("MatMul", ["X", "W_a"], ["Y"], name="matmul")]
    save(mlp(cycle, [], "identity_cycle"), "malformed/identity_cycle.onnx")

    gemm = helper.make_node("Gemm", ["X", "W"], ["Y"], name="gemm")
    gemm.attribute.append(helper.make_attribute("transB", "1"))
    save(mlp([gemm], [weight("W")], "gemm_transb_string"), "malformed/gemm_transb_string.onnx")

    undefined = weight("W")
    undefined.data_type = TensorProto.UNDEFINED
    save(mlp([matmul], [undefined], "undefined_dtype"), "malformed/undefined_dtype.onnx")

    # FLOAT8E4M3FN (17, ONNX 1.14) is newer than libonnx 1.12: onnx-reinit cannot fill the weight.
    float8 = TensorProto(name="W", dims=[4, 3], data_type=17,
                         raw_data=rng.integers(0, 256, 12, dtype=np.uint8).tobytes())
    save(mlp([matmul], [float8], "float8_weight"), "malformed/float8_weight.onnx")


# --------------------------------------------------------------------------
# quantized models, laid out as ONNX Runtime's quantizer writes them


def t_u8_raw(name, arr):
    return t_raw(name, np.asarray(arr, dtype=np.uint8), TensorProto.UINT8)


def t_i32_raw(name, arr):
    return t_raw(name, np.asarray(arr, dtype=np.int32), TensorProto.INT32)


def t_u8_int32_data(name, arr):
    """uint8 stored one value per int32_data element (the varint field onnx.helper also uses)."""
    arr = np.asarray(arr, dtype=np.uint8)
    t = TensorProto(name=name, data_type=TensorProto.UINT8)
    t.dims.extend(arr.shape)
    t.int32_data.extend(int(v) for v in arr.ravel())
    return t


def symmetric_int8(w, axis=None):
    """ORT's symmetric int8 weight quantization: scale = max|w| / 127 (per tensor or per `axis`)."""
    if axis is None:
        scale = np.float32(np.abs(w).max() / 127)
    else:
        other = tuple(d for d in range(w.ndim) if d != axis)
        scale = (np.abs(w).max(axis=other) / 127).astype(np.float32)
    shaped = scale if axis is None else scale.reshape([-1 if d == axis else 1 for d in range(w.ndim)])
    return np.clip(np.rint(w / shaped), -127, 127).astype(np.int8), scale


def quantized_qdq():
    """QDQ format (ORT quantize_static, QuantFormat.QDQ, per_channel=True): uint8 activations in
    QuantizeLinear/DequantizeLinear pairs; Conv weight int8 per output channel (axis 0), Gemm and
    MatMul weights int8 per tensor, zero points 0; Conv and Gemm biases int32 with scale
    x_scale * w_scale and zero point 0, each behind its own DequantizeLinear. Two more weights: an
    int8 [N, K] weight that reaches MatMul through Transpose, and a uint8 weight with an asymmetric
    zero point (120) whose values are stored in int32_data."""
    rng = np.random.default_rng(1101)
    nodes, inits = [], []

    def act_qdq(name, scale):  # a uint8 activation Q/DQ pair; returns the dequantized name
        inits.extend([t_f32_raw(f"{name}_scale", np.array(scale, dtype=np.float32)),
                      t_u8_raw(f"{name}_zero_point", np.array(128, dtype=np.uint8))])
        nodes.append(helper.make_node("QuantizeLinear", [name, f"{name}_scale", f"{name}_zero_point"],
                                      [f"{name}_quantized"], name=f"{name}_QuantizeLinear"))
        nodes.append(helper.make_node("DequantizeLinear",
                                      [f"{name}_quantized", f"{name}_scale", f"{name}_zero_point"],
                                      [f"{name}_dequantized"], name=f"{name}_DequantizeLinear"))
        return f"{name}_dequantized"

    def weight_dq(name, q, scale, zero_point, axis=None, tensor=t_i8_raw):
        inits.extend([tensor(f"{name}_quantized", q), t_f32_raw(f"{name}_scale", scale),
                      (t_u8_raw if q.dtype == np.uint8 else t_i8_raw)(f"{name}_zero_point", zero_point)])
        attrs = {} if axis is None else {"axis": axis}
        nodes.append(helper.make_node("DequantizeLinear",
                                      [f"{name}_quantized", f"{name}_scale", f"{name}_zero_point"],
                                      [f"{name}_DequantizeLinear_Output"], name=f"{name}_DequantizeLinear", **attrs))
        return f"{name}_DequantizeLinear_Output"

    def bias_dq(name, b, scale, axis=None):
        q = np.rint(b / scale).astype(np.int32)
        inits.extend([t_i32_raw(f"{name}_quantized", q), t_f32_raw(f"{name}_quantized_scale", scale),
                      t_i32_raw(f"{name}_quantized_zero_point", np.zeros_like(q) if axis is not None else np.int32(0))])
        attrs = {} if axis is None else {"axis": axis}
        nodes.append(helper.make_node("DequantizeLinear",
                                      [f"{name}_quantized", f"{name}_quantized_scale", f"{name}_quantized_zero_point"],
                                      [f"{name}_quantized_DequantizeLinear_Output"],
                                      name=f"{name}_quantized_DequantizeLinear", **attrs))
        return f"{name}_quantized_DequantizeLinear_Output"

    x = act_qdq("input", 0.02)
    conv_w = (rng.standard_normal((8, 3, 3, 3)) * 0.2).astype(np.float32)
    conv_q, conv_s = symmetric_int8(conv_w, axis=0)
    w = weight_dq("conv.weight", conv_q, conv_s, np.zeros(8, dtype=np.int8), axis=0)
    b = bias_dq("conv.bias", (rng.standard_normal(8) * 0.1).astype(np.float32),
                (np.float32(0.02) * conv_s).astype(np.float32), axis=0)
    nodes.append(helper.make_node("Conv", [x, w, b], ["conv_out"], name="/conv/Conv", pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", [act_qdq("conv_out", 0.01)], ["relu_out"], name="/relu/Relu"))
    nodes.append(helper.make_node("GlobalAveragePool", [act_qdq("relu_out", 0.01)], ["pool_out"], name="/pool/GlobalAveragePool"))
    nodes.append(helper.make_node("Flatten", [act_qdq("pool_out", 0.01)], ["flat"], name="/Flatten"))

    gemm_w = (rng.standard_normal((10, 8)) * 0.3).astype(np.float32)  # [N, K], transB=1
    gemm_q, gemm_s = symmetric_int8(gemm_w)
    a = act_qdq("flat", 0.01)
    w = weight_dq("fc.weight", gemm_q, gemm_s, np.array(0, dtype=np.int8))
    b = bias_dq("fc.bias", (rng.standard_normal(10) * 0.1).astype(np.float32),
                np.array(np.float32(0.01) * gemm_s, dtype=np.float32))
    nodes.append(helper.make_node("Gemm", [a, w, b], ["fc_out"], name="/fc/Gemm", transB=1))

    mm_w = (rng.standard_normal((10, 6)) * 0.3).astype(np.float32)  # [K, N]
    mm_q, mm_s = symmetric_int8(mm_w)
    w = weight_dq("onnx::MatMul_20", mm_q, mm_s, np.array(0, dtype=np.int8))
    nodes.append(helper.make_node("MatMul", [act_qdq("fc_out", 0.05), w], ["mm_out"], name="/mm/MatMul"))

    t_w = (rng.standard_normal((4, 6)) * 0.3).astype(np.float32)  # stored [N, K], read as [K, N]
    t_q, t_s = symmetric_int8(t_w)
    w = weight_dq("proj.weight", t_q, t_s, np.array(0, dtype=np.int8))
    nodes.append(helper.make_node("Transpose", [w], ["proj.weight_transposed"], name="/proj/Transpose", perm=[1, 0]))
    nodes.append(helper.make_node("MatMul", [act_qdq("mm_out", 0.05), "proj.weight_transposed"], ["proj_out"],
                                  name="/proj/MatMul"))

    u_w = (rng.standard_normal((4, 5)) * 0.3).astype(np.float32)
    u_zero_point = np.uint8(120)  # asymmetric uint8 weights (ORT: weight_type=QUInt8)
    u_s = np.float32((u_w.max() - u_w.min()) / 255)
    u_q = np.clip(np.rint(u_w / u_s) + u_zero_point, 0, 255).astype(np.uint8)
    w = weight_dq("head.weight", u_q, u_s, np.array(u_zero_point, dtype=np.uint8),
                  tensor=t_u8_int32_data)
    nodes.append(helper.make_node("MatMul", [act_qdq("proj_out", 0.05), w], ["Y"], name="/head/MatMul"))

    graph = helper.make_graph(nodes, "quantized_qdq", [vi("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [vi("Y", TensorProto.FLOAT, [1, 5])], inits)
    return save(make_model(graph), "quantized_qdq.onnx")


def quantized_qoperator():
    """QOperator format: QLinearConv (int8 weight per output channel, int32 bias), QLinearMatMul
    (int8 weight per tensor), ConvInteger (uint8 weight) and MatMulInteger (int8 weight), with
    uint8 activations from QuantizeLinear and float outputs from DequantizeLinear / Cast + Mul."""
    rng = np.random.default_rng(1102)
    f32 = lambda name, v: t_f32_raw(name, np.array(v, dtype=np.float32))
    u8 = lambda name, v: t_u8_raw(name, np.array(v, dtype=np.uint8))
    i8 = lambda name, v: t_i8_raw(name, np.array(v, dtype=np.int8))
    conv_w = (rng.standard_normal((8, 3, 3, 3)) * 0.2).astype(np.float32)
    conv_q, conv_s = symmetric_int8(conv_w, axis=0)
    conv_b = np.rint(rng.standard_normal(8) * 0.1 / (0.02 * conv_s)).astype(np.int32)
    mm_q, mm_s = symmetric_int8((rng.standard_normal((8, 6)) * 0.3).astype(np.float32))
    ci_q = rng.integers(100, 156, size=(4, 3, 3, 3)).astype(np.uint8)
    mi_q = rng.integers(-127, 128, size=(8, 3)).astype(np.int8)
    inits = [
        f32("x_scale", 0.02), u8("x_zero_point", 128),
        t_i8_raw("conv_w", conv_q), t_f32_raw("conv_w_scale", conv_s), i8("conv_w_zero_point", np.zeros(8)),
        f32("conv_y_scale", 0.01), u8("conv_y_zero_point", 128), t_i32_raw("conv_b", conv_b),
        f32("flat_scale", 0.01), u8("flat_zero_point", 128),
        t_i8_raw("mm_w", mm_q), f32("mm_w_scale", mm_s), i8("mm_w_zero_point", 0),
        f32("mm_y_scale", 0.05), u8("mm_y_zero_point", 128),
        t_u8_raw("ci_w", ci_q), u8("ci_w_zero_point", 128), f32("ci_output_scale", 0.02 * 0.01),
        t_i8_raw("mi_w", mi_q), i8("mi_w_zero_point", 0), f32("mi_output_scale", 0.01 * 0.01),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "x_scale", "x_zero_point"], ["x_q"], name="quantize_input"),
        helper.make_node("QLinearConv", ["x_q", "x_scale", "x_zero_point", "conv_w", "conv_w_scale",
                                         "conv_w_zero_point", "conv_y_scale", "conv_y_zero_point", "conv_b"],
                         ["conv_q"], name="qlinear_conv", pads=[1, 1, 1, 1]),
        helper.make_node("DequantizeLinear", ["conv_q", "conv_y_scale", "conv_y_zero_point"], ["conv_out"],
                         name="dequantize_conv"),
        helper.make_node("GlobalAveragePool", ["conv_out"], ["pool_out"], name="pool"),
        helper.make_node("Flatten", ["pool_out"], ["flat"], name="flatten"),
        helper.make_node("QuantizeLinear", ["flat", "flat_scale", "flat_zero_point"], ["flat_q"], name="quantize_flat"),
        helper.make_node("QLinearMatMul", ["flat_q", "flat_scale", "flat_zero_point", "mm_w", "mm_w_scale",
                                           "mm_w_zero_point", "mm_y_scale", "mm_y_zero_point"],
                         ["mm_q"], name="qlinear_matmul"),
        helper.make_node("DequantizeLinear", ["mm_q", "mm_y_scale", "mm_y_zero_point"], ["Y_qlinear"],
                         name="dequantize_matmul"),
        helper.make_node("ConvInteger", ["x_q", "ci_w", "x_zero_point", "ci_w_zero_point"], ["ci_int"],
                         name="conv_integer"),
        helper.make_node("Cast", ["ci_int"], ["ci_float"], name="cast_conv_integer", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["ci_float", "ci_output_scale"], ["Y_conv_integer"], name="scale_conv_integer"),
        helper.make_node("MatMulInteger", ["flat_q", "mi_w", "flat_zero_point", "mi_w_zero_point"], ["mi_int"],
                         name="matmul_integer"),
        helper.make_node("Cast", ["mi_int"], ["mi_float"], name="cast_matmul_integer", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["mi_float", "mi_output_scale"], ["Y_matmul_integer"], name="scale_matmul_integer"),
    ]
    graph = helper.make_graph(
        nodes, "quantized_qoperator", [vi("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [vi("Y_qlinear", TensorProto.FLOAT, [1, 6]), vi("Y_conv_integer", TensorProto.FLOAT, [1, 4, 6, 6]),
         vi("Y_matmul_integer", TensorProto.FLOAT, [1, 3])], inits)
    return save(make_model(graph), "quantized_qoperator.onnx")


def local_functions():
    """Model-local functions (IR 8, opset 15): weights passed into calls, Constant weights inside
    bodies, a nested call, attribute references (an int that decides Gemm's layout, a tensor that
    a body Constant takes as its value).

    Block(x, w; trans): Gemm(x, w, transB=@trans) -> Relu -> local.Dense (nested call)
    Dense(x):           MatMul(x, Dense::W [16, 8]) + Dense::b [8]   (Constants in the body)
    Proj(x; t):         Gemm(x, Proj::P [4, 8], transB=@t)           (one Constant, two layouts)
    Head(x, w; bias):   MatMul(x, w) + Constant(value=@bias)
    Graph: X [2, 8] -> Block(W1 [16, 8], trans=1) -> Block(W2, trans=1) -> Proj(t=1) -> Proj(t=0)
           -> Head(head_W [8, 4], bias=[4]) -> Y [2, 4]
    Dense is called twice (inside both Blocks) and Proj twice with transB 1 and 0: Proj::P reads
    as [N, K] = [4, 8] in one call and [K, N] = [4, 8] in the other.
    """
    rng = np.random.default_rng(1701)

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    domain = "local"
    opsets = [helper.make_opsetid("", 15), helper.make_opsetid(domain, 1)]

    def ref(name, attribute, kind):
        a = onnx.AttributeProto()
        a.name = name
        a.ref_attr_name = attribute
        a.type = kind
        return a

    gemm = helper.make_node("Gemm", ["x", "w"], ["g"], name="gemm")
    gemm.attribute.append(ref("transB", "trans", onnx.AttributeProto.INT))
    block = helper.make_function(
        domain, "Block", ["x", "w"], ["y"],
        [gemm, helper.make_node("Relu", ["g"], ["r"], name="relu"),
         helper.make_node("Dense", ["r"], ["y"], name="dense", domain=domain)],
        opsets, ["trans"])
    dense = helper.make_function(
        domain, "Dense", ["x"], ["y"],
        [helper.make_node("Constant", [], ["W"], value=t_f32_raw("W", normal(16, 8))),
         helper.make_node("Constant", [], ["b"], value=t_f32_raw("b", normal(8))),
         helper.make_node("MatMul", ["x", "W"], ["h"], name="matmul"),
         helper.make_node("Add", ["h", "b"], ["y"], name="add")],
        opsets, [])
    proj_gemm = helper.make_node("Gemm", ["x", "P"], ["y"], name="gemm")
    proj_gemm.attribute.append(ref("transB", "t", onnx.AttributeProto.INT))
    proj = helper.make_function(
        domain, "Proj", ["x"], ["y"],
        [helper.make_node("Constant", [], ["P"], value=t_f32_raw("P", normal(4, 8))), proj_gemm],
        opsets, ["t"])
    bias_constant = helper.make_node("Constant", [], ["c"], name="bias")
    bias_constant.attribute.append(ref("value", "bias", onnx.AttributeProto.TENSOR))
    head = helper.make_function(
        domain, "Head", ["x", "w"], ["y"],
        [helper.make_node("MatMul", ["x", "w"], ["m"], name="matmul"), bias_constant,
         helper.make_node("Add", ["m", "c"], ["y"], name="add")],
        opsets, ["bias"])
    nodes = [
        helper.make_node("Block", ["X", "W1"], ["h1"], name="block1", domain=domain, trans=1),
        helper.make_node("Block", ["h1", "W2"], ["h2"], name="block2", domain=domain, trans=1),
        helper.make_node("Proj", ["h2"], ["p"], name="proj1", domain=domain, t=1),
        helper.make_node("Proj", ["p"], ["q"], name="proj2", domain=domain, t=0),
        helper.make_node("Head", ["q", "head_W"], ["Y"], name="head", domain=domain,
                         bias=t_f32_raw("bias", normal(4))),
    ]
    graph = helper.make_graph(
        nodes, "local_functions",
        [vi("X", TensorProto.FLOAT, [2, 8])],
        [vi("Y", TensorProto.FLOAT, [2, 4])],
        [t_f32_raw("W1", normal(16, 8)), t_f32_raw("W2", normal(16, 8)), t_f32_raw("head_W", normal(8, 4))],
    )
    model = helper.make_model(graph, opset_imports=opsets, functions=[block, dense, proj, head],
                              producer_name=PRODUCER, producer_version="1")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    save(model, "local_functions.onnx")
    flat = inline_functions(model)
    onnx.checker.check_model(flat, full_check=True)
    return save(flat, "local_functions_inlined.onnx")


def einsum_models():
    """Einsum weights (opset 13): three plain two-operand equations, one with a bias added, and two
    weights that are not plain operands. einsum_matmul.onnx computes the plain ones with MatMul
    (the weight reshaped where the equation contracts two axes): the tests' reference for roles
    and fans.

      Y1 = einsum("abc,cd->abd", X1 [2,3,4], w1 [4,6]) + b1 [6]
      Y2 = einsum("abcd,cde->abe", X2 [2,3,4,5], w2 [4,5,6])
      Y3 = einsum("...x,xy->...y", X3 [2,7,8], w3 [8,3])
      Y4 = einsum("bi,ij,jk->bk", X4 [2,4], w4a [4,5], w4b [5,3])    three operands
      Y5 = einsum("...i,...ij->...j", X5 [2,4], w5 [2,4,3])           the weight has an ellipsis
    """
    rng = np.random.default_rng(1917)

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    w = {"w1": normal(4, 6), "b1": normal(6), "w2": normal(4, 5, 6), "w3": normal(8, 3),
         "w4a": normal(4, 5), "w4b": normal(5, 3), "w5": normal(2, 4, 3)}
    shapes = {"X1": [2, 3, 4], "X2": [2, 3, 4, 5], "X3": [2, 7, 8], "X4": [2, 4], "X5": [2, 4]}
    outputs = {"Y1": [2, 3, 6], "Y2": [2, 3, 6], "Y3": [2, 7, 3], "Y4": [2, 3], "Y5": [2, 3]}
    nodes = [
        helper.make_node("Einsum", ["X1", "w1"], ["E1"], name="einsum1", equation="abc,cd->abd"),
        helper.make_node("Add", ["E1", "b1"], ["Y1"], name="bias1"),
        helper.make_node("Einsum", ["X2", "w2"], ["Y2"], name="einsum2", equation="abcd,cde->abe"),
        helper.make_node("Einsum", ["X3", "w3"], ["Y3"], name="einsum3", equation="...x,xy->...y"),
        helper.make_node("Einsum", ["X4", "w4a", "w4b"], ["Y4"], name="einsum4", equation="bi,ij,jk->bk"),
        helper.make_node("Einsum", ["X5", "w5"], ["Y5"], name="einsum5", equation="...i,...ij->...j"),
    ]
    graph = helper.make_graph(
        nodes, "einsum",
        [vi(n, TensorProto.FLOAT, d) for n, d in shapes.items()],
        [vi(n, TensorProto.FLOAT, d) for n, d in outputs.items()],
        [t_f32_raw(n, a) for n, a in w.items()])
    save(make_model(graph), "einsum.onnx")

    # The plain equations as MatMul, checked against numpy's einsum on random inputs.
    x = {n: normal(*d) for n, d in shapes.items() if n in ("X1", "X2", "X3")}
    assert np.allclose(np.einsum("abc,cd->abd", x["X1"], w["w1"]), x["X1"] @ w["w1"], atol=1e-5)
    assert np.allclose(np.einsum("abcd,cde->abe", x["X2"], w["w2"]),
                       x["X2"].reshape(2, 3, 20) @ w["w2"].reshape(20, 6), atol=1e-5)
    assert np.allclose(np.einsum("...x,xy->...y", x["X3"], w["w3"]), x["X3"] @ w["w3"], atol=1e-5)
    nodes = [
        helper.make_node("MatMul", ["X1", "w1"], ["E1"], name="matmul1"),
        helper.make_node("Add", ["E1", "b1"], ["Y1"], name="bias1"),
        helper.make_node("Reshape", ["X2", "x2_shape"], ["X2r"], name="reshape_x2"),
        helper.make_node("Reshape", ["w2", "w2_shape"], ["w2r"], name="reshape_w2"),
        helper.make_node("MatMul", ["X2r", "w2r"], ["Y2"], name="matmul2"),
        helper.make_node("MatMul", ["X3", "w3"], ["Y3"], name="matmul3"),
    ]
    plain = ("w1", "b1", "w2", "w3")
    graph = helper.make_graph(
        nodes, "einsum_matmul",
        [vi(n, TensorProto.FLOAT, shapes[n]) for n in ("X1", "X2", "X3")],
        [vi(n, TensorProto.FLOAT, outputs[n]) for n in ("Y1", "Y2", "Y3")],
        [t_f32_raw(n, w[n]) for n in plain]
        + [t_i64_raw("x2_shape", np.array([2, 3, 20])), t_i64_raw("w2_shape", np.array([20, 6]))])
    save(make_model(graph), "einsum_matmul.onnx")


def norm_patterns():
    """Norm parameters that only the graph around their op identifies (opset 13, and ORT's
    com.microsoft domain): an embedding table, two Gemma-style offset RMSNorm scales, an ORT split
    LayerNorm, and a decoder tied to the table.

      e  = Gather(table [50,16], ids [2,5])
      n  = e * Reciprocal(Sqrt(ReduceMean(e^2) + eps))     RMSNorm without its scale
      g1 = n * (1 + gemma_w1 [16])                         Constant 1 first
      g2 = (Cast(gemma_w2 [16]) + [1]) * g1                1 second, through a Cast, Mul reversed
      h  = SimplifiedLayerNormalization(g2 - ReduceMean(g2), ln_scale [16]) + ln_bias [16]
      logits = com.microsoft::FusedMatMul(h, table, transB=1)   the decoder tied to the table
    The model's metadata "reference_roles" names each learned tensor's role (offset scales as
    "norm_scale+offset"): the tests' reference.
    """
    rng = np.random.default_rng(2024)
    tensors = [t_f32_raw("table", rng.standard_normal((50, 16)).astype(np.float32)),
               t_f32_raw("gemma_w1", (0.1 * rng.standard_normal(16)).astype(np.float32)),
               t_f32_raw("gemma_w2", (0.1 * rng.standard_normal(16)).astype(np.float32)),
               t_f32_raw("ln_scale", (1 + 0.1 * rng.standard_normal(16)).astype(np.float32)),
               t_f32_raw("ln_bias", (0.1 * rng.standard_normal(16)).astype(np.float32)),
               t_f32_raw("eps", np.array(1e-6, dtype=np.float32)),
               t_f32_raw("two", np.array(2.0, dtype=np.float32)),
               t_f32_raw("one_b", np.array([1.0], dtype=np.float32))]
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["e"], name="gather"),
        helper.make_node("Pow", ["e", "two"], ["e2"], name="pow"),
        helper.make_node("ReduceMean", ["e2"], ["ms"], name="mean_square", axes=[-1]),
        helper.make_node("Add", ["ms", "eps"], ["mse"], name="add_eps"),
        helper.make_node("Sqrt", ["mse"], ["rms"], name="sqrt"),
        helper.make_node("Reciprocal", ["rms"], ["inv"], name="reciprocal"),
        helper.make_node("Mul", ["e", "inv"], ["n"], name="normalize"),
        helper.make_node("Constant", [], ["one_a"], name="one", value=t_f32_raw("one_a", np.array(1.0, np.float32))),
        helper.make_node("Add", ["one_a", "gemma_w1"], ["s1"], name="offset1"),
        helper.make_node("Mul", ["n", "s1"], ["g1"], name="scale1"),
        helper.make_node("Cast", ["gemma_w2"], ["w2f"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Add", ["w2f", "one_b"], ["s2"], name="offset2"),
        helper.make_node("Mul", ["s2", "g1"], ["g2"], name="scale2"),
        helper.make_node("ReduceMean", ["g2"], ["mean"], name="mean", axes=[-1]),
        helper.make_node("Sub", ["g2", "mean"], ["centred"], name="centre"),
        helper.make_node("SimplifiedLayerNormalization", ["centred", "ln_scale"], ["ln"], name="split_ln",
                         axis=-1, epsilon=1e-5),
        helper.make_node("Add", ["ln", "ln_bias"], ["h"], name="ln_add_bias"),
        helper.make_node("FusedMatMul", ["h", "table"], ["logits"], name="decoder", domain="com.microsoft",
                         transB=1, alpha=1.0),
    ]
    graph = helper.make_graph(nodes, "norm_patterns", [vi("ids", TensorProto.INT64, [2, 5])],
                              [vi("logits", TensorProto.FLOAT, [2, 5, 50])], tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid("com.microsoft", 1)],
                              producer_name=PRODUCER, producer_version="1")
    model.ir_version = IR_VERSION
    entry = model.metadata_props.add()
    entry.key = "reference_roles"
    entry.value = ("table:embedding,gemma_w1:norm_scale+offset,gemma_w2:norm_scale+offset,"
                   "ln_scale:norm_scale,ln_bias:norm_bias")
    # Not checked: the ONNX checker knows no SimplifiedLayerNormalization (ORT's own op, which its
    # optimizer writes in the default domain); ONNX Runtime runs the model.
    return save(model, "norm_patterns.onnx")


def inline_functions(model):
    """`model` with every call of a model-local function replaced by the body, as a flat graph: the
    reference the tests compare onnx-reinit's reading of the functions with (written apart from
    graph_index.cc). A body Constant becomes one initializer "FUNCTION::OUTPUT" shared by all
    calls, a call's tensor attribute the initializer "CALL.ATTRIBUTE", other body values
    "CALL/VALUE"; attribute references take the call's attribute."""
    functions = {(f.domain, f.name): f for f in model.functions}
    initializers = {}

    def expand(call, label, tensors):
        function = functions[(call.domain, call.op_type)]
        names = dict(zip(function.input, call.input))
        names.update(zip(function.output, call.output))
        attributes = {a.name: a for a in call.attribute}
        nodes = []
        for body in function.node:
            value = next((a for a in body.attribute if a.name == "value"), None)
            if body.op_type == "Constant" and value is not None:
                name = tensors[value.ref_attr_name] if value.ref_attr_name else f"{function.name}::{body.output[0]}"
                if not value.ref_attr_name:
                    initializers[name] = value.t
                names[body.output[0]] = name
                continue
            node = onnx.NodeProto()
            node.CopyFrom(body)
            node.name = f"{label}/{body.name or body.op_type}"
            node.input[:] = [names.setdefault(n, f"{label}/{n}") if n else n for n in body.input]
            node.output[:] = [names.setdefault(n, f"{label}/{n}") for n in body.output]
            del node.attribute[:]
            for a in body.attribute:
                if not a.ref_attr_name:
                    node.attribute.append(a)
                elif a.ref_attr_name in attributes:
                    resolved = node.attribute.add()
                    resolved.CopyFrom(attributes[a.ref_attr_name])
                    resolved.name = a.name
            if (node.domain, node.op_type) in functions:
                passed = {a.name: tensors[a.ref_attr_name] for a in body.attribute if a.ref_attr_name in tensors}
                nodes += expand(node, node.name, passed)
            else:
                nodes.append(node)
        return nodes

    flat = onnx.ModelProto()
    flat.CopyFrom(model)
    del flat.functions[:]
    del flat.graph.node[:]
    for node in model.graph.node:
        if (node.domain, node.op_type) not in functions:
            flat.graph.node.append(node)
            continue
        tensors = {}
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                tensors[a.name] = f"{node.name}.{a.name}"
                initializers[tensors[a.name]] = a.t
        flat.graph.node.extend(expand(node, node.name, tensors))
    for name, tensor in initializers.items():
        t = flat.graph.initializer.add()
        t.CopyFrom(tensor)
        t.name = name
    del flat.opset_import[:]
    flat.opset_import.append(helper.make_opsetid("", 15))
    return flat


def main():
    constant_weights()
    dtypes_models()
    gemm_layouts()
    shared_two_consumers()
    ip = int_and_shape()
    malformed(ip)  # truncated.onnx = first half of int_and_shape.onnx
    subgraph_if()
    via_ops()
    ir3_inputs()
    sparse_init()
    rnn_models()
    ambiguous()
    quantized_qdq()
    quantized_qoperator()
    local_functions()
    einsum_models()
    norm_patterns()


if __name__ == "__main__":
    main()
