// Presets: a framework's own initialization of a model, as a policy (policy.h) - a scheme and role
// defaults, rules by role, and rules for single tensors from the transformer structure found in the
// graph (graph/transformer_structure.h). Rules the user gives are tried first, so they override a
// preset as they override a scheme.
//
//   torch   PyTorch's reset_parameters per module: the same as --scheme torch.
//   keras   glorot_uniform (xavier_uniform) weights, zero biases, orthogonal recurrent kernels
//           (per gate), LSTM unit_forget_bias (forget gate bias 1), embeddings U(-0.05, 0.05),
//           norms 1/0.
//   bert    Hugging Face BertPreTrainedModel._init_weights: weights and embeddings N(0, r), biases
//           0, LayerNorm 1/0, with r = initializer_range (0.02). A position table whose lookup the
//           exporter folded into the graph (a parameter added to an embedding's output) is an
//           embedding too.
//   gpt2    as bert, and the residual projections - each block's attention output and MLP down
//           projection - N(0, r / sqrt(2 * n_layer)) (nanoGPT; transformers' GPT-2), n_layer the
//           blocks found in the graph.
//   llama   Hugging Face LlamaPreTrainedModel._init_weights: weights and embeddings N(0, r), RMSNorm
//           scales 1 (no biases); a tied LM head is the embedding, an untied one a weight: both
//           N(0, r).
//   t5      Hugging Face T5PreTrainedModel._init_weights (initializer_factor 1), from the widths read
//           in the graph: q N(0, (d_model*d_kv)^-0.5), k, v, wi N(0, d_model^-0.5), o N(0,
//           (n_heads*d_kv)^-0.5), wo N(0, d_ff^-0.5), the relative attention bias N(0, d_model^-0.5),
//           embeddings and an untied LM head N(0, 1), norm scales 1. Other weights N(0, fan_in^-0.5),
//           which k, v, o, wi and wo also are.
//   megatron  Megatron-LM (megatron/core/utils.py init_method_normal, scaled_init_method_normal):
//           weights, embeddings and the output layer N(0, sigma), the output layers of each block
//           (attention linear_proj, MLP linear_fc2) N(0, sigma / sqrt(2 * num_layers)), biases 0,
//           LayerNorm 1/0; sigma = initializer_range (Megatron's --init-method-std, 0.02).
// A preset whose structural rule the graph does not support (gpt2, megatron or t5 on a graph without blocks, or
// with blocks that do not pair up) gives every tensor the preset's plain rule for its role, and
// says which rule it did not apply and why (ExpandPreset's result; --strict refuses).
#ifndef ONNX_REINIT_INIT_PRESET_H_
#define ONNX_REINIT_INIT_PRESET_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "onnx_reinit/policy.h"
#include "onnx_reinit/roles.h"

namespace onnx_reinit {

// The preset names, in the order --help lists them.
std::vector<std::string> PresetNames();

// Sets `policy`'s scheme, role defaults, preset fields and rules by role for preset `name`.
// `initializer_range` (bert, gpt2, llama, megatron only) replaces the default std 0.02.
// InvalidArgument for an unknown name (listing the presets) or a range given to a preset without one.
absl::Status ApplyPreset(absl::string_view name, std::optional<double> initializer_range, Policy& policy);

// "--initializer-range goes with --preset bert, gpt2, ...": the error for a range without such a preset.
std::string InitializerRangeUse();

// Adds the rules for single tensors that the structure of `analysis`'s graph gives policy.preset
// (none without a preset). Returns what it could not apply, one sentence each.
std::vector<std::string> ExpandPreset(const GraphAnalysis& analysis, Policy& policy);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_INIT_PRESET_H_
