#include "onnx_reinit/init/preset.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/graph/transformer_structure.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {
namespace {

constexpr double kInitializerRange = 0.02;  // BertConfig, GPT2Config, LlamaConfig; Megatron's init_method_std

// What each preset is made of. The normal family draws weights and embeddings from N(0, r) with r
// = --initializer-range; a preset with scaled residuals gives each block's residual projections
// N(0, r/sqrt(2*n_layer)) from the structure found in the graph.
struct PresetSpec {
  const char* name;
  bool normal_family;     // N(0, r) weights and embeddings, zero biases, norms 1/0, folded position tables
  bool scaled_residuals;  // gpt2 and megatron
};
constexpr PresetSpec kPresets[] = {
    {"torch", false, false}, {"keras", false, false}, {"bert", true, false},
    {"gpt2", true, true},    {"llama", true, false},  {"megatron", true, true},
};

const PresetSpec* FindPreset(absl::string_view name) {
  for (const PresetSpec& spec : kPresets) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// "bert, gpt2, llama or megatron": the presets that take --initializer-range.
std::string RangePresets() {
  std::vector<std::string> names;
  for (const PresetSpec& spec : kPresets) {
    if (spec.normal_family) names.push_back(spec.name);
  }
  const std::string last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " or ", last);
}

SchemeOptions Normal(double std) {
  SchemeOptions scheme;
  scheme.kind = SchemeKind::kNormal;
  scheme.std = std;
  return scheme;
}

// A rule by role that the preset adds, reported as "preset NAME: WHAT".
absl::Status AddRoleRule(const Policy& policy, absl::string_view rule_text, absl::string_view what,
                         std::vector<Rule>& rules) {
  ONNX_REINIT_ASSIGN_OR_RETURN(Rule rule, ParseRule(rule_text));
  rule.text = absl::StrCat("preset ", policy.preset, ": ", what);
  rules.push_back(std::move(rule));
  return absl::OkStatus();
}

// The Hugging Face transformers presets: N(0, r) weights and embeddings, zero biases, norms 1/0.
void NormalTransformer(double range, Policy& policy) {
  policy.scheme = Normal(range);
  policy.preset_std = range;
  policy.bias = BiasInit::kZeros;
  policy.embedding = EmbeddingInit::kScheme;
}

void AddResidualProjections(const TransformerStructure& structure, Policy& policy) {
  const int layers = static_cast<int>(structure.blocks.size());
  const double std = policy.preset_std / std::sqrt(2.0 * layers);
  for (const auto& [name, site] : structure.projections) {
    if (site.projection != Projection::kAttentionOutput && site.projection != Projection::kMlpDown) continue;
    policy.tensor_rules[name] =
        TensorRule{Normal(std), absl::StrFormat("preset %s: residual projection (%s of block %d of %d), %g/sqrt(2*%d)",
                                                policy.preset, ProjectionName(site.projection), site.block + 1, layers,
                                                policy.preset_std, layers)};
  }
}

}  // namespace

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const PresetSpec& spec : kPresets) names.push_back(spec.name);
  return names;
}

std::string InitializerRangeUse() { return absl::StrCat("--initializer-range goes with --preset ", RangePresets()); }

absl::Status ApplyPreset(absl::string_view name, std::optional<double> initializer_range, Policy& policy) {
  const PresetSpec* spec = FindPreset(name);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--preset '%s': choose %s", name, absl::StrJoin(PresetNames(), ", ")));
  }
  if (initializer_range && !spec->normal_family) {
    return absl::InvalidArgumentError(absl::StrFormat("%s, not '%s'", InitializerRangeUse(), name));
  }
  if (initializer_range && !(*initializer_range > 0 && std::isfinite(*initializer_range))) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--initializer-range %g: must be a positive number", *initializer_range));
  }
  policy.preset = std::string(name);
  if (spec->normal_family) {
    NormalTransformer(initializer_range.value_or(kInitializerRange), policy);
    return absl::OkStatus();
  }
  if (name == "torch") {
    policy.scheme = SchemeOptions{};
    policy.scheme.kind = SchemeKind::kTorch;
    return absl::OkStatus();
  }
  // keras
  policy.scheme = SchemeOptions{};
  policy.scheme.kind = SchemeKind::kXavierUniform;
  policy.bias = BiasInit::kZeros;
  policy.recurrence = RecurrenceInit::kOrthogonal;
  policy.lstm_forget_bias = 1.0;
  return AddRoleRule(policy, "role:embedding=uniform:low=-0.05,high=0.05", "embedding U(-0.05, 0.05)",
                     policy.preset_rules);
}

std::vector<std::string> ExpandPreset(const GraphAnalysis& analysis, Policy& policy) {
  const PresetSpec* spec = FindPreset(policy.preset);
  if (spec == nullptr || !spec->normal_family) return {};
  const TransformerStructure structure = FindTransformerStructure(analysis);
  for (const std::string& name : structure.positional_tables) {
    policy.tensor_rules[name] =
        TensorRule{Normal(policy.preset_std),
                   absl::StrFormat("preset %s: position table (a parameter added to an embedding)", policy.preset)};
  }
  if (!spec->scaled_residuals) return {};
  if (!structure.doubt.empty()) {
    return {absl::StrFormat(
        "preset %s: the residual projections' rule N(0, %g/sqrt(2*n_layer)) is not applied, as the graph's "
        "transformer blocks cannot be read with confidence (%s); every weight gets N(0, %g)",
        policy.preset, policy.preset_std, structure.doubt, policy.preset_std)};
  }
  AddResidualProjections(structure, policy);
  return {};
}

}  // namespace onnx_reinit
