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

// What each preset takes from the structure found in the graph: gpt2 and megatron each block's
// residual projections N(0, r/sqrt(2*n_layer)); t5 its per-projection factors.
enum class Structural { kNone, kScaledResiduals, kT5Factors };

// What each preset is made of. The normal family draws weights and embeddings from N(0, r) with r
// = --initializer-range.
struct PresetSpec {
  const char* name;
  bool normal_family;  // N(0, r) weights and embeddings, zero biases, norms 1/0, folded position tables
  Structural structural;
};
constexpr PresetSpec kPresets[] = {
    {"torch", false, Structural::kNone},   {"keras", false, Structural::kNone},
    {"bert", true, Structural::kNone},     {"gpt2", true, Structural::kScaledResiduals},
    {"llama", true, Structural::kNone},    {"megatron", true, Structural::kScaledResiduals},
    {"t5", false, Structural::kT5Factors},
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

// T5's std for a projection (T5PreTrainedModel._init_weights, initializer_factor 1) and the
// formula behind it; nullopt for q without its head size, and for a packed q|k|v (q's std differs).
std::optional<std::pair<double, std::string>> T5Factor(const ProjectionSite& site) {
  const auto formula = [](absl::string_view name, int64_t product, std::string factors) {
    return std::make_pair(1.0 / std::sqrt(static_cast<double>(product)),
                          absl::StrFormat("%s^-0.5 = %s^-0.5", name, factors));
  };
  const int64_t d = site.fan_in;
  switch (site.projection) {
    case Projection::kQuery:
      if (site.head_size == 0) return std::nullopt;
      return formula("(d_model*d_kv)", d * site.head_size, absl::StrFormat("(%d*%d)", d, site.head_size));
    case Projection::kKey:
    case Projection::kValue:
    case Projection::kMlpUp: return formula("d_model", d, absl::StrCat(d));
    case Projection::kAttentionOutput:
      if (site.heads == 0) return formula("(n_heads*d_kv)", d, absl::StrCat(d));
      return formula("(n_heads*d_kv)", site.heads * site.head_size,
                     absl::StrFormat("(%d*%d)", site.heads, site.head_size));
    case Projection::kMlpDown: return formula("d_ff", d, absl::StrCat(d));
    case Projection::kPackedQkv: return std::nullopt;
  }
  return std::nullopt;
}

// T5's factors for each projection, relative position bias and untied LM head found in the graph.
// Returns the projections it could not give theirs.
std::vector<std::string> AddT5Factors(const TransformerStructure& structure, Policy& policy) {
  std::vector<std::string> problems;
  for (const auto& [name, site] : structure.projections) {
    const std::optional<std::pair<double, std::string>> factor = T5Factor(site);
    const std::string where = absl::StrFormat("%s of block %d%s", ProjectionName(site.projection), site.block + 1,
                                              site.cross_attention ? " (cross-attention)" : "");
    if (!factor) {
      problems.push_back(absl::StrFormat(
          "%s '%s' (%s)", where, name,
          site.projection == Projection::kQuery ? "its head split is not in the graph" : "packed: q's factor differs"));
      continue;
    }
    policy.tensor_rules[name] =
        TensorRule{Normal(factor->first), absl::StrCat("preset t5: ", where, ", ", factor->second)};
  }
  for (const auto& [name, d_model] : structure.position_biases) {
    if (d_model == 0) continue;
    policy.tensor_rules[name] =
        TensorRule{Normal(1.0 / std::sqrt(static_cast<double>(d_model))),
                   absl::StrFormat("preset t5: relative attention bias, d_model^-0.5 = %d^-0.5", d_model)};
  }
  for (const std::string& name : structure.lm_heads) {
    policy.tensor_rules[name] = TensorRule{Normal(1.0), "preset t5: LM head (the shared embedding's shape), 1"};
  }
  if (problems.empty()) return {};
  return {absl::StrFormat("preset t5: T5's factor is not applied to %s; %s N(0, fan_in^-0.5)",
                          absl::StrJoin(problems, ", "), problems.size() == 1 ? "it gets" : "they get")};
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
  if (spec->structural == Structural::kT5Factors) {  // the factors of k, v, o, wi and wo are fan_in^-0.5
    policy.scheme = SchemeOptions{};
    policy.scheme.kind = SchemeKind::kLecunNormal;
    policy.bias = BiasInit::kZeros;
    policy.embedding = EmbeddingInit::kNormal;
    return absl::OkStatus();
  }
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
  if (spec == nullptr || (!spec->normal_family && spec->structural == Structural::kNone)) return {};
  const TransformerStructure structure = FindTransformerStructure(analysis);
  for (const std::string& name : structure.positional_tables) {
    if (!spec->normal_family) break;
    policy.tensor_rules[name] =
        TensorRule{Normal(policy.preset_std),
                   absl::StrFormat("preset %s: position table (a parameter added to an embedding)", policy.preset)};
  }
  if (spec->structural == Structural::kNone) return {};
  if (!structure.doubt.empty()) {
    const std::string rule =
        spec->structural == Structural::kT5Factors
            ? "T5's factors (q (d_model*d_kv)^-0.5, relative attention bias d_model^-0.5, LM head 1)"
            : absl::StrFormat("the residual projections' rule N(0, %g/sqrt(2*n_layer))", policy.preset_std);
    const std::string plain = spec->structural == Structural::kT5Factors
                                  ? std::string("N(0, fan_in^-0.5)")
                                  : absl::StrFormat("N(0, %g)", policy.preset_std);
    return {
        absl::StrFormat("preset %s: %s is not applied, as the graph's transformer blocks cannot be read with "
                        "confidence (%s); every weight gets %s",
                        policy.preset, rule, structure.doubt, plain)};
  }
  if (spec->structural == Structural::kT5Factors) return AddT5Factors(structure, policy);
  AddResidualProjections(structure, policy);
  return {};
}

}  // namespace onnx_reinit
