#!/usr/bin/env python3
"""Generate the PyTorch-exported ONNX fixture models in testdata/.

Needs PyTorch (Debian: python3-torch; written against torch 1.13 with its
TorchScript-based torch.onnx.export) and, for the final check, onnx
(python3-onnx).  Run from the repository root:

    /usr/bin/python3 testdata/generate_torch_models.py

All models are exported in eval mode, opset 13 (one transformer also with
opset 17), static shapes, with a fixed torch.manual_seed per model, and
do_constant_folding=True except for the *_nofold models and the scripted
If model, whose weights reach their ops as pieces (Slice, Split, Concat).
"""
import collections
import contextlib
import math
import os

import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13


def export(model, args, filename, input_names, output_names, seed_note="",
           opset=OPSET, no_grad=True, folding=True, functions=False):
    path = os.path.join(HERE, filename)
    model.eval()
    # no_grad=False is needed for nn.TransformerEncoderLayer: in eval mode
    # under torch.no_grad() torch 1.13 takes its fused "fast path"
    # (aten::_transformer_encoder_layer_fwd), which has no ONNX export.
    # With grad enabled and parameters requiring grad, the fast path is
    # skipped and the layer exports as ordinary ops.
    with torch.no_grad() if no_grad else contextlib.nullcontext():
        torch.onnx.export(
            model,
            args,
            path,
            export_params=True,
            opset_version=opset,
            do_constant_folding=folding,
            input_names=input_names,
            output_names=output_names,
            training=torch.onnx.TrainingMode.EVAL,
            export_modules_as_functions=functions,
        )
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.dw = nn.Conv2d(8, 8, 3, groups=8)
        self.gconv = nn.Conv2d(8, 16, 1, groups=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.relu(self.bn(self.conv(x)))
        x = self.gconv(self.dw(x))
        return self.fc(self.flatten(self.pool(x)))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(torch.relu(self.fc(x)))


class DCGANGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 4, 1, 0),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 3, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z)


class Conv1d3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 3)
        self.c3 = nn.Conv3d(2, 4, (3, 3, 3))

    def forward(self, a, b):
        return self.c1(a), self.c3(b)


class LSTMText(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.lstm = nn.LSTM(8, 6, batch_first=True)
        self.fc = nn.Linear(6, 3)

    def forward(self, ids):
        out, _ = self.lstm(self.emb(ids))
        return self.fc(out[:, -1, :])


class GRUText(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(40, 8)
        self.gru = nn.GRU(8, 5, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(10, 2)

    def forward(self, ids):
        out, _ = self.gru(self.emb(ids))
        return self.fc(out[:, -1, :])


class LSTMInIf(nn.Module):
    """An LSTM in one branch of an If (scripted control flow), a Linear in the other.

    torch.jit.script exports the branch as a subgraph; the LSTM's parameters
    become Constant nodes of the main graph that the branch reads from the
    outer scope, sliced per gate there (the exporter cannot fold inside a
    branch). The condition depends on the input's values (a condition on its
    static shape would be resolved at export); any input with |x| < 1e6
    takes the LSTM branch.
    """

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        if bool(x.abs().max() < 1e6):
            out, _ = self.lstm(x)
        else:
            out = self.fc(x)
        return out


class SplitQKVAttention(nn.Module):
    """Single-head attention whose packed [3E, E] projection is split into q, k, v weights.

    torch.split with a size gives a Split with constant sizes (the weight) and
    chunk gives Slices whose ends the exporter computes from the tensor's Shape
    (the bias).
    """

    def __init__(self, dim=16):
        super().__init__()
        self.dim = dim
        self.in_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x):
        w_q, w_k, w_v = torch.split(self.in_proj.weight, self.dim, 0)
        b_q, b_k, b_v = self.in_proj.bias.chunk(3)
        q, k, v = F.linear(x, w_q, b_q), F.linear(x, w_k, b_k), F.linear(x, w_v, b_v)
        attention = torch.softmax(q @ k.transpose(-1, -2) / self.dim ** 0.5, -1)
        return self.out_proj(attention @ v)


class TinyTransformer(nn.Module):
    """Embedding + one encoder layer + LM head tied to the embedding."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 16)
        self.layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32,
                                                dropout=0.0, batch_first=True)
        self.head = nn.Linear(16, 30, bias=False)
        self.head.weight = self.emb.weight  # tied

    def forward(self, ids):
        return self.head(self.layer(self.emb(ids)))


# A ViT at a tiny size, with the module structure (and so the node names) of torchvision's
# vit_b_16 (torchvision/models/vision_transformer.py), which Debian does not package, and its
# initialization: zero class token and conv bias, N(0, 0.02) positional embedding.
class VitMLPBlock(nn.Sequential):
    def __init__(self, dim, mlp_dim):
        super().__init__(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(0.0),
                         nn.Linear(mlp_dim, dim), nn.Dropout(0.0))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)


class VitEncoderBlock(nn.Module):
    def __init__(self, heads, dim, mlp_dim):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, heads, dropout=0.0, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = VitMLPBlock(dim, mlp_dim)

    def forward(self, inputs):
        x = self.ln_1(inputs)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + inputs
        return x + self.mlp(self.ln_2(x))


class VitEncoder(nn.Module):
    def __init__(self, seq_length, layers, heads, dim, mlp_dim):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, dim).normal_(std=0.02))
        self.dropout = nn.Dropout(0.0)
        self.layers = nn.Sequential(collections.OrderedDict(
            (f"encoder_layer_{i}", VitEncoderBlock(heads, dim, mlp_dim)) for i in range(layers)))
        self.ln = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class TinyViT(nn.Module):
    def __init__(self, image_size=16, patch_size=8, dim=64, mlp_dim=128, classes=10):
        super().__init__()
        self.patch_size = patch_size
        self.hidden_dim = dim
        self.conv_proj = nn.Conv2d(3, dim, patch_size, patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.encoder = VitEncoder((image_size // patch_size) ** 2 + 1, 1, 2, dim, mlp_dim)
        self.heads = nn.Sequential(collections.OrderedDict(head=nn.Linear(dim, classes)))
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / (3 * patch_size ** 2)))
        nn.init.zeros_(self.conv_proj.bias)

    def forward(self, x):
        n, _, h, w = x.shape
        x = self.conv_proj(x).reshape(n, self.hidden_dim, (h // self.patch_size) * (w // self.patch_size))
        x = torch.cat([self.class_token.expand(n, -1, -1), x.permute(0, 2, 1)], dim=1)
        return self.heads(self.encoder(x)[:, 0])


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


# torchvision's ConvNeXt block (torchvision/models/convnext.py, CNBlock) after a patchify stem,
# with ConvNeXt's initialization: trunc_normal(0.02) weights, zero biases, layer scale 1e-6.
class LayerScaled(nn.Module):
    def __init__(self, dim=64):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 2, 2)
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.stem(x)
        return self.layer_scale * self.block(x) + x


class FunctionBlock(nn.Module):
    """A residual MLP block with a LayerNorm, exported as a model-local function."""

    def __init__(self, dim=8, hidden=16):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.norm(self.fc1(x))))


class FunctionNet(nn.Module):
    """Embedding -> two FunctionBlocks -> Linear head. Exported with export_modules_as_functions
    for FunctionBlock and nn.Linear: the graph calls Block twice and Linear once, each Block calls
    Linear twice (nested calls); every weight is a graph initializer passed into the calls, and
    torch 1.13 also copies each Linear's weight into a tensor attribute of the calls."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.b1 = FunctionBlock()
        self.b2 = FunctionBlock()
        self.head = nn.Linear(8, 3)

    def forward(self, ids):
        return self.head(self.b2(self.b1(self.emb(ids))))


class GroupNormed(nn.Module):
    """Conv2d(3,8) -> GroupNorm(2,8) -> ReLU -> Conv2d(8,96,1) -> GroupNorm(4,96) -> ReLU ->
    InstanceNorm2d(96, affine) -> spatial mean -> Linear(96,4). Below opset 18 PyTorch writes each
    GroupNorm as Reshape -> InstanceNormalization(ones, zeros) -> Reshape -> Mul(weight [C,1,1]) ->
    Add(bias [C,1,1])."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.gn1 = nn.GroupNorm(2, 8)
        self.conv2 = nn.Conv2d(8, 96, 1)
        self.gn2 = nn.GroupNorm(4, 96)
        self.inorm = nn.InstanceNorm2d(96, affine=True)
        self.fc = nn.Linear(96, 4)
        with torch.no_grad():  # trained-like norm parameters, so that each tensor is told apart by value
            for norm in (self.gn1, self.gn2, self.inorm):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        x = torch.relu(self.gn1(self.conv1(x)))
        x = self.inorm(torch.relu(self.gn2(self.conv2(x))))
        return self.fc(x.mean((2, 3)))


def add_reference_roles(path, module):
    """Records in the model's metadata ("reference_roles") the role of every norm parameter of
    `module`, found by value among the initializers (the exporter renames them)."""
    model = onnx.load(path)
    arrays = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    roles = []
    for name, parameter in module.named_parameters():
        if not isinstance(module.get_submodule(name.rsplit(".", 1)[0]), (nn.GroupNorm, nn.InstanceNorm2d)):
            continue
        value = parameter.detach().numpy()
        found = [k for k, a in arrays.items() if a.size == value.size and (a.ravel() == value.ravel()).all()]
        assert len(found) == 1, (name, found)
        roles.append(f"{found[0]}:{'norm_scale' if name.endswith('weight') else 'norm_bias'}")
    entry = model.metadata_props.add()
    entry.key = "reference_roles"
    entry.value = ",".join(roles)
    onnx.save(model, path)


def readers_by_initializer(path):
    """{initializer: {op types that read it, directly or through Identity}}."""
    graph = onnx.load(path).graph
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}
    inits = {i.name for i in graph.initializer}
    readers = collections.defaultdict(set)
    for node in graph.node:
        if node.op_type == "Identity":
            continue
        for name in node.input:
            while name in alias:
                name = alias[name]
            if name in inits:
                readers[name].add(node.op_type)
    return readers


def assert_merged(path, initializer, op_types):
    """The exporter merged equal constants: one initializer read by ops of different roles."""
    found = readers_by_initializer(path)[initializer]
    assert found == set(op_types), f"{path}: {initializer} is read by {sorted(found)}"


def randomize_bn(model):
    """Give BatchNorm non-trivial running stats so a folded/unfolded export differs from identity."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


def main():
    torch.manual_seed(1)
    m = CNN()
    randomize_bn(m)
    export(m, (torch.randn(1, 3, 8, 8),), "torch_cnn.onnx", ["input"], ["logits"])

    torch.manual_seed(2)
    export(MLP(), (torch.randn(2, 5, 12),), "torch_mlp_matmul.onnx", ["input"], ["output"])

    torch.manual_seed(3)
    export(Tied(), (torch.randn(2, 8),), "torch_tied.onnx", ["input"], ["output"])

    # Same tied module on a 3-D input: Linear exports as MatMul with a
    # constant-folded transposed weight, and the exporter deduplicates the two
    # identical folded initializers by inserting an Identity node.
    torch.manual_seed(3)
    export(Tied(), (torch.randn(2, 3, 8),), "torch_tied_matmul.onnx", ["input"], ["output"])

    torch.manual_seed(4)
    m = DCGANGenerator()
    randomize_bn(m)
    export(m, (torch.randn(1, 16, 1, 1),), "torch_dcgan.onnx", ["z"], ["image"])

    torch.manual_seed(5)
    export(Conv1d3d(), (torch.randn(1, 4, 10), torch.randn(1, 2, 5, 5, 5)),
           "torch_conv1d3d.onnx", ["input_1d", "input_3d"], ["output_1d", "output_3d"])

    torch.manual_seed(6)
    export(LSTMText(), (torch.randint(0, 50, (1, 5)),), "torch_lstm_text.onnx", ["ids"], ["logits"])

    torch.manual_seed(7)
    export(GRUText(), (torch.randint(0, 40, (1, 5)),), "torch_gru_text.onnx", ["ids"], ["logits"])

    # The same text models without constant folding: each weight, recurrence
    # and bias is Sliced per gate, Concat'ed in ONNX's gate order and
    # Unsqueezed (the biases also Concat'ed into [Wb | Rb]) on its way to the op.
    torch.manual_seed(6)
    export(LSTMText(), (torch.randint(0, 50, (1, 5)),), "torch_lstm_text_nofold.onnx", ["ids"],
           ["logits"], folding=False)

    torch.manual_seed(7)
    export(GRUText(), (torch.randint(0, 40, (1, 5)),), "torch_gru_text_nofold.onnx", ["ids"],
           ["logits"], folding=False)

    torch.manual_seed(10)
    export(torch.jit.script(LSTMInIf()), (torch.randn(5, 1, 4),), "torch_lstm_if.onnx", ["x"],
           ["y"], folding=False)

    torch.manual_seed(11)
    export(SplitQKVAttention(), (torch.randn(1, 6, 16),), "torch_qkv_split.onnx", ["x"], ["y"],
           folding=False)

    # Default initialization on purpose (realistic fresh model): LayerNorm
    # weights are all ones, LayerNorm biases and out_proj.bias all zeros, so
    # the exporter deduplicates them by value through Identity nodes.
    torch.manual_seed(8)
    export(TinyTransformer(), (torch.randint(0, 30, (1, 6)),), "torch_transformer.onnx",
           ["ids"], ["logits"], no_grad=False)

    torch.manual_seed(8)
    export(TinyTransformer(), (torch.randint(0, 30, (1, 6)),), "torch_transformer_opset17.onnx",
           ["ids"], ["logits"], opset=17, no_grad=False)

    torch.manual_seed(9)
    export(TinyViT(), (torch.randn(1, 3, 16, 16),), "torch_vit.onnx", ["image"], ["logits"],
           no_grad=False)
    # conv_proj.bias (zeros) is also, through Identity nodes, every LayerNorm bias and the
    # attention's out_proj bias (Gemm C).
    assert_merged(os.path.join(HERE, "torch_vit.onnx"), "conv_proj.bias", {"Conv", "Add", "Gemm"})

    torch.manual_seed(10)
    export(LayerScaled(), (torch.randn(1, 3, 16, 16),), "torch_layer_scale.onnx", ["image"],
           ["features"])
    # stem.bias (zeros) is also the depthwise conv's bias, the LayerNorm bias and the second
    # Linear's bias.
    assert_merged(os.path.join(HERE, "torch_layer_scale.onnx"), "stem.bias", {"Conv", "Add"})

    torch.manual_seed(12)
    m = GroupNormed()
    export(m, (torch.randn(1, 3, 8, 8),), "torch_groupnorm.onnx", ["image"], ["logits"])
    add_reference_roles(os.path.join(HERE, "torch_groupnorm.onnx"), m)

    # The same network (same seed, same weights) with and without model-local functions: the flat
    # export is the reference the tests read the functions against.
    for filename, functions in (("torch_functions.onnx", {FunctionBlock, nn.Linear}),
                                ("torch_functions_flat.onnx", False)):
        torch.manual_seed(11)
        export(FunctionNet(), (torch.randint(0, 20, (1, 5)),), filename, ["ids"], ["logits"],
               opset=15, functions=functions)


if __name__ == "__main__":
    main()
