#include "onnx_reinit/roles.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/base/checked_math.h"
#include "onnx_reinit/graph/graph_patterns.h"
#include "onnx_reinit/op_table.h"
#include "onnx_reinit/tensor_data.h"
#include "onnx_reinit/graph/view_trace.h"

namespace onnx_reinit {
namespace {

constexpr std::pair<Role, const char*> kRoleNames[] = {
    {Role::kWeight, "weight"},
    {Role::kBias, "bias"},
    {Role::kNormScale, "norm_scale"},
    {Role::kNormBias, "norm_bias"},
    {Role::kNormMean, "norm_mean"},
    {Role::kNormVar, "norm_var"},
    {Role::kEmbedding, "embedding"},
    {Role::kRnnWeight, "rnn_weight"},
    {Role::kRnnRecurrence, "rnn_recurrence"},
    {Role::kRnnBias, "rnn_bias"},
    {Role::kParameter, "parameter"},
    {Role::kQuantized, "quantized"},
    {Role::kOther, "other"},
};

// Lower wins when one tensor has several readers.
int Priority(Role role) {
  switch (role) {
    case Role::kEmbedding: return 0;
    case Role::kWeight: return 1;
    case Role::kRnnWeight:
    case Role::kRnnRecurrence: return 2;
    case Role::kRnnBias: return 3;
    case Role::kBias: return 4;
    case Role::kNormScale:
    case Role::kNormBias:
    case Role::kNormMean:
    case Role::kNormVar: return 5;
    case Role::kParameter: return 6;
    case Role::kQuantized: return 7;
    case Role::kOther: return 8;
  }
  return 8;
}

// Attention masks hold only 0 and large negative values (-inf, -1e9, float16's -65504, -1e4).
constexpr double kMaskValue = -1e4;

std::string ShapeText(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

std::string ScalarOf(const onnx::NodeProto& node, int i) {
  return absl::StrFormat("a scalar of %s input %d (a constant of the op, not learned)", node.op_type(), i);
}

// A role for one reading of a tensor.
struct Candidate {
  Role role = Role::kOther;
  std::optional<Fans> fans;
  int64_t groups = 1;
  std::optional<RnnLayout> rnn;
  std::vector<TensorPart> parts;
  int parts_axis = 0;
  std::string reason;
  bool misfit = false;        // the op gives a role, but the tensor's shape does not fit its layout
  bool fixed = false;         // kOther: known not to be learned (TensorUse::fixed)
  bool offset_scale = false;  // kNormScale: TensorUse::offset_scale
  bool unknown_op = false;    // kOther: the op is not in the op table (TensorUse::unknown_op)
};

void TakeRole(const Candidate& candidate, TensorUse& use) {
  use.role = candidate.role;
  use.fans = candidate.fans;
  use.groups = candidate.groups;
  use.rnn = candidate.rnn;
  use.parts = candidate.parts;
  use.parts_axis = candidate.parts_axis;
  use.offset_scale = candidate.offset_scale;
}

class Classifier {
 public:
  Classifier(const GraphIndex& index, ViewTracer& tracer, const AnalysisOptions& options,
             const DetachedPayloads& payloads)
      : index_(index), tracer_(tracer), options_(options), payloads_(payloads), patterns_(index, tracer) {}

  // The shape input `i` of `node` has, when it is made of constants and that shape is known.
  std::optional<std::vector<int64_t>> ConstantShape(const onnx::NodeProto& node, int i) const {
    if (i >= node.input_size()) return std::nullopt;
    const TracedView* view = tracer_.Trace(node.input(i));
    if (view == nullptr || !view->exact()) return std::nullopt;
    return view->map.shape;
  }

  bool IsConstant(const onnx::NodeProto& node, int i) const {
    return i < node.input_size() && tracer_.Trace(node.input(i)) != nullptr;
  }

  // The row of `node`'s op in the op table, for the opset of its domain the model imports.
  const OpSpec* RowOf(const onnx::NodeProto& node) const {
    return FindOp(node.domain(), node.op_type(), index_.OpsetVersion(node));
  }

  // The role input `i` of `node` gives the constants of `view` (an exact view): the op table's.
  Candidate Classify(const onnx::NodeProto& node, int i, const TracedView& view) const {
    const OpSpec* op = RowOf(node);
    if (op == nullptr) return NotInTable(node);
    const InputSpec* input = op->Input(i);
    if (input == nullptr) {
      if (!op->unlisted_are_quantization_parameters) return Other(NoRole(node, i));
      return Fixed(absl::StrFormat("quantization parameter of %s (input %d)", node.op_type(), i));
    }
    Candidate c = ByMatch(node, i, view, *input);
    const bool integers = input->storage == ValueStorage::kQOperator || input->storage == ValueStorage::kBlockQuantized;
    if (integers && !c.misfit && c.role != Role::kOther) c.role = Role::kQuantized;
    return c;
  }

  // Whether `node` combines its input `i` with others element by element (op table: Match).
  bool CombinesElementwise(const onnx::NodeProto& node, int i) const {
    const OpSpec* op = RowOf(node);
    const InputSpec* input = op == nullptr ? nullptr : op->Input(i);
    if (input == nullptr) return false;
    return input->match == Match::kElementwise || input->match == Match::kAddOperand ||
           input->match == Match::kDecomposedNormScale;
  }

 private:
  static std::string NoRole(const onnx::NodeProto& node, int i) {
    return absl::StrFormat("read by %s input %d, which has no role", node.op_type(), i);
  }

  static Candidate NotInTable(const onnx::NodeProto& node) {
    Candidate c = Other(absl::StrFormat("op %s::%s is not in the op table (onnx-reinit ops lists it)",
                                        IsDefaultDomain(node) ? "ai.onnx" : node.domain(), node.op_type()));
    c.unknown_op = true;
    return c;
  }

  // The role the table's `input` gives input `i` of `node`, after the look at the graph its
  // Match asks for.
  Candidate ByMatch(const onnx::NodeProto& node, int i, const TracedView& view, const InputSpec& input) const {
    const std::vector<int64_t>& shape = view.map.shape;
    if (input.fixed != nullptr) return Fixed(input.fixed);
    switch (input.match) {
      case Match::kDirect: return Direct(node, i, shape, input);
      case Match::kGatherTable: return Embedding(node, i, shape, input);
      case Match::kRecurrent: return Recurrent(node, i, shape, input);
      case Match::kAddOperand: {
        Candidate operand = AddOperand(node, i, shape);
        if (operand.role != Role::kOther) return operand;
        if (patterns_.IsOffsetScale(node, i, [&](const std::string& value) { return HoldsOnly(value, 1.0); })) {
          return OffsetScale();
        }
        return Parameter(node, i, view);
      }
      case Match::kDecomposedNormScale:
        return patterns_.IsDecomposedNormScale(node) ? Norm(Role::kNormScale) : Parameter(node, i, view);
      case Match::kElementwise: return Parameter(node, i, view);
      case Match::kExpanded: return Parameter(node, i, view, /*expanded=*/true);
      case Match::kPassedOn: break;
    }
    return Other(NoRole(node, i));
  }

  // An input whose role is its row's: weights (with their fans), biases, norm parameters.
  Candidate Direct(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape,
                   const InputSpec& input) const {
    Candidate c;
    switch (input.role) {
      case Role::kWeight:
        if (!IsWeightInput(node, i, [&](int k) { return IsConstant(node, k); })) return Other(NoRole(node, i));
        c = Weight(node, i, shape, input.fans);
        break;
      case Role::kBias: {
        const int weight = input.fans.weight_input;
        c = Bias(weight >= 0 ? WeightFanIn(node, weight) : ProducerWeightFanIn(node, i));
        break;
      }
      case Role::kEmbedding: return Table(node, i, shape, input);
      case Role::kOther: return Other(input.note[0] != '\0' ? std::string(input.note) : NoRole(node, i));
      default: return Norm(input.role);
    }
    if (c.misfit || input.parts.count <= 1) return c;
    return WithParts(std::move(c), node, i, shape, input);
  }

  // An embedding table the op reads with indices of its own (EmbedLayerNormalization's).
  Candidate Table(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape, const InputSpec& input) const {
    absl::StatusOr<Fans> fans = FansByRule(input.fans, node, i, shape);
    if (!fans.ok()) return Misfit(std::string(fans.status().message()));
    Candidate c;
    c.role = Role::kEmbedding;
    c.fans = *fans;
    return c;
  }

  // The sizes of the row's parts along their axis of `dim` elements: the attribute's, or equal.
  static std::optional<std::vector<int64_t>> PartSizes(const onnx::NodeProto& node, const PartRule& rule, int64_t dim) {
    const onnx::AttributeProto* sizes =
        rule.sizes_attribute == nullptr ? nullptr : FindAttribute(node, rule.sizes_attribute);
    if (sizes != nullptr && sizes->ints_size() > 0) {
      std::vector<int64_t> given(sizes->ints().begin(), sizes->ints().end());
      int64_t total = 0;
      for (int64_t size : given) total = size > 0 && total <= dim ? total + size : dim + 1;
      return total == dim ? std::optional(given) : std::nullopt;
    }
    if (dim % rule.count != 0) return std::nullopt;
    return std::vector<int64_t>(rule.count, dim / rule.count);
  }

  // `c` with the parts of the row: each part's extent and fans (a weight's, on its own shape).
  Candidate WithParts(Candidate c, const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape,
                      const InputSpec& input) const {
    const int64_t rank = static_cast<int64_t>(shape.size());
    const int64_t axis = input.parts.axis < 0 ? rank + input.parts.axis : input.parts.axis;
    const std::optional<std::vector<int64_t>> sizes =
        axis >= 0 && axis < rank ? PartSizes(node, input.parts, shape[axis]) : std::nullopt;
    if (!sizes) {
      return Misfit(absl::StrFormat("%s input %d has shape %s, which does not split into its parts (%s)",
                                    node.op_type(), i, ShapeText(shape), input.parts.names));
    }
    int64_t begin = 0;
    for (int64_t size : *sizes) {
      std::vector<int64_t> part_shape = shape;
      part_shape[axis] = size;
      absl::StatusOr<Fans> fans =
          c.role == Role::kWeight ? FansByRule(input.fans, node, i, part_shape) : absl::StatusOr<Fans>(*c.fans);
      if (!fans.ok()) return Misfit(std::string(fans.status().message()));
      c.parts.push_back(TensorPart{begin, size, *fans});
      begin += size;
    }
    c.parts_axis = static_cast<int>(axis);
    c.fans = c.parts.front().fans;
    return c;
  }

  // fan_in of the weight of the layer that computes another input of `node` (the MatMul before a
  // SkipLayerNormalization's or BiasGelu's bias), 0 when none does.
  int64_t ProducerWeightFanIn(const onnx::NodeProto& node, int i) const {
    for (int k = 0; k < node.input_size(); ++k) {
      const onnx::NodeProto* producer = k == i ? nullptr : index_.Producer(node.input(k));
      const OpSpec* row = producer == nullptr ? nullptr : RowOf(*producer);
      if (row == nullptr) continue;
      for (const InputSpec& input : row->inputs) {
        if (input.role != Role::kWeight || input.index < 0 ||
            !IsWeightInput(*producer, input.index, [&](int w) { return IsConstant(*producer, w); })) {
          continue;
        }
        const int64_t fan_in = WeightFanIn(*producer, input.index);
        if (fan_in > 0) return fan_in;
      }
    }
    return 0;
  }

  static Candidate Other(std::string reason) {
    Candidate c;
    c.reason = std::move(reason);
    return c;
  }
  static Candidate Fixed(std::string reason) {
    Candidate c = Other(std::move(reason));
    c.fixed = true;
    return c;
  }
  static Candidate Misfit(std::string reason) {
    Candidate c = Other(std::move(reason));
    c.misfit = true;
    return c;
  }
  static Candidate Norm(Role role) {
    Candidate c;
    c.role = role;
    return c;
  }
  static Candidate OffsetScale() {
    Candidate c = Norm(Role::kNormScale);
    c.offset_scale = true;
    return c;
  }
  static Candidate Bias(int64_t fan_in) {
    Candidate c;
    c.role = Role::kBias;
    c.fans = Fans{fan_in, 0};
    return c;
  }

  Candidate Weight(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape, const FanRule& rule) const {
    auto fans = FansByRule(rule, node, i, shape);
    if (fans.ok() && rule.kind == FanRule::Kind::kConvTranspose && options_.convtranspose_input_channel_fans) {
      const int64_t group = std::max<int64_t>(1, IntAttribute(node, "group", 1));
      const int64_t rf = fans->fan_in / std::max<int64_t>(1, shape[1]);
      fans = Fans{shape[0] / group * rf, shape[1] * rf};
    }
    if (!fans.ok()) return Misfit(std::string(fans.status().message()));
    Candidate c;
    c.role = Role::kWeight;
    c.fans = *fans;
    c.groups = std::max<int64_t>(1, IntAttribute(node, "group", 1));
    return c;
  }

  // fan_in of the weight at input `input` of `node` (for its bias), 0 when unknown.
  int64_t WeightFanIn(const onnx::NodeProto& node, int input) const {
    const std::optional<std::vector<int64_t>> weight = ConstantShape(node, input);
    if (!weight) return 0;
    auto fans = FansForWeight(node, input, *weight);
    return fans.ok() ? fans->fan_in : 0;
  }

  // A 1-D constant added to a MatMul's output, of the output's width: the MatMul's bias; a
  // constant of as many values as an Einsum weight's fan_out added to its output: the Einsum's
  // (Keras EinsumDense). The Add after a norm's scale (graph_patterns.h): the norm's bias.
  Candidate AddOperand(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape) const {
    if (node.input_size() != 2) return Other("read by Add, which has no role");
    const onnx::NodeProto* other = index_.Producer(node.input(1 - i));
    const bool matmul = other != nullptr && other->op_type() == "MatMul" && shape.size() == 1;
    const bool einsum = other != nullptr && other->op_type() == "Einsum" && IsDefaultDomain(*other) && !shape.empty();
    if (matmul || einsum) {
      const int64_t width = ShapeProduct(shape).value_or(-1);
      for (int w = other->input_size() - 1; w >= 0; --w) {
        const std::optional<std::vector<int64_t>> weight = ConstantShape(*other, w);
        if (!weight || weight->empty()) continue;
        if (!IsWeightInput(*other, w, [&](int k) { return IsConstant(*other, k); })) continue;
        auto fans = FansForWeight(*other, w, *weight);
        if (fans.ok() && fans->fan_out == width) return Bias(fans->fan_in);
      }
    }
    if (patterns_.IsNormBias(node, i)) return Norm(Role::kNormBias);
    return Other("read by Add, which has no role");
  }

  // Input `i` of a combining op, or of an Expand whose result is combined: a parameter when
  // another input is an activation and the view is neither a broadcast scalar nor a mask.
  Candidate Parameter(const onnx::NodeProto& node, int i, const TracedView& view, bool expanded = false) const {
    if (IsBroadcastScalar(view.map.shape)) return Fixed(ScalarOf(node, i));
    const bool combined = expanded ? IsCombinedWithActivation(node) : HasActivationInput(node, i);
    if (!combined) return Other(NoRole(node, i));
    if (IsAttentionMask(view)) {
      return Fixed(absl::StrFormat("an attention mask (only 0 and large negative values), read by %s input %d",
                                   node.op_type(), i));
    }
    Candidate c;
    c.role = Role::kParameter;
    return c;
  }

  // Whether an input of `node` other than `i` is computed, not made of constants.
  bool HasActivationInput(const onnx::NodeProto& node, int i) const {
    for (int k = 0; k < node.input_size(); ++k) {
      if (k != i && !node.input(k).empty() && !IsConstant(node, k)) return true;
    }
    return false;
  }

  // Whether a reader of the Expand's output combines it with an activation.
  bool IsCombinedWithActivation(const onnx::NodeProto& expand) const {
    if (expand.output_size() == 0) return false;
    for (const auto& [reader, k] : index_.Consumers(expand.output(0))) {
      if (CombinesElementwise(*reader, k) && HasActivationInput(*reader, k)) return true;
    }
    return false;
  }

  // Whether the constants `value` is made of hold only `expected` (readable values only).
  bool HoldsOnly(const std::string& value, double expected) const {
    const TracedView* view = tracer_.Trace(value);
    if (view == nullptr) return false;
    for (const MappedSource& source : view->map.sources) {
      onnx::TensorProto& tensor = *index_.FindConstant(source.name)->tensor;
      absl::StatusOr<TensorValues> values = BindValues(tensor, source.name, payloads_);
      if (!values.ok()) return false;
      for (int64_t k = 0; k < values->size(); ++k) {
        if (values->Read(k) != expected) return false;
      }
    }
    return true;
  }

  // Whether the view's values are only zeros and large negative values, some of them negative.
  // Values that cannot be read (external data) are no mask.
  bool IsAttentionMask(const TracedView& view) const {
    bool negative = false;
    for (const MappedSource& source : view.map.sources) {
      onnx::TensorProto& tensor = *index_.FindConstant(source.name)->tensor;
      absl::StatusOr<TensorValues> values = BindValues(tensor, source.name, payloads_);
      if (!values.ok()) return false;
      for (int64_t k = 0; k < values->size(); ++k) {
        const double v = values->Read(k);
        if (v != 0 && !(v <= kMaskValue)) return false;
        negative |= v != 0;
      }
    }
    return negative;
  }

  // An RNN's W (input 1), R (2) or B (3), whose row's parts are its gates (B: two per gate).
  Candidate Recurrent(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape,
                      const InputSpec& input) const {
    const std::string& op = node.op_type();
    const bool bias = input.role == Role::kRnnBias, recurrence = input.role == Role::kRnnRecurrence;
    RnnLayout layout;
    layout.gates = bias ? input.parts.count / 2 : input.parts.count;
    const int64_t rank_needed = bias ? 2 : 3;
    if (static_cast<int64_t>(shape.size()) != rank_needed) {
      return Misfit(
          absl::StrFormat("%s input %d has shape %s, expected rank %d", op, i, ShapeText(shape), rank_needed));
    }
    layout.directions = shape[0];
    layout.hidden_size = IntAttribute(node, "hidden_size", 0);
    if (layout.hidden_size <= 0) layout.hidden_size = bias ? shape[1] / (2 * layout.gates) : shape[1] / layout.gates;
    const std::optional<int64_t> rows = CheckedMul(bias ? 2 * layout.gates : layout.gates, layout.hidden_size);
    if (shape[1] != rows || (recurrence && shape[2] != layout.hidden_size)) {
      return Misfit(absl::StrFormat("%s input %d has shape %s, which does not fit hidden_size %d", op, i,
                                    ShapeText(shape), layout.hidden_size));
    }
    Candidate c;
    c.rnn = layout;
    c.role = input.role;
    if (!bias) c.fans = Fans{recurrence ? layout.hidden_size : shape[2], layout.hidden_size};
    return c;
  }

  Candidate Embedding(const onnx::NodeProto& gather, int i, const std::vector<int64_t>& shape,
                      const InputSpec& input) const {
    if (IntAttribute(gather, "axis", 0) != 0) return Other("read by Gather along an axis other than 0");
    if (gather.input_size() > 1 && IsConstant(gather, 1)) {
      return Fixed("read by Gather with constant indices (shape arithmetic)");
    }
    absl::StatusOr<Fans> fans = FansByRule(input.fans, gather, i, shape);
    if (!fans.ok()) {
      return Misfit(
          absl::StrFormat("%s table has shape %s, expected [vocabulary, dim]", gather.op_type(), ShapeText(shape)));
    }
    Candidate c;
    c.role = Role::kEmbedding;
    c.fans = *fans;
    return c;
  }

  const GraphIndex& index_;
  ViewTracer& tracer_;
  const AnalysisOptions& options_;
  const DetachedPayloads& payloads_;
  GraphPatterns patterns_;
};

// Adds one reading of a tensor to the analysis: a tensor read several times gets one role, by
// priority (among readers of one role, the first reader's fans). Whether its readers need
// different values depends on the policy, so it is judged when planning (untie.h).
void Merge(TensorUse use, GraphAnalysis& analysis, std::unordered_map<std::string, size_t>& position) {
  auto [known, inserted] = position.emplace(use.name, analysis.tensors.size());
  if (inserted) {
    analysis.tensors.push_back(std::move(use));
    return;
  }
  TensorUse& current = analysis.tensors[known->second];
  if (use.role == Role::kOther) {
    if (current.role != Role::kOther) return;
    current.fixed |= use.fixed;
    current.unknown_op &= !current.fixed;
    if (use.unknown_op && !current.unknown_op && !current.fixed) {  // the reading nobody judged is named
      current.unknown_op = true;
      current.reason = use.reason;
    }
    return;
  }
  if (current.role == Role::kOther || Priority(use.role) < Priority(current.role)) current = std::move(use);
}

std::string UnreadReason(const GraphIndex& index, const Constant& constant) {
  if (constant.source == TensorSource::kCallAttribute) {
    return absl::StrFormat(
        "an attribute of a call of function '%s' that its body does not read (PyTorch's "
        "export_modules_as_functions keeps copies of module parameters there): it keeps its values",
        constant.function->name());
  }
  if (constant.source == TensorSource::kFunctionConstant && index.Calls(constant.function) == 0) {
    return absl::StrFormat("in the body of function '%s', which no node calls", constant.function->name());
  }
  return "not read by any node";
}

// An analysis while its readings are classified and merged.
struct Readings {
  GraphAnalysis& analysis;
  const GraphIndex& index;
  ViewTracer& tracer;
  const Classifier& classifier;
  std::unordered_map<std::string, size_t> position;  // tensor name -> index in analysis.tensors
  std::unordered_map<std::string, std::vector<const onnx::NodeProto*>> readers;  // by tensor name
};

// A reading of `constant` (source k of `view`, which input i of `node` sees), before its role.
TensorUse NewReading(const Constant& constant, const onnx::NodeProto& node, int i, const TracedView& view, int k,
                     const std::shared_ptr<const ElementMap>& elements, const GraphIndex& index) {
  TensorUse use;
  use.tensor = constant.tensor;
  use.name = view.map.sources[k].name;
  use.source = constant.source;
  use.reader = &node;
  use.input_index = i;
  use.via = view.Path(k);
  use.elements = elements;
  use.map_source = k;
  use.overridable = index.IsGraphInput(use.name);
  return use;
}

// Gives the exact reading `use` of a constant the role `candidate` says, quantized when a
// DequantizeLinear (`dequantize`) makes a weight or bias of its integers. False for an integer
// constant that is not quantized, which the analysis does not list (unless its type is unknown to
// this build and its role learned: then it goes to analysis.unreadable).
bool TakeReading(Candidate candidate, const onnx::NodeProto* dequantize, bool is_float, bool unreadable, TensorUse& use,
                 GraphAnalysis& analysis) {
  if (dequantize != nullptr && (candidate.role == Role::kWeight || candidate.role == Role::kBias)) {
    candidate.reason =
        absl::StrFormat("quantized %s (DequantizeLinear): --requantize rewrites it", RoleName(candidate.role));
    candidate.role = Role::kQuantized;
    use.dequantize = dequantize;
  } else if (candidate.role == Role::kQuantized) {
    candidate.reason = absl::StrFormat("quantized input of %s: --requantize rewrites it", use.reader->op_type());
  } else if (!is_float) {
    // An integer tensor that is not a quantized weight is never touched; one of an unknown
    // type may be a learned one that cannot be filled.
    if (unreadable && candidate.role != Role::kOther && !candidate.fixed && !candidate.misfit) {
      TakeRole(candidate, use);
      analysis.unreadable.push_back(use);
    }
    return false;
  }
  if (candidate.misfit) {
    analysis.warnings.push_back(
        absl::StrFormat("'%s' %s left unchanged: %s", use.name, ShapeText(use.view_shape), candidate.reason));
  }
  TakeRole(candidate, use);
  use.fixed = candidate.fixed;
  use.unknown_op = candidate.unknown_op;
  use.reason = candidate.reason;
  return true;
}

bool ReadsIntegers(const Classifier& classifier, const onnx::NodeProto& node) {
  const OpSpec* op = classifier.RowOf(node);
  return op != nullptr && op->ReadsIntegers();
}

// The reading of source k of `view`, which input i of `node` sees, with its role (`role`: the
// classifier's reading of that input, the same for all its sources, made on first use); nullopt
// when the analysis does not list the constant: an integer one that no DequantizeLinear or
// integer op reads, unless its data type is unknown to this build.
std::optional<TensorUse> ReadSource(const onnx::NodeProto& node, int i, const TracedView& view, int k,
                                    const std::shared_ptr<const ElementMap>& elements, std::optional<Candidate>& role,
                                    Readings& readings) {
  const Constant& constant = *readings.index.FindConstant(view.map.sources[k].name);
  const bool is_float = FloatTypeOf(constant.tensor->data_type()).has_value();
  const bool unreadable = !IsKnownDataType(constant.tensor->data_type());
  const onnx::NodeProto* dequantize = view.dequantize[k];
  if (!is_float && dequantize == nullptr && !ReadsIntegers(readings.classifier, node) &&
      !(unreadable && view.exact())) {
    return std::nullopt;
  }
  TensorUse use = NewReading(constant, node, i, view, k, elements, readings.index);
  if (!view.exact()) {
    use.reason = absl::StrFormat("reaches %s input %d but %s", node.op_type(), i, view.why);
  } else {
    use.view_shape = view.map.shape;
    if (!role) role = readings.classifier.Classify(node, i, view);
    if (!TakeReading(*role, dequantize, is_float, unreadable, use, readings.analysis)) return std::nullopt;
  }
  // A scalar without a role parametrizes its op (an epsilon, an exponent, a bound).
  if (use.role == Role::kOther && !use.fixed && IsBroadcastScalar(constant.tensor->dims())) {
    use.fixed = true;
    use.unknown_op = false;
    if (view.exact()) use.reason = ScalarOf(node, i);
  }
  return use;
}

// Reads every constant that input i of `node` reaches, unless the node passes it on (ops that
// select, assemble or re-view constants are not readers: the reader of their output is).
void ReadInput(const onnx::NodeProto& node, int i, Readings& readings) {
  if (readings.tracer.PassesOn(node, i)) return;
  const TracedView* view = readings.tracer.Trace(node.input(i));
  if (view == nullptr) return;
  std::optional<Candidate> role;
  std::shared_ptr<const ElementMap> elements;
  if (view->exact()) elements = std::make_shared<const ElementMap>(view->map);
  for (int k = 0; k < static_cast<int>(view->map.sources.size()); ++k) {
    std::optional<TensorUse> use = ReadSource(node, i, *view, k, elements, role, readings);
    if (!use) continue;
    std::vector<const onnx::NodeProto*>& seen = readings.readers[use->name];
    if (seen.empty() || seen.back() != &node) seen.push_back(&node);
    readings.analysis.readings.push_back(*use);
    Merge(*std::move(use), readings.analysis, readings.position);
  }
}

// Lists the float constants that no reading reached, after the read ones, in declaration order.
void AddUnreadConstants(const GraphIndex& index, GraphAnalysis& analysis,
                        std::unordered_map<std::string, size_t>& position) {
  for (const std::string& name : index.constant_order()) {
    const Constant& constant = *index.FindConstant(name);
    if (position.count(name) || !FloatTypeOf(constant.tensor->data_type())) continue;
    TensorUse use;
    use.tensor = constant.tensor;
    use.name = name;
    use.source = constant.source;
    use.view_shape.assign(constant.tensor->dims().begin(), constant.tensor->dims().end());
    use.overridable = index.IsGraphInput(name);
    use.fixed = IsBroadcastScalar(use.view_shape);
    use.reason = UnreadReason(index, constant);
    position.emplace(name, analysis.tensors.size());
    analysis.tensors.push_back(std::move(use));
  }
}

std::string DescribeUse(const TensorUse& use) {
  std::string text =
      absl::StrFormat("%s by %s input %d", RoleName(use.role), DescribeNode(*use.reader), use.input_index);
  if (!use.via.empty()) absl::StrAppend(&text, " (via ", use.via, ")");
  return text;
}

// A table that is an embedding and is also read by an op that gives it no role (a decoder or
// lm_head tied to it, in an op the table does not know): it is initialized as the embedding, and
// the tie is warned about.
void WarnUnroledReadersOfEmbeddings(GraphAnalysis& analysis, const std::unordered_map<std::string, size_t>& position) {
  for (const TensorUse& reading : analysis.readings) {
    if (reading.role != Role::kOther || reading.fixed || reading.reader == nullptr) continue;
    const std::string& op = reading.reader->op_type();
    if (op == "Shape" || op == "Size") continue;  // they read no values
    const TensorUse& table = analysis.tensors[position.at(reading.name)];
    if (table.role != Role::kEmbedding) continue;
    analysis.warnings.push_back(absl::StrFormat(
        "'%s' is read as %s and by %s input %d%s, which gives it no role (%s); initialized once, as embedding",
        reading.name, DescribeUse(table), DescribeNode(*reading.reader), reading.input_index,
        reading.via.empty() ? "" : absl::StrCat(" (via ", reading.via, ")"), reading.reason));
  }
}

// One warning per function called more than once whose body holds learned constants: each is one
// tensor, initialized once, that all the calls read.
void NoteSharedFunctionConstants(const GraphIndex& index, GraphAnalysis& analysis) {
  std::vector<std::pair<const onnx::FunctionProto*, std::vector<std::string>>> shared;
  for (const TensorUse& use : analysis.tensors) {
    const Constant& constant = *index.FindConstant(use.name);
    if (constant.function == nullptr || index.Calls(constant.function) < 2 || use.role == Role::kOther) continue;
    auto it = std::find_if(shared.begin(), shared.end(), [&](const auto& f) { return f.first == constant.function; });
    if (it == shared.end()) it = shared.insert(shared.end(), {constant.function, {}});
    it->second.push_back(use.name);
  }
  for (const auto& [function, names] : shared) {
    analysis.warnings.push_back(
        absl::StrFormat("function '%s' is called %d times and every call shares the constants of its body: %s (each "
                        "initialized once)",
                        function->name(), index.Calls(function), absl::StrJoin(names, ", ")));
  }
}

}  // namespace

absl::string_view RoleName(Role role) {
  for (const auto& [value, name] : kRoleNames) {
    if (value == role) return name;
  }
  return "?";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (const auto& [value, text] : kRoleNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool IsBroadcastScalar(absl::Span<const int64_t> shape) {
  return std::all_of(shape.begin(), shape.end(), [](int64_t dim) { return dim == 1; });
}

std::vector<GraphConstant> ListConstants(onnx::ModelProto& model) {
  const GraphIndex index(model);
  std::vector<GraphConstant> constants;
  for (const std::string& name : index.constant_order()) {
    const Constant& constant = *index.FindConstant(name);
    constants.push_back(GraphConstant{constant.tensor, name, constant.source});
  }
  return constants;
}

GraphAnalysis AnalyzeGraph(onnx::ModelProto& model, const AnalysisOptions& options, const DetachedPayloads& payloads) {
  GraphAnalysis analysis;
  analysis.index = std::make_shared<const GraphIndex>(model);
  const GraphIndex& index = *analysis.index;
  ViewTracer tracer(index);
  analysis.warnings = index.warnings();
  const Classifier classifier(index, tracer, options, payloads);
  Readings readings{analysis, index, tracer, classifier, {}, {}};
  // Mostly one use per initializer: growing the vector by doubling copied it (each use is a few
  // hundred bytes) past the cache on large graphs.
  analysis.tensors.reserve(static_cast<size_t>(model.graph().initializer_size()));
  for (const onnx::NodeProto* node : index.nodes()) {
    for (int i = 0; i < node->input_size(); ++i) ReadInput(*node, i, readings);
  }
  for (TensorUse& use : analysis.tensors) use.readers = std::move(readings.readers[use.name]);
  AddUnreadConstants(index, analysis, readings.position);
  WarnUnroledReadersOfEmbeddings(analysis, readings.position);
  NoteSharedFunctionConstants(index, analysis);
  for (const std::string& name : index.sparse_initializers()) {
    analysis.warnings.push_back(
        absl::StrFormat("sparse initializer '%s' left unchanged (sparse tensors are not re-initialized)", name));
  }
  return analysis;
}

}  // namespace onnx_reinit
