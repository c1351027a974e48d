#!/usr/bin/env python3
"""Generate the ONNX Runtime contrib-op fixtures in testdata/ (com.microsoft ops and ORT's
default-domain SimplifiedLayerNormalization), built with onnx.helper by their specs in
onnxruntime's docs/ContribOperators.md, as ORT's transformer optimizer and onnxruntime-genai's
model builder write them.

Needs python3-onnx and python3-numpy. Run from the repository root:

    /usr/bin/python3 testdata/generate_contrib_models.py

Weights are drawn with a fixed numpy seed and a "trained" std (0.3) that no default init gives,
so a test sees which tensors were rewritten. Every model here runs in ONNX Runtime on CPU
(tests/ort/run_model.js), except *_noort.onnx: the ops in it (NhwcConv, GroupNorm, BiasAdd,
BiasSplitGelu) have CUDA kernels only.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
PRODUCER = "onnx-reinit testdata/generate_contrib_models.py"
MS = "com.microsoft"
TRAINED_STD = 0.3

rng = np.random.default_rng(17)


def trained(name, *shape):
    return helper.make_tensor(name, TensorProto.FLOAT, shape,
                              (rng.standard_normal(shape) * TRAINED_STD + 0.1).astype(np.float32).ravel())


def ints(name, values, dtype=TensorProto.INT64):
    values = np.asarray(values)
    return helper.make_tensor(name, dtype, values.shape, values.ravel().tolist())


def ms(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, domain=MS, name=outputs[0], **attrs)


def save(graph, filename, opset=17):
    model = helper.make_model(graph, producer_name=PRODUCER, opset_imports=[
        helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    onnx.save(model, os.path.join(HERE, filename))
    print("wrote", filename)


def token_ids(source, name):
    """int32 ids 0 or 1 computed from a float input, so that any input gives valid indices."""
    return [helper.make_node("Sign", [source], [name + "_sign"]),
            helper.make_node("Relu", [name + "_sign"], [name + "_relu"]),
            helper.make_node("Cast", [name + "_relu"], [name], to=TensorProto.INT32)]


def bert_layer():
    """One BERT layer after ORT's transformer optimizer: EmbedLayerNormalization, Attention with a
    fused QKV weight and packed bias, SkipLayerNormalization with the dense bias folded in,
    BiasGelu, FastGelu, MultiHeadAttention with a packed bias, FusedMatMul, and the simplified
    (RMS) norms ORT writes for T5/LLaMA-like layers."""
    H, V, S, I = 32, 16, 4, 64
    nodes = token_ids("x", "input_ids") + token_ids("x", "segment_ids")
    nodes += [
        ms("EmbedLayerNormalization", ["input_ids", "segment_ids", "word_embedding", "position_embedding",
                                       "segment_embedding", "emb_gamma", "emb_beta"], ["emb", "mask_index"]),
        ms("Attention", ["emb", "qkv_weight", "qkv_bias"], ["attn"], num_heads=4),
        helper.make_node("MatMul", ["attn", "attn_out_weight"], ["attn_dense"]),
        ms("SkipLayerNormalization", ["attn_dense", "emb", "ln1_gamma", "ln1_beta", "attn_out_bias"], ["ln1"]),
        helper.make_node("MatMul", ["ln1", "ffn_in_weight"], ["ffn_in"]),
        ms("BiasGelu", ["ffn_in", "ffn_in_bias"], ["gelu"]),
        helper.make_node("MatMul", ["gelu", "ffn_out_weight"], ["ffn_out"]),
        ms("SkipLayerNormalization", ["ffn_out", "ln1", "ln2_gamma", "ln2_beta", "ffn_out_bias"], ["ln2"]),
        helper.make_node("MatMul", ["ln2", "head_weight"], ["head"]),
        ms("FastGelu", ["head", "head_bias"], ["head_gelu"]),
        helper.make_node("MatMul", ["head_gelu", "q_weight"], ["q"]),
        helper.make_node("MatMul", ["head_gelu", "k_weight"], ["k"]),
        helper.make_node("MatMul", ["head_gelu", "v_weight"], ["v"]),
        ms("MultiHeadAttention", ["q", "k", "v", "qkv_packed_bias"], ["mha"], num_heads=4),
        ms("FusedMatMul", ["mha", "fused_weight"], ["fused"], transB=1, alpha=1.0),
        helper.make_node("SimplifiedLayerNormalization", ["fused", "rms_scale"], ["rms"], axis=-1, epsilon=1e-6),
        ms("SkipSimplifiedLayerNormalization", ["rms", "fused", "skip_rms_gamma", "skip_rms_bias"], ["y"]),
    ]
    initializers = [
        trained("word_embedding", V, H), trained("position_embedding", S, H), trained("segment_embedding", 2, H),
        trained("emb_gamma", H), trained("emb_beta", H),
        trained("qkv_weight", H, 3 * H), trained("qkv_bias", 3 * H),
        trained("attn_out_weight", H, H), trained("attn_out_bias", H), trained("ln1_gamma", H), trained("ln1_beta", H),
        trained("ffn_in_weight", H, I), trained("ffn_in_bias", I),
        trained("ffn_out_weight", I, H), trained("ffn_out_bias", H), trained("ln2_gamma", H), trained("ln2_beta", H),
        trained("head_weight", H, H), trained("head_bias", H),
        trained("q_weight", H, H), trained("k_weight", H, H), trained("v_weight", H, H),
        trained("qkv_packed_bias", 3 * H),
        trained("fused_weight", H // 2, H),  # [N, K] read with transB=1
        trained("rms_scale", H // 2), trained("skip_rms_gamma", H // 2), trained("skip_rms_bias", H // 2),
    ]
    graph = helper.make_graph(nodes, "ort_bert_layer",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, S])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, S, H // 2])], initializers)
    save(graph, "ort_contrib_bert.onnx")


def attention_qkv_sizes():
    """Attention whose V is narrower than Q and K (qkv_hidden_sizes): the parts of the fused weight
    have different fans."""
    H, S = 16, 3
    nodes = [ms("Attention", ["x", "qkv_weight", "qkv_bias"], ["y"], num_heads=2, qkv_hidden_sizes=[16, 16, 8])]
    graph = helper.make_graph(nodes, "attention_qkv_hidden_sizes",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, S, H])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, S, 8])],
                              [trained("qkv_weight", H, 40), trained("qkv_bias", 40)])
    save(graph, "ort_contrib_attention_sizes.onnx")


def llm_layer():
    """An LLM layer as onnxruntime-genai writes it (without the int4 weights): RMS norms,
    RotaryEmbedding and GroupQueryAttention with their cos/sin caches, FusedGemm and FusedConv."""
    H, S, HEAD, MAX_POS = 64, 4, 16, 16
    half = HEAD // 2
    inv_freq = 1.0 / (10000 ** (np.arange(half) / half))
    angles = np.outer(np.arange(MAX_POS), inv_freq)
    nodes = [
        helper.make_node("SimplifiedLayerNormalization", ["x", "input_norm"], ["normed"], axis=-1, epsilon=1e-6),
        helper.make_node("MatMul", ["normed", "q_proj"], ["q"]),
        helper.make_node("MatMul", ["normed", "k_proj"], ["k"]),
        helper.make_node("MatMul", ["normed", "v_proj"], ["v"]),
        ms("GroupQueryAttention", ["q", "k", "v", "", "", "seqlens_k", "total_sequence_length", "cos_cache", "sin_cache"],
           ["attn", "present_key", "present_value"], num_heads=4, kv_num_heads=4, do_rotary=1),
        ms("RotaryEmbedding", ["attn", "position_ids", "cos_cache", "sin_cache"], ["rotated"], num_heads=4),
        ms("SkipSimplifiedLayerNormalization", ["rotated", "x", "post_norm"], ["post"]),
        helper.make_node("Reshape", ["post", "shape_2d"], ["post_2d"]),
        ms("FusedGemm", ["post_2d", "gemm_weight", "gemm_bias"], ["gemm"], transB=1, activation="Relu"),
        helper.make_node("Reshape", ["gemm", "shape_4d"], ["gemm_4d"]),
        ms("FusedConv", ["gemm_4d", "conv_weight", "conv_bias"], ["y"], activation="Relu", kernel_shape=[1, 1]),
    ]
    initializers = [
        trained("input_norm", H), trained("q_proj", H, H), trained("k_proj", H, H), trained("v_proj", H, H),
        ints("seqlens_k", [S - 1], TensorProto.INT32), ints("total_sequence_length", [S], TensorProto.INT32),
        helper.make_tensor("cos_cache", TensorProto.FLOAT, angles.shape, np.cos(angles).astype(np.float32).ravel()),
        helper.make_tensor("sin_cache", TensorProto.FLOAT, angles.shape, np.sin(angles).astype(np.float32).ravel()),
        ints("position_ids", [list(range(S))]), trained("post_norm", H),
        ints("shape_2d", [S, H]), trained("gemm_weight", H, H), trained("gemm_bias", H),
        ints("shape_4d", [1, H, S, 1]), trained("conv_weight", 8, H, 1, 1), trained("conv_bias", 8),
    ]
    graph = helper.make_graph(nodes, "genai_llm_layer",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, S, H])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, S, 1])], initializers)
    save(graph, "ort_contrib_llm.onnx")


def cuda_only():
    """Ops ORT runs on CUDA only: NhwcConv ([M, kH, kW, C/group] weight), GroupNorm (NHWC), BiasAdd,
    BiasSplitGelu (diffusion models)."""
    C, HW = 16, 4
    nodes = [
        ms("NhwcConv", ["x", "nhwc_weight", "nhwc_bias"], ["conv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        ms("GroupNorm", ["conv", "gn_gamma", "gn_beta"], ["gn"], groups=4, activation=0, epsilon=1e-5),
        helper.make_node("Reshape", ["gn", "shape_nsc"], ["gn_nsc"]),
        ms("BiasAdd", ["gn_nsc", "add_bias", "gn_nsc"], ["added"]),
        ms("BiasSplitGelu", ["added", "split_bias"], ["y"]),
    ]
    initializers = [
        trained("nhwc_weight", C, 3, 3, 8), trained("nhwc_bias", C), trained("gn_gamma", C), trained("gn_beta", C),
        ints("shape_nsc", [1, HW * HW, C]), trained("add_bias", C), trained("split_bias", C),
    ]
    graph = helper.make_graph(nodes, "cuda_only_contrib_ops",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, HW, HW, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, HW * HW, C // 2])],
                              initializers)
    save(graph, "ort_contrib_cuda_noort.onnx")


def qgemm():
    """QGemm as ONNX Runtime's quantizer writes a Gemm (QOperator format): uint8 activations, int8
    weights with per-column scales, an int32 bias quantized with a_scale * b_scale. One QGemm with
    transB = 1 (B [N, K], scales along axis 0), one with transB = 0 (B [K, N], along axis 1)."""
    local = np.random.default_rng(4242)
    K, N1, N2 = 16, 8, 4

    def int8_per_column(w, axis):
        scale = (np.abs(w).max(axis=1 - axis) / 127).astype(np.float32)
        shape = [-1, 1] if axis == 0 else [1, -1]
        return np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8), scale

    def tensor(name, values, dtype):
        values = np.asarray(values)
        return helper.make_tensor(name, dtype, values.shape, values.tobytes(), raw=True)

    w1, s1 = int8_per_column((local.standard_normal((N1, K)) * TRAINED_STD).astype(np.float32), 0)
    w2, s2 = int8_per_column((local.standard_normal((N1, N2)) * TRAINED_STD).astype(np.float32), 1)
    a_scale, h_scale = np.float32(0.02), np.float32(0.05)
    b1 = np.rint(local.standard_normal(N1) * 0.1 / (a_scale * s1)).astype(np.int32)
    b2 = np.rint(local.standard_normal(N2) * 0.1 / (h_scale * s2)).astype(np.int32)
    initializers = [
        tensor("a_scale", a_scale, TensorProto.FLOAT), tensor("a_zero_point", np.uint8(128), TensorProto.UINT8),
        tensor("fc1_B", w1, TensorProto.INT8), tensor("fc1_B_scale", s1, TensorProto.FLOAT),
        tensor("fc1_B_zero_point", np.zeros(N1, np.int8), TensorProto.INT8), tensor("fc1_C", b1, TensorProto.INT32),
        tensor("h_scale", h_scale, TensorProto.FLOAT), tensor("h_zero_point", np.uint8(128), TensorProto.UINT8),
        tensor("fc2_B", w2, TensorProto.INT8), tensor("fc2_B_scale", s2, TensorProto.FLOAT),
        tensor("fc2_B_zero_point", np.zeros(N2, np.int8), TensorProto.INT8), tensor("fc2_C", b2, TensorProto.INT32),
        tensor("y_scale", np.float32(0.05), TensorProto.FLOAT), tensor("y_zero_point", np.uint8(128), TensorProto.UINT8),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "a_scale", "a_zero_point"], ["x_q"], name="quantize_x"),
        ms("QGemm", ["x_q", "a_scale", "a_zero_point", "fc1_B", "fc1_B_scale", "fc1_B_zero_point", "fc1_C",
                     "h_scale", "h_zero_point"], ["fc1"], transB=1),
        ms("QGemm", ["fc1", "h_scale", "h_zero_point", "fc2_B", "fc2_B_scale", "fc2_B_zero_point", "fc2_C",
                     "y_scale", "y_zero_point"], ["fc2"]),
        helper.make_node("DequantizeLinear", ["fc2", "y_scale", "y_zero_point"], ["y"], name="dequantize_y"),
    ]
    graph = helper.make_graph(nodes, "qgemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, K])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, N2])], initializers)
    save(graph, "ort_contrib_qgemm.onnx")


if __name__ == "__main__":
    bert_layer()
    attention_qkv_sizes()
    llm_layer()
    cuda_only()
    qgemm()
