#include "onnx_reinit/policy.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "onnx_reinit/init/placement.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {
namespace {

constexpr int kLstmForgetGate = 2;  // ONNX LSTM gate order: i, o, f, c

// Roles that are re-initialized without being asked for: not parameter, not other.
bool HasRoleDefault(Role role) { return role != Role::kParameter && role != Role::kOther; }

absl::StatusOr<double> ParseNumber(absl::string_view key, absl::string_view text) {
  double value;
  if (!absl::SimpleAtod(text, &value)) {
    return absl::InvalidArgumentError(absl::StrFormat("%s=%s is not a number", key, text));
  }
  return value;
}

// PyTorch's default for Linear/Conv weights and biases, and for every RNN tensor (fan = H):
// U(-1/sqrt(fan), 1/sqrt(fan)); a zero fan gives zeros, as torch's bias bound does.
proto::Distribution TorchUniform(int64_t fan) {
  if (fan <= 0) return ConstantDistribution(0.0);
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan));
  return UniformDistribution(-bound, bound);
}

// Builds the plan for one tensor.
class Planner {
 public:
  Planner(const TensorUse& use, int64_t count) : use_(use), count_(count) {}

  absl::Status Whole(const proto::Distribution& distribution) {
    Add(0, count_, std::vector<int64_t>(use_.tensor->dims().begin(), use_.tensor->dims().end()), distribution);
    return absl::OkStatus();
  }

  absl::Status WholeWithScheme(const SchemeOptions& scheme) {
    const std::vector<int64_t> dims(use_.tensor->dims().begin(), use_.tensor->dims().end());
    if (UsesFans(scheme.kind) && !use_.fans) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s '%s'%s has no fans, which scheme %s needs; give it a value-only scheme (zeros, ones, "
          "constant, uniform, normal, truncated_normal) with a rule, e.g. --rule 'name:%s=normal:std=0.02', "
          "or leave it out (--exclude, or a =keep rule)",
          RoleName(use_.role), use_.name, ReaderText(), SchemeName(scheme.kind), use_.name));
    }
    if (use_.parts.size() > 1) return PerPart(scheme);
    ONNX_REINIT_RETURN_IF_ERROR(CheckShape(scheme, dims));
    ONNX_REINIT_ASSIGN_OR_RETURN(proto::Distribution d, Resolve(scheme, use_.fans.value_or(Fans{})));
    return Whole(d);
  }

  // A tensor of parts that are each their own layer (a fused QKV weight): each part gets the
  // scheme with its own fans. Parts along an axis after the first interleave in memory (a
  // [in, q|k|v] weight holds a row of each part after the other) and are written row by row, which
  // a scheme that depends on the block's shape (orthogonal) cannot be: such a tensor is left
  // unchanged, with the reason.
  absl::Status PerPart(const SchemeOptions& scheme) {
    const std::vector<int64_t>& shape = use_.view_shape;
    const int axis = use_.parts_axis;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= shape[d];
    for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
    std::vector<proto::Distribution> distributions;
    for (const TensorPart& part : use_.parts) {
      ONNX_REINIT_RETURN_IF_ERROR(CheckShape(scheme, {part.size, inner}));
      ONNX_REINIT_ASSIGN_OR_RETURN(proto::Distribution d, Resolve(scheme, part.fans));
      if (outer > 1 && DependsOnShape(d)) {
        unplaced_ = absl::StrFormat("its parts along axis %d interleave, so scheme %s cannot make each part one block",
                                    axis, SchemeName(scheme.kind));
        return absl::OkStatus();
      }
      distributions.push_back(std::move(d));
    }
    for (int64_t o = 0; o < outer; ++o) {
      for (size_t p = 0; p < use_.parts.size(); ++p) {
        const int64_t begin = (o * shape[axis] + use_.parts[p].begin) * inner;
        AddInView(begin, begin + use_.parts[p].size * inner, {use_.parts[p].size, inner}, distributions[p]);
      }
    }
    PlaceViewRegions();
    return absl::OkStatus();
  }

  // Each gate block [H, columns] of each direction of an RNN W or R, on its own.
  absl::Status PerGate(const SchemeOptions& scheme) {
    const RnnLayout& rnn = *use_.rnn;
    const int64_t columns = use_.view_shape[2];
    const int64_t block = rnn.hidden_size * columns;
    ONNX_REINIT_RETURN_IF_ERROR(CheckShape(scheme, {rnn.hidden_size, columns}));
    ONNX_REINIT_ASSIGN_OR_RETURN(proto::Distribution d, Resolve(scheme, *use_.fans));
    for (int64_t b = 0; b < rnn.directions * rnn.gates; ++b) {
      AddInView(b * block, (b + 1) * block, {rnn.hidden_size, columns}, d);
    }
    PlaceViewRegions();
    return absl::OkStatus();
  }

  // Zeros, except the forget gate of each direction's input-bias half (B is [Wb, Rb] per direction).
  void RnnBias(std::optional<double> forget_bias) {
    const RnnLayout& rnn = *use_.rnn;
    const int64_t H = rnn.hidden_size, direction = 2 * rnn.gates * H;
    if (!forget_bias || use_.reader->op_type() != "LSTM") {
      Whole(ConstantDistribution(0.0)).IgnoreError();
      return;
    }
    for (int64_t d = 0; d < rnn.directions; ++d) {
      const int64_t forget = d * direction + kLstmForgetGate * H;
      AddInView(d * direction, forget, {forget - d * direction}, ConstantDistribution(0.0));
      AddInView(forget, forget + H, {H}, ConstantDistribution(*forget_bias));
      AddInView(forget + H, (d + 1) * direction, {(d + 1) * direction - forget - H}, ConstantDistribution(0.0));
    }
    PlaceViewRegions();
  }

  TensorPlan Finish(std::string scheme, std::string rule, int rule_index = -1) {
    plan_.rule_index = rule_index;
    if (!unplaced_.empty()) {  // left unchanged, with the reason
      plan_.regions.clear();
      plan_.scheme = "keep";
      plan_.rule = std::move(unplaced_);
      return std::move(plan_);
    }
    plan_.scheme = std::move(scheme);
    plan_.rule = std::move(rule);
    return std::move(plan_);
  }

 private:
  absl::StatusOr<proto::Distribution> Resolve(const SchemeOptions& scheme, const Fans& fans) const {
    auto distribution = ResolveDistribution(scheme, fans);
    if (!distribution.ok()) {
      return absl::InvalidArgumentError(absl::StrFormat("%s '%s': scheme %s: %s", RoleName(use_.role), use_.name,
                                                        SchemeName(scheme.kind), distribution.status().message()));
    }
    return distribution;
  }

  std::string ReaderText() const {
    if (use_.reader == nullptr) return "";
    return use_.reader->name().empty()
               ? absl::StrFormat(" (read by %s)", use_.reader->op_type())
               : absl::StrFormat(" (read by %s '%s')", use_.reader->op_type(), use_.reader->name());
  }

  absl::Status CheckShape(const SchemeOptions& scheme, const std::vector<int64_t>& shape) const {
    const absl::Status status = CheckShapeForScheme(scheme.kind, shape, use_.groups);
    return WithContext(status, absl::StrFormat("%s '%s'", RoleName(use_.role), use_.name));
  }

  void Add(int64_t begin, int64_t end, std::vector<int64_t> shape, const proto::Distribution& d) {
    if (end <= begin) return;
    PlannedRegion region;
    region.begin = begin;
    region.end = end;
    region.shape = std::move(shape);
    region.groups = use_.groups;
    region.distribution = d;
    plan_.regions.push_back(std::move(region));
  }

  // A region over the reader's view (row-major elements [begin, end) of use_.view_shape), placed in
  // the tensor's own elements by PlaceViewRegions.
  void AddInView(int64_t begin, int64_t end, std::vector<int64_t> shape, const proto::Distribution& d) {
    if (end <= begin) return;
    view_regions_.push_back(PlannedRegion{begin, end, std::move(shape), use_.groups, d});
  }

  // Places the view regions in the tensor (see placement.h), or records why they cannot be.
  void PlaceViewRegions() {
    absl::StatusOr<std::vector<PlannedRegion>> placed = PlaceRegions(use_, count_, view_regions_);
    view_regions_.clear();
    if (!placed.ok()) {
      unplaced_ = std::string(placed.status().message());
      return;
    }
    for (PlannedRegion& region : *placed) plan_.regions.push_back(std::move(region));
  }

  const TensorUse& use_;
  int64_t count_;
  TensorPlan plan_;
  std::vector<PlannedRegion> view_regions_;
  std::string unplaced_;  // why the view regions have no exact place in the tensor
};

// PyTorch's reset_parameters for the tensor's role.
absl::Status PlanTorch(const TensorUse& use, Planner& planner) {
  switch (use.role) {
    case Role::kWeight:
    case Role::kBias: return planner.Whole(TorchUniform(use.fans ? use.fans->fan_in : 0));
    case Role::kRnnWeight:
    case Role::kRnnRecurrence:
    case Role::kRnnBias: return planner.Whole(TorchUniform(use.rnn->hidden_size));
    case Role::kEmbedding: return planner.Whole(NormalDistribution(0.0, 1.0));
    case Role::kNormScale: return planner.Whole(ConstantDistribution(use.offset_scale ? 0.0 : 1.0));
    case Role::kNormVar: return planner.Whole(ConstantDistribution(1.0));
    default: return planner.Whole(ConstantDistribution(0.0));
  }
}

// A scheme the user named (by --scheme for weights, or by a rule) on the tensor's role.
absl::Status PlanScheme(const TensorUse& use, const SchemeOptions& scheme, Planner& planner) {
  if (scheme.kind == SchemeKind::kTorch && HasRoleDefault(use.role)) return PlanTorch(use, planner);
  if ((use.role == Role::kRnnWeight || use.role == Role::kRnnRecurrence)) {
    return planner.PerGate(scheme);
  }
  return planner.WholeWithScheme(scheme);
}

SchemeOptions Orthogonal() {
  SchemeOptions scheme;
  scheme.kind = SchemeKind::kOrthogonal;
  return scheme;
}

// The role defaults (see policy.h). Returns the scheme name for the report.
absl::StatusOr<std::string> PlanDefault(const TensorUse& use, const Policy& policy, Planner& planner) {
  const bool torch = policy.scheme.kind == SchemeKind::kTorch;
  if (torch) {
    ONNX_REINIT_RETURN_IF_ERROR(PlanTorch(use, planner));
    return std::string("torch");
  }
  switch (use.role) {
    case Role::kWeight:
    case Role::kRnnWeight:
      ONNX_REINIT_RETURN_IF_ERROR(PlanScheme(use, policy.scheme, planner));
      return std::string(SchemeName(policy.scheme.kind));
    case Role::kBias:
      if (policy.bias == BiasInit::kTorch) {
        ONNX_REINIT_RETURN_IF_ERROR(planner.Whole(TorchUniform(use.fans ? use.fans->fan_in : 0)));
        return std::string("torch");
      }
      ONNX_REINIT_RETURN_IF_ERROR(planner.Whole(ConstantDistribution(0.0)));
      return std::string("zeros");
    case Role::kEmbedding:
      if (policy.embedding == EmbeddingInit::kScheme) {
        ONNX_REINIT_RETURN_IF_ERROR(planner.WholeWithScheme(policy.scheme));
        return std::string(SchemeName(policy.scheme.kind));
      }
      ONNX_REINIT_RETURN_IF_ERROR(planner.Whole(NormalDistribution(0.0, 1.0)));
      return std::string("normal");
    case Role::kRnnRecurrence:
      if (policy.recurrence == RecurrenceInit::kScheme) {
        ONNX_REINIT_RETURN_IF_ERROR(planner.PerGate(policy.scheme));
        return std::string(SchemeName(policy.scheme.kind));
      }
      ONNX_REINIT_RETURN_IF_ERROR(planner.PerGate(Orthogonal()));
      return std::string("orthogonal");
    case Role::kRnnBias: planner.RnnBias(policy.lstm_forget_bias); return std::string("zeros");
    case Role::kNormScale:
      if (use.offset_scale) break;  // x * (1 + w): w = 0 makes the scale 1
      [[fallthrough]];
    case Role::kNormVar:
      ONNX_REINIT_RETURN_IF_ERROR(planner.Whole(ConstantDistribution(1.0)));
      return std::string("ones");
    default: break;
  }
  ONNX_REINIT_RETURN_IF_ERROR(planner.Whole(ConstantDistribution(0.0)));
  return std::string("zeros");
}

}  // namespace

absl::StatusOr<SchemeOptions> ParseSchemeSpec(absl::string_view text) {
  const std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits(':', 1));
  SchemeOptions scheme;
  ONNX_REINIT_ASSIGN_OR_RETURN(scheme.kind, ParseScheme(parts.first));
  if (!parts.second.empty()) {
    for (absl::string_view item : absl::StrSplit(parts.second, ',')) {
      const std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
      const absl::string_view key = kv.first, value = kv.second;
      if (key == "mode") {
        ONNX_REINIT_ASSIGN_OR_RETURN(scheme.mode, ParseFanMode(value));
      } else if (key == "nonlinearity") {
        ONNX_REINIT_ASSIGN_OR_RETURN(scheme.nonlinearity, ParseNonlinearity(value));
      } else if (key == "value" || key == "low" || key == "high" || key == "mean" || key == "std" ||
                 key == "negative_slope" || key == "gain") {
        ONNX_REINIT_ASSIGN_OR_RETURN(const double number, ParseNumber(key, value));
        (key == "value"  ? scheme.value
         : key == "low"  ? scheme.low
         : key == "high" ? scheme.high
         : key == "mean" ? scheme.mean
         : key == "std"  ? scheme.std
         : key == "gain" ? scheme.gain
                         : scheme.negative_slope) = number;
      } else {
        return absl::InvalidArgumentError(
            absl::StrFormat("unknown parameter '%s'; valid: value, low, high, mean, std, mode, nonlinearity, "
                            "negative_slope, gain",
                            key));
      }
    }
  }
  // Error messages name flags (--std); in a spec they are keys.
  const absl::Status valid = Validate(scheme);
  if (!valid.ok()) return WithContext(valid, absl::StrCat("'", text, "'"));
  return scheme;
}

bool MatchesName(const TensorUse& use, const NamePattern& pattern, bool search) {
  if (use.fixed) return false;
  auto matches = [&](const std::string& text) { return search ? pattern.Search(text) : pattern.Matches(text); };
  if (matches(use.name) || (use.reader != nullptr && matches(use.reader->name()))) return true;
  for (const onnx::NodeProto* reader : use.readers) {
    if (matches(reader->name())) return true;
  }
  return false;
}

namespace {

// Whether `node` is the op PATTERN names: OPTYPE, or DOMAIN::OPTYPE ("ai.onnx" for the default domain).
bool IsOp(const onnx::NodeProto& node, absl::string_view pattern) {
  const size_t split = pattern.rfind("::");
  if (split == absl::string_view::npos) return node.op_type() == pattern;
  const absl::string_view domain = pattern.substr(0, split);
  const bool same_domain = IsDefaultDomain(node) ? domain == "ai.onnx" || domain.empty() : node.domain() == domain;
  return same_domain && node.op_type() == pattern.substr(split + 2);
}

}  // namespace

bool Rule::Matches(const TensorUse& use) const {
  if (use.role == Role::kQuantized || use.fixed) return false;
  switch (field) {
    case Field::kName: return MatchesName(use, *name_pattern, /*search=*/false);
    case Field::kOp:
      return (use.role != Role::kOther || use.unknown_op) && use.reader != nullptr && IsOp(*use.reader, pattern);
    case Field::kRole: return use.role != Role::kOther && RoleName(use.role) == pattern;
  }
  return false;
}

absl::StatusOr<Rule> ParseRule(absl::string_view text) {
  Rule rule;
  rule.text = std::string(text);
  // The pattern may itself hold '=' (in a regex): split at the first '=' followed by a valid spec.
  // When no split works, the first one's error is the likeliest to help.
  std::optional<absl::Status> first_error;
  size_t split = absl::string_view::npos;
  for (size_t at = text.find('='); at != absl::string_view::npos; at = text.find('=', at + 1)) {
    const absl::string_view target = text.substr(at + 1);
    if (target == "keep") {
      rule.keep = true;
      split = at;
      break;
    }
    auto scheme = ParseSchemeSpec(target);
    if (scheme.ok()) {
      rule.scheme = *scheme;
      split = at;
      break;
    }
    if (!first_error) first_error = scheme.status();
  }
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrFormat("rule '%s': %s (expected name:REGEX, op:OPTYPE or role:ROLE, then =SCHEME[:key=value,...] "
                        "or =keep)",
                        text, why));
  };
  if (split == absl::string_view::npos) return bad(first_error ? first_error->message() : "no '='");
  const absl::string_view pattern = text.substr(0, split);
  const std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pattern, absl::MaxSplits(':', 1));
  rule.pattern = std::string(kv.second);
  if (kv.first == "name") {
    rule.field = Rule::Field::kName;
    auto compiled = NamePattern::Compile(rule.pattern);
    if (!compiled.ok()) return bad(compiled.status().message());
    rule.name_pattern = *std::move(compiled);
  } else if (kv.first == "op") {
    rule.field = Rule::Field::kOp;
  } else if (kv.first == "role") {
    rule.field = Rule::Field::kRole;
    const std::optional<Role> role = ParseRole(rule.pattern);
    if (!role || *role == Role::kOther) {
      return bad(
          absl::StrFormat("unknown role '%s'; roles: weight, bias, norm_scale, norm_bias, "
                          "norm_mean, norm_var, embedding, rnn_weight, rnn_recurrence, rnn_bias, "
                          "parameter, quantized",
                          rule.pattern));
    }
  } else {
    return bad(absl::StrFormat("unknown pattern kind '%s'", kv.first));
  }
  if (rule.pattern.empty()) return bad("empty pattern");
  return rule;
}

absl::StatusOr<TensorPlan> PlanTensor(const TensorUse& use, const Policy& policy, bool selected_by_name) {
  ONNX_REINIT_ASSIGN_OR_RETURN(const int64_t count, ElementCount(*use.tensor, use.name));
  Planner planner(use, count);
  for (size_t r = 0; r < policy.rules.size(); ++r) {
    const Rule& rule = policy.rules[r];
    if (!rule.Matches(use)) continue;
    const std::string why = absl::StrCat("--rule ", rule.text);
    const int index = static_cast<int>(r);
    if (rule.keep) return planner.Finish("keep", why, index);
    ONNX_REINIT_RETURN_IF_ERROR(PlanScheme(use, rule.scheme, planner));
    return planner.Finish(std::string(SchemeName(rule.scheme.kind)), why, index);
  }
  if (auto it = policy.tensor_rules.find(use.name); it != policy.tensor_rules.end() && use.role != Role::kOther) {
    ONNX_REINIT_RETURN_IF_ERROR(PlanScheme(use, it->second.scheme, planner));
    return planner.Finish(std::string(SchemeName(it->second.scheme.kind)), it->second.text);
  }
  for (const Rule& rule : policy.preset_rules) {
    if (!rule.Matches(use)) continue;
    ONNX_REINIT_RETURN_IF_ERROR(PlanScheme(use, rule.scheme, planner));
    return planner.Finish(std::string(SchemeName(rule.scheme.kind)), rule.text);
  }
  if (!HasRoleDefault(use.role)) {
    if (!selected_by_name) {
      return planner.Finish(
          "keep", use.role == Role::kParameter ? "default for parameter: keeps its trained values" : use.reason);
    }
    ONNX_REINIT_RETURN_IF_ERROR(PlanScheme(use, policy.scheme, planner));
    return planner.Finish(std::string(SchemeName(policy.scheme.kind)), "--only");
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(std::string scheme, PlanDefault(use, policy, planner));
  return planner.Finish(std::move(scheme), policy.preset.empty()
                                               ? absl::StrCat("default for ", RoleName(use.role))
                                               : absl::StrCat("preset ", policy.preset, ": ", RoleName(use.role)));
}

}  // namespace onnx_reinit
