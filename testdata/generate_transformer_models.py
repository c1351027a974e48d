#!/usr/bin/env python3
"""Generate the small transformer fixtures for onnx-reinit's --preset, and what each
framework's own init code gives every tensor.

Five families, each written in plain torch.nn after the framework's published model code and
initialized by that framework's published init code (see the *_init functions):

  BERT   (huggingface/transformers models/bert/modeling_bert.py, BertPreTrainedModel._init_weights)
  GPT-2  (karpathy/nanoGPT model.py: GPT._init_weights and the scaled c_proj.weight)
  LLaMA  (huggingface/transformers models/llama/modeling_llama.py, LlamaPreTrainedModel._init_weights)
  Megatron GPT (NVIDIA/Megatron-LM megatron/core/utils.py init_method_normal and
         scaled_init_method_normal, as megatron/core/transformer/transformer_config.py assigns them)
  T5     (huggingface/transformers models/t5/modeling_t5.py, T5PreTrainedModel._init_weights), as
         the original T5 (ReLU, tied LM head) and as T5 v1.1 (gated GELU, untied lm_head)

Each is exported by torch.onnx.export (TorchScript exporter, opset 13, eval mode) twice: with
constant folding (the Linear weights become transposed copies named onnx::MatMul_N) and without
(the weights keep their module names and reach their MatMul through a Transpose).

The expectations go to transformer_models.expected.json: for each fixture, its preset, its
structure (blocks, residual adds, attention and MLP projections) and, for each initializer of the
ONNX file, the mean and std that the framework's init gives it, or "keep" for the tensors that
are not learned (rotary tables, masks). Initializers are matched to the torch parameters they
hold by exporting once with each parameter filled with its own marker value.

Needs Debian's python3-torch and python3-onnx. Run from the repository root:

    /usr/bin/python3 testdata/generate_transformer_models.py
"""
import json
import math
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
VOCAB, POSITIONS, D, HEADS, FF, LAYERS, SEQ = 64, 16, 32, 4, 64, 2, 8
INITIALIZER_RANGE = 0.02


class BertLayer(nn.Module):
    """Post-LN encoder layer with separate q, k, v projections (BertSelfAttention)."""

    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, D)
        self.attention_output = nn.Linear(D, D)
        self.attention_norm = nn.LayerNorm(D, eps=1e-12)
        self.intermediate = nn.Linear(D, FF)
        self.output = nn.Linear(FF, D)
        self.output_norm = nn.LayerNorm(D, eps=1e-12)

    def forward(self, x):
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, HEADS, D // HEADS).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(D // HEADS)
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D)
        x = self.attention_norm(x + self.attention_output(context))
        return self.output_norm(x + self.output(F.gelu(self.intermediate(x))))


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, D)
        self.position_embeddings = nn.Embedding(POSITIONS, D)
        self.token_type_embeddings = nn.Embedding(2, D)
        self.embeddings_norm = nn.LayerNorm(D, eps=1e-12)
        self.layers = nn.ModuleList(BertLayer() for _ in range(LAYERS))
        self.pooler = nn.Linear(D, D)

    def forward(self, ids, token_types):
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + \
            self.token_type_embeddings(token_types)
        x = self.embeddings_norm(x)
        for layer in self.layers:
            x = layer(x)
        return x, torch.tanh(self.pooler(x[:, 0]))


def bert_init(model):
    """BertPreTrainedModel._init_weights: Linear and Embedding N(0, initializer_range), biases
    zero, LayerNorm weight 1 and bias 0."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=INITIALIZER_RANGE)
            if getattr(module, "bias", None) is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)


class GPT2Block(nn.Module):
    """Pre-LN block with a packed q|k|v projection (c_attn) and a causal mask buffer."""

    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D)
        self.c_attn = nn.Linear(D, 3 * D)
        self.attn_c_proj = nn.Linear(D, D)
        self.ln_2 = nn.LayerNorm(D)
        self.c_fc = nn.Linear(D, 4 * D)
        self.mlp_c_proj = nn.Linear(4 * D, D)
        self.register_buffer("bias", torch.tril(torch.ones(POSITIONS, POSITIONS)).view(1, 1, POSITIONS, POSITIONS))

    def attention(self, x):
        b, t, _ = x.shape
        q, k, v = self.c_attn(x).split(D, dim=2)
        split = lambda y: y.view(b, t, HEADS, D // HEADS).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // HEADS))
        scores = scores.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
        return self.attn_c_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D))

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp_c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, D)
        self.wpe = nn.Embedding(POSITIONS, D)
        self.h = nn.ModuleList(GPT2Block() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(D)
        self.lm_head = nn.Linear(D, VOCAB, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as GPT-2's

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def gpt2_init(model):
    """nanoGPT: Linear N(0, 0.02) with zero biases, Embedding N(0, 0.02), LayerNorm 1/0, and the
    residual projections (c_proj.weight) N(0, 0.02 / sqrt(2 * n_layer))."""
    bert_init(model)
    for name, p in model.named_parameters():
        if name.endswith("c_proj.weight"):
            torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * LAYERS))


class RMSNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = RMSNorm()
        self.q_proj = nn.Linear(D, D, bias=False)
        self.k_proj = nn.Linear(D, D, bias=False)
        self.v_proj = nn.Linear(D, D, bias=False)
        self.o_proj = nn.Linear(D, D, bias=False)
        self.post_attention_layernorm = RMSNorm()
        self.gate_proj = nn.Linear(D, FF, bias=False)
        self.up_proj = nn.Linear(D, FF, bias=False)
        self.down_proj = nn.Linear(FF, D, bias=False)

    def attention(self, x, cos, sin):
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, HEADS, D // HEADS).transpose(1, 2)
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        scores = q @ k.transpose(2, 3) / math.sqrt(D // HEADS)
        return self.o_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D))

    def forward(self, x, cos, sin):
        x = x + self.attention(self.input_layernorm(x), cos, sin)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, D)
        self.layers = nn.ModuleList(LlamaLayer() for _ in range(LAYERS))
        self.norm = RMSNorm()
        self.lm_head = nn.Linear(D, VOCAB, bias=False)  # untied, as LLaMA's
        inv_freq = 1.0 / (10000 ** (torch.arange(0, D // HEADS, 2).float() / (D // HEADS)))
        freqs = torch.outer(torch.arange(SEQ).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos())
        self.register_buffer("sin_cached", emb.sin())

    def forward(self, ids):
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, self.cos_cached, self.sin_cached)
        return self.lm_head(self.norm(x))


def llama_init(model):
    """LlamaPreTrainedModel._init_weights: Linear and Embedding N(0, initializer_range), RMSNorm 1."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=INITIALIZER_RANGE)
        elif isinstance(module, RMSNorm):
            module.weight.data.fill_(1.0)


MEGATRON_LAYERS = 3  # not LAYERS, so that num_layers in sigma/sqrt(2*num_layers) is the graph's own


class MegatronLayer(nn.Module):
    """Megatron-core's GPT layer: pre-LN, one linear_qkv whose output is viewed per head as
    [heads, 3 * head_dim] and split into q, k, v (Megatron's interleaved layout), linear_proj, and a
    GELU MLP linear_fc1 / linear_fc2, all with biases."""

    def __init__(self):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(D)
        self.linear_qkv = nn.Linear(D, 3 * D)
        self.linear_proj = nn.Linear(D, D)
        self.pre_mlp_layernorm = nn.LayerNorm(D)
        self.linear_fc1 = nn.Linear(D, 4 * D)
        self.linear_fc2 = nn.Linear(4 * D, D)

    def attention(self, x):
        b, t, _ = x.shape
        head = D // HEADS
        mixed = self.linear_qkv(x).view(b, t, HEADS, 3 * head)
        q, k, v = (y.transpose(1, 2) for y in mixed.split(head, dim=-1))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(head)
        positions = torch.arange(t)
        causal = positions.unsqueeze(0) > positions.unsqueeze(1)  # Megatron's causal attention_mask
        scores = scores.masked_fill(causal, -10000.0)
        return self.linear_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D))

    def forward(self, x):
        x = x + self.attention(self.input_layernorm(x))
        return x + self.linear_fc2(F.gelu(self.linear_fc1(self.pre_mlp_layernorm(x))))


class Megatron(nn.Module):
    """Megatron-core's GPTModel with learned absolute positions and an untied output layer
    (--untie-embeddings-and-output-weights)."""

    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, D)
        self.position_embeddings = nn.Embedding(POSITIONS, D)
        self.layers = nn.ModuleList(MegatronLayer() for _ in range(MEGATRON_LAYERS))
        self.final_layernorm = nn.LayerNorm(D)
        self.output_layer = nn.Linear(D, VOCAB, bias=False)

    def forward(self, ids):
        x = self.word_embeddings(ids) + self.position_embeddings(torch.arange(ids.shape[1]))
        for layer in self.layers:
            x = layer(x)
        return self.output_layer(self.final_layernorm(x))


def init_method_normal(sigma):
    """Megatron-LM megatron/core/utils.py: N(0, sigma)."""
    return lambda tensor: torch.nn.init.normal_(tensor, mean=0.0, std=sigma)


def scaled_init_method_normal(sigma, num_layers):
    """Megatron-LM megatron/core/utils.py: N(0, sigma / sqrt(2 * num_layers))."""
    return lambda tensor: torch.nn.init.normal_(tensor, mean=0.0, std=sigma / math.sqrt(2.0 * num_layers))


def megatron_init(model):
    """TransformerConfig's defaults (init_method_std = 0.02): embeddings, linear_qkv, linear_fc1 and
    the output layer init_method; linear_proj and linear_fc2 (the output layers of attention and
    MLP) output_layer_init_method; biases zero; LayerNorm 1/0."""
    init_method = init_method_normal(INITIALIZER_RANGE)
    output_layer_init_method = scaled_init_method_normal(INITIALIZER_RANGE, MEGATRON_LAYERS)
    for embedding in (model.word_embeddings, model.position_embeddings):
        init_method(embedding.weight)
    init_method(model.output_layer.weight)
    for layer in model.layers:
        for linear in (layer.linear_qkv, layer.linear_fc1):
            init_method(linear.weight)
        for linear in (layer.linear_proj, layer.linear_fc2):
            output_layer_init_method(linear.weight)
        for module in layer.modules():
            if isinstance(module, nn.Linear):
                module.bias.data.zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.data.fill_(1.0)
                module.bias.data.zero_()
    model.final_layernorm.weight.data.fill_(1.0)
    model.final_layernorm.bias.data.zero_()


T5_D_KV, T5_FF, T5_BUCKETS, T5_MAX_DISTANCE = 16, 48, 8, 16  # d_kv * heads = 64 != d_model: q, o differ


class T5LayerNorm(nn.Module):
    """T5's RMS norm: no mean subtracted, no bias."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))


def relative_position_bucket(relative_position, bidirectional):
    """T5Attention._relative_position_bucket."""
    buckets, num_buckets = 0, T5_BUCKETS
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    if_large = max_exact + (torch.log(relative_position.float() / max_exact) /
                            math.log(T5_MAX_DISTANCE / max_exact) * (num_buckets - max_exact)).to(torch.long)
    if_large = torch.min(if_large, torch.full_like(if_large, num_buckets - 1))
    return buckets + torch.where(is_small, relative_position, if_large)


class T5Attention(nn.Module):
    """T5Attention: q, k, v, o without biases, no 1/sqrt(d_kv) before the softmax, and in the first
    block of each stack a relative_attention_bias Embedding(buckets, heads)."""

    def __init__(self, has_relative_attention_bias, bidirectional):
        super().__init__()
        inner = HEADS * T5_D_KV
        self.q, self.k, self.v = nn.Linear(D, inner, bias=False), nn.Linear(D, inner, bias=False), \
            nn.Linear(D, inner, bias=False)
        self.o = nn.Linear(inner, D, bias=False)
        self.bidirectional = bidirectional
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(T5_BUCKETS, HEADS)

    def compute_bias(self, query_length, key_length):
        context = torch.arange(query_length)[:, None]
        memory = torch.arange(key_length)[None, :]
        buckets = relative_position_bucket(memory - context, self.bidirectional)
        return self.relative_attention_bias(buckets).permute([2, 0, 1]).unsqueeze(0)

    def forward(self, x, position_bias, key_value_states=None):
        b = x.shape[0]
        source = x if key_value_states is None else key_value_states
        shape = lambda y: y.view(b, -1, HEADS, T5_D_KV).transpose(1, 2)
        q, k, v = shape(self.q(x)), shape(self.k(source)), shape(self.v(source))
        scores = q @ k.transpose(3, 2) + position_bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, -1, HEADS * T5_D_KV)
        return self.o(context)


class T5DenseActDense(nn.Module):
    def __init__(self):
        super().__init__()
        self.wi, self.wo = nn.Linear(D, T5_FF, bias=False), nn.Linear(T5_FF, D, bias=False)

    def forward(self, x):
        return self.wo(F.relu(self.wi(x)))


class T5DenseGatedActDense(nn.Module):
    """T5 v1.1's gated-GELU feed-forward."""

    def __init__(self):
        super().__init__()
        self.wi_0, self.wi_1 = nn.Linear(D, T5_FF, bias=False), nn.Linear(D, T5_FF, bias=False)
        self.wo = nn.Linear(T5_FF, D, bias=False)

    def forward(self, x):
        return self.wo(F.gelu(self.wi_0(x), approximate="tanh") * self.wi_1(x))


class T5Block(nn.Module):
    """Pre-norm sublayers: self-attention, in the decoder cross-attention over the encoder's output,
    and the feed-forward, each added to the stream."""

    def __init__(self, decoder, first, gated):
        super().__init__()
        self.self_attention = T5Attention(first, bidirectional=not decoder)
        self.self_attention_norm = T5LayerNorm()
        if decoder:
            self.cross_attention = T5Attention(False, bidirectional=False)
            self.cross_attention_norm = T5LayerNorm()
        self.ff = T5DenseGatedActDense() if gated else T5DenseActDense()
        self.ff_norm = T5LayerNorm()

    def forward(self, x, position_bias, encoder_output=None, cross_bias=None):
        x = x + self.self_attention(self.self_attention_norm(x), position_bias)
        if encoder_output is not None:
            x = x + self.cross_attention(self.cross_attention_norm(x), cross_bias, encoder_output)
        return x + self.ff(self.ff_norm(x))


class T5Stack(nn.Module):
    def __init__(self, decoder, gated):
        super().__init__()
        self.decoder = decoder
        self.block = nn.ModuleList(T5Block(decoder, i == 0, gated) for i in range(LAYERS))
        self.final_layer_norm = T5LayerNorm()

    def forward(self, x, mask, encoder_output=None, encoder_mask=None):
        t = x.shape[1]
        # The first block's relative bias serves every block of the stack, plus the mask.
        position_bias = self.block[0].self_attention.compute_bias(t, t) + mask
        for block in self.block:
            x = block(x, position_bias, encoder_output, encoder_mask)
        return self.final_layer_norm(x)


class T5(nn.Module):
    """T5ForConditionalGeneration: a shared embedding, an encoder and a decoder stack; the original
    T5 (ReLU feed-forward, LM head tied to the shared embedding, the decoder output scaled by
    d_model^-0.5) or T5 v1.1 (gated-GELU feed-forward, untied lm_head). Attention masks are inputs,
    as exports for inference take them."""

    def __init__(self, v1_1):
        super().__init__()
        self.v1_1 = v1_1
        self.shared = nn.Embedding(VOCAB, D)
        self.encoder, self.decoder = T5Stack(False, v1_1), T5Stack(True, v1_1)
        self.lm_head = nn.Linear(D, VOCAB, bias=False)
        if not v1_1:
            self.lm_head.weight = self.shared.weight

    def forward(self, ids, mask, decoder_ids):
        extended = (1.0 - mask[:, None, None, :].float()) * -1e9
        t = decoder_ids.shape[1]
        causal = (torch.arange(t)[None, :] > torch.arange(t)[:, None]).float() * -1e9
        encoded = self.encoder(self.shared(ids), extended)
        decoded = self.decoder(self.shared(decoder_ids), causal[None, None], encoded, extended)
        if not self.v1_1:
            decoded = decoded * D ** -0.5
        return self.lm_head(decoded)


def t5_init(model):
    """T5PreTrainedModel._init_weights with initializer_factor 1: the shared embedding (and an
    untied lm_head) N(0, 1); q N(0, (d_model * d_kv)^-0.5), k and v N(0, d_model^-0.5), o N(0,
    (n_heads * d_kv)^-0.5), relative_attention_bias N(0, d_model^-0.5); wi, wi_0, wi_1 N(0,
    d_model^-0.5), wo N(0, d_ff^-0.5); layer norms 1."""
    factor, d_model, d_kv, n_heads, d_ff = 1.0, D, T5_D_KV, HEADS, T5_FF
    model.shared.weight.data.normal_(mean=0.0, std=factor * 1.0)
    if model.v1_1:
        model.lm_head.weight.data.normal_(mean=0.0, std=factor * 1.0)
    for module in model.modules():
        if isinstance(module, T5LayerNorm):
            module.weight.data.fill_(factor * 1.0)
        elif isinstance(module, T5DenseActDense):
            module.wi.weight.data.normal_(mean=0.0, std=factor * d_model ** -0.5)
            module.wo.weight.data.normal_(mean=0.0, std=factor * d_ff ** -0.5)
        elif isinstance(module, T5DenseGatedActDense):
            module.wi_0.weight.data.normal_(mean=0.0, std=factor * d_model ** -0.5)
            module.wi_1.weight.data.normal_(mean=0.0, std=factor * d_model ** -0.5)
            module.wo.weight.data.normal_(mean=0.0, std=factor * d_ff ** -0.5)
        elif isinstance(module, T5Attention):
            module.q.weight.data.normal_(mean=0.0, std=factor * (d_model * d_kv) ** -0.5)
            module.k.weight.data.normal_(mean=0.0, std=factor * d_model ** -0.5)
            module.v.weight.data.normal_(mean=0.0, std=factor * d_model ** -0.5)
            module.o.weight.data.normal_(mean=0.0, std=factor * (n_heads * d_kv) ** -0.5)
            if hasattr(module, "relative_attention_bias"):
                module.relative_attention_bias.weight.data.normal_(mean=0.0, std=factor * d_model ** -0.5)


def export(model, args, path, input_names, output_names, folding):
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, export_params=True, opset_version=OPSET,
                          do_constant_folding=folding, input_names=input_names,
                          output_names=output_names, training=torch.onnx.TrainingMode.EVAL)


class Recorder:
    """torch.nn.init.normal_ and Tensor.normal_ calls record the std they were given, so that the
    expectations are the init code's own arguments."""

    def __init__(self, model):
        self.by_tensor = {}
        self.model = model

    def __enter__(self):
        self.normal_, self.tensor_normal_ = torch.nn.init.normal_, torch.Tensor.normal_
        recorder = self

        def normal_(tensor, mean=0.0, std=1.0):
            recorder.by_tensor[tensor.data_ptr()] = [float(mean), float(std)]
            with torch.no_grad():
                return recorder.tensor_normal_(tensor, mean, std)

        def tensor_normal_(tensor, mean=0.0, std=1.0, **kwargs):
            recorder.by_tensor[tensor.data_ptr()] = [float(mean), float(std)]
            return recorder.tensor_normal_(tensor, mean, std, **kwargs)

        torch.nn.init.normal_ = normal_
        torch.Tensor.normal_ = tensor_normal_
        return self

    def __exit__(self, *exc):
        torch.nn.init.normal_, torch.Tensor.normal_ = self.normal_, self.tensor_normal_

    def moments(self):
        """Each parameter's [mean, std]: the last normal draw it got, or its constant value."""
        result = {}
        for name, p in self.model.named_parameters():
            values = p.detach().numpy()
            if p.data_ptr() in self.by_tensor:
                result[name] = self.by_tensor[p.data_ptr()]
            elif np.all(values == values.flat[0]):
                result[name] = [float(values.flat[0]), 0.0]
            else:
                raise AssertionError(f"{name}: not initialized by the init code")
        return result


def find_holders(model, args, input_names, output_names, folding):
    """Which initializer of the export holds which parameter: every parameter filled with its own
    marker value k + 1, exported, and found again by its values."""
    params = dict(model.named_parameters())
    state = {name: p.detach().clone() for name, p in params.items()}
    path = os.path.join(HERE, ".markers.onnx")
    with torch.no_grad():
        for k, p in enumerate(params.values()):
            p.fill_(k + 1)
        export(model, args, path, input_names, output_names, folding)
        for name, p in params.items():
            p.copy_(state[name])
    marker = {float(k + 1): name for k, name in enumerate(params)}
    holders = {}
    for tensor in onnx.load(path).graph.initializer:
        values = onnx.numpy_helper.to_array(tensor)
        if values.dtype.kind == "f" and values.size > 0 and np.all(values == values.flat[0]) \
                and float(values.flat[0]) in marker:
            holders[tensor.name] = marker[float(values.flat[0])]
    os.remove(path)
    return holders


def main():
    families = [
        ("bert", Bert, bert_init, (torch.randint(0, VOCAB, (1, SEQ)), torch.zeros(1, SEQ, dtype=torch.long)),
         ["ids", "token_types"], ["hidden", "pooled"],
         # attention: separate q, k, v; the pooler is a weight outside the blocks
         {"blocks": LAYERS, "residual_adds": 2 * LAYERS, "attention_outputs": LAYERS, "mlp_downs": LAYERS,
          "qkv": [LAYERS, LAYERS, LAYERS, 0], "mlp_ups": LAYERS}),
        ("gpt2", GPT2, gpt2_init, (torch.randint(0, VOCAB, (1, SEQ)),), ["ids"], ["logits"],
         {"blocks": LAYERS, "residual_adds": 2 * LAYERS, "attention_outputs": LAYERS, "mlp_downs": LAYERS,
          "qkv": [0, 0, 0, LAYERS], "mlp_ups": LAYERS}),
        ("llama", Llama, llama_init, (torch.randint(0, VOCAB, (1, SEQ)),), ["ids"], ["logits"],
         {"blocks": LAYERS, "residual_adds": 2 * LAYERS, "attention_outputs": LAYERS, "mlp_downs": LAYERS,
          "qkv": [LAYERS, LAYERS, LAYERS, 0], "mlp_ups": 2 * LAYERS}),
        ("megatron", Megatron, megatron_init, (torch.randint(0, VOCAB, (1, SEQ)),), ["ids"], ["logits"],
         {"blocks": MEGATRON_LAYERS, "residual_adds": 2 * MEGATRON_LAYERS, "attention_outputs": MEGATRON_LAYERS,
          "mlp_downs": MEGATRON_LAYERS, "qkv": [0, 0, 0, MEGATRON_LAYERS], "mlp_ups": MEGATRON_LAYERS}),
    ]
    # T5: LAYERS encoder blocks (self-attention, feed-forward) and LAYERS decoder blocks
    # (self-attention, cross-attention, feed-forward); the attention widths T5's factors read.
    t5_args = (torch.randint(0, VOCAB, (1, SEQ)), torch.ones(1, SEQ, dtype=torch.long),
               torch.randint(0, VOCAB, (1, SEQ)))
    for family, v1_1 in (("t5", False), ("t5_v1_1", True)):
        families.append(
            (family, lambda v1_1=v1_1: T5(v1_1), t5_init, t5_args, ["ids", "mask", "decoder_ids"], ["logits"],
             {"blocks": 2 * LAYERS, "residual_adds": 5 * LAYERS, "attention_outputs": 3 * LAYERS,
              "cross_attentions": LAYERS, "mlp_downs": 2 * LAYERS, "qkv": [3 * LAYERS] * 3 + [0],
              "mlp_ups": (4 if v1_1 else 2) * LAYERS,
              "attention_widths": {"d_model": D, "d_kv": T5_D_KV, "n_heads": HEADS, "d_ff": T5_FF}}))
    expectations = {}
    for seed, (family, cls, init, args, inputs, outputs, structure) in enumerate(families):
        for folding in (True, False):
            torch.manual_seed(seed)
            model = cls()
            with Recorder(model) as recorder:
                init(model)
            moments = recorder.moments()
            filename = f"torch_{family}{'' if folding else '_nofold'}.onnx"
            path = os.path.join(HERE, filename)
            holders = find_holders(model, args, inputs, outputs, folding)
            export(model, args, path, inputs, outputs, folding)
            onnx.checker.check_model(onnx.load(path), full_check=True)
            tensors = {}
            for tensor in onnx.load(path).graph.initializer:
                if tensor.data_type != onnx.TensorProto.FLOAT:
                    continue
                tensors[tensor.name] = moments[holders[tensor.name]] if tensor.name in holders else "keep"
            expectations[filename] = {"preset": family.split("_")[0], "structure": structure, "tensors": tensors}
            print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")
    with open(os.path.join(HERE, "transformer_models.expected.json"), "w") as f:
        json.dump(expectations, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
