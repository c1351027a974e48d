#include "onnx_reinit/requantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/blockwise_tensor.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/op_table.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/scheme.h"
#include "onnx_reinit/numerics/moments.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/init/skip_reason.h"

namespace onnx_reinit {
namespace {

struct IntegerType {
  const char* name;
  int64_t min, max;
  int bytes;  // in raw_data
};

std::optional<IntegerType> IntegerTypeOf(int32_t data_type) {
  switch (data_type) {
    case onnx::TensorProto::INT8: return IntegerType{"int8", -128, 127, 1};
    case onnx::TensorProto::UINT8: return IntegerType{"uint8", 0, 255, 1};
    case onnx::TensorProto::INT32:
      return IntegerType{"int32", std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), 4};
    default: return std::nullopt;
  }
}

bool IsExternal(const onnx::TensorProto& tensor) { return tensor.data_location() == onnx::TensorProto::EXTERNAL; }

// The values of an INT8, UINT8 or INT32 tensor, from raw_data or int32_data (or its detached payload).
absl::StatusOr<std::vector<double>> ReadIntegers(const onnx::TensorProto& tensor, const std::string& name,
                                                 const DetachedPayloads& payloads) {
  const std::optional<IntegerType> type = IntegerTypeOf(tensor.data_type());
  ONNX_REINIT_ASSIGN_OR_RETURN(const int64_t count, ElementCount(tensor, name));
  std::vector<double> values;
  auto detached = payloads.by_tensor.find(&tensor);
  const bool raw = detached != payloads.by_tensor.end() || tensor.has_raw_data();
  if (raw) {
    const char* bytes = detached != payloads.by_tensor.end() ? detached->second.data : tensor.raw_data().data();
    const int64_t size =
        detached != payloads.by_tensor.end() ? detached->second.size : static_cast<int64_t>(tensor.raw_data().size());
    if (size != count * type->bytes) {
      return absl::InvalidArgumentError(absl::StrFormat("tensor '%s': raw_data holds %d bytes but its shape needs %d",
                                                        name, size, count * type->bytes));
    }
    for (int64_t k = 0; k < count; ++k) {
      if (type->bytes == 4) {
        int32_t value;
        std::memcpy(&value, bytes + 4 * k, 4);
        values.push_back(value);
      } else {
        values.push_back(type->min < 0 ? static_cast<double>(static_cast<int8_t>(bytes[k]))
                                       : static_cast<double>(static_cast<uint8_t>(bytes[k])));
      }
    }
    return values;
  }
  if (tensor.int32_data_size() != count) {
    return absl::InvalidArgumentError(absl::StrFormat("tensor '%s': int32_data holds %d values but its shape needs %d",
                                                      name, tensor.int32_data_size(), count));
  }
  values.assign(tensor.int32_data().begin(), tensor.int32_data().end());
  return values;
}

void WriteIntegers(onnx::TensorProto& tensor, const std::vector<double>& values) {
  const IntegerType type = *IntegerTypeOf(tensor.data_type());
  if (!tensor.has_raw_data()) {
    for (size_t k = 0; k < values.size(); ++k)
      tensor.set_int32_data(static_cast<int>(k), static_cast<int32_t>(values[k]));
    return;
  }
  char* bytes = tensor.mutable_raw_data()->data();
  for (size_t k = 0; k < values.size(); ++k) {
    const int32_t value = static_cast<int32_t>(values[k]);
    if (type.bytes == 4) {
      std::memcpy(bytes + 4 * k, &value, 4);
    } else {
      bytes[k] = static_cast<char>(static_cast<uint8_t>(value & 0xff));
    }
  }
}

proto::Moments MomentsOf(const std::vector<double>& values) {
  MomentAccumulator accumulator;
  accumulator.AddBatch(values.data(), static_cast<int64_t>(values.size()));
  return accumulator.ToProto();
}

int64_t IntAttribute(const onnx::NodeProto& node, absl::string_view name, int64_t fallback) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.name() == name) return attribute.i();
  }
  return fallback;
}

// What the requantizer needs to know about the model: its constants, how often each name is read,
// the producers of values, and the graph inputs.
class ModelIndex {
 public:
  explicit ModelIndex(onnx::ModelProto& model) {
    for (const GraphConstant& constant : ListConstants(model)) constants_.emplace(constant.name, constant.tensor);
    for (const onnx::ValueInfoProto& input : model.graph().input()) graph_inputs_.insert(input.name());
    AddGraph(model.graph());
  }

  onnx::TensorProto* Constant(const std::string& name) const {
    auto it = constants_.find(name);
    return it == constants_.end() ? nullptr : it->second;
  }
  int Reads(const std::string& name) const {
    auto it = reads_.find(name);
    return it == reads_.end() ? 0 : it->second;
  }
  const onnx::NodeProto* Producer(const std::string& name) const {
    auto it = producers_.find(name);
    return it == producers_.end() ? nullptr : it->second;
  }
  bool IsGraphInput(const std::string& name) const { return graph_inputs_.count(name) > 0; }

 private:
  void AddGraph(const onnx::GraphProto& graph) {
    for (const onnx::NodeProto& node : graph.node()) {
      for (const std::string& input : node.input()) ++reads_[input];
      for (const std::string& output : node.output()) producers_.emplace(output, &node);
      for (const onnx::AttributeProto& attribute : node.attribute()) {
        if (attribute.has_g()) AddGraph(attribute.g());
        for (const onnx::GraphProto& subgraph : attribute.graphs()) AddGraph(subgraph);
      }
    }
  }

  std::unordered_map<std::string, onnx::TensorProto*> constants_;
  std::unordered_map<std::string, int> reads_;
  std::unordered_map<std::string, const onnx::NodeProto*> producers_;
  std::unordered_set<std::string> graph_inputs_;
};

// Where the scale and zero point of a quantized weight are: the node that reads them and its slots.
struct ScaleSlots {
  const onnx::NodeProto* node = nullptr;  // DequantizeLinear, QLinearConv or QLinearMatMul
  int scale = -1, zero_point = -1;
  int64_t axis = 1;  // for per-axis scales (may be negative)
};

// A requantized weight's new scales, for its bias.
struct WeightScales {
  std::vector<double> scales;
};

// The role of the float tensor a quantized one stands for: the op table's for its reader's input
// (a QDQ weight's reader is the float op), a weight when the table has none.
Role FloatRoleOf(const TensorUse& use) {
  const OpSpec* op = FindOp(use.reader->domain(), use.reader->op_type());
  const InputSpec* input = op != nullptr ? op->Input(use.input_index) : nullptr;
  return input != nullptr && (input->role == Role::kBias || input->role == Role::kEmbedding) ? input->role
                                                                                             : Role::kWeight;
}

// The int32 bias input of a QOperator op (QLinearConv, QGemm) in the op table; -1 when it has none.
int QOperatorBiasInput(const onnx::NodeProto& node) {
  const OpSpec* op = FindOp(node.domain(), node.op_type());
  if (op == nullptr) return -1;
  for (const InputSpec& input : op->inputs) {
    if (input.role == Role::kBias && input.storage == ValueStorage::kQOperator) return input.index;
  }
  return -1;
}

bool IsQuantizedBias(const TensorUse& use) {
  const int qoperator_bias = QOperatorBiasInput(*use.reader);
  if (qoperator_bias >= 0) return use.input_index == qoperator_bias;
  const std::string& op = use.reader->op_type();
  return use.dequantize != nullptr && use.input_index == 2 && (op == "Conv" || op == "ConvTranspose" || op == "Gemm");
}

// The slot of a node's bias, when it has one.
int BiasInput(const onnx::NodeProto& node) {
  const int qoperator_bias = QOperatorBiasInput(node);
  return qoperator_bias >= 0 ? qoperator_bias : 2;
}

// Which scale group each element of a tensor belongs to: 0 for one scale per tensor (axis -1),
// else its index along `axis`.
class ScaleGroups {
 public:
  ScaleGroups(const std::vector<int64_t>& dims, int64_t axis, int64_t groups) : axis_(axis), groups_(groups) {
    for (size_t d = axis + 1; axis >= 0 && d < dims.size(); ++d) inner_ *= dims[d];
  }
  int64_t size() const { return groups_; }
  int64_t operator()(int64_t element) const { return axis_ < 0 ? 0 : (element / inner_) % groups_; }

 private:
  int64_t axis_, groups_, inner_ = 1;
};

// Per group, max|w| / levels rounded to the scale's type; a group of zeros keeps its old scale.
std::vector<double> SymmetricScales(const std::vector<double>& w, const ScaleGroups& groups,
                                    const std::vector<int64_t>& levels, const std::vector<double>& old_scales,
                                    FloatType scale_type) {
  std::vector<double> largest(groups.size(), 0.0);
  for (size_t e = 0; e < w.size(); ++e) {
    double& group_largest = largest[groups(static_cast<int64_t>(e))];
    group_largest = std::max(group_largest, std::abs(w[e]));
  }
  std::vector<double> scales(groups.size());
  for (int64_t g = 0; g < groups.size(); ++g) {
    scales[g] = largest[g] > 0 ? RoundTo(scale_type, largest[g] / static_cast<double>(levels[g])) : old_scales[g];
  }
  return scales;
}

std::string DescribeScales(const std::vector<double>& scales, int64_t axis) {
  if (scales.size() == 1) return absl::StrFormat("scale %.4g", scales[0]);
  const auto [low, high] = std::minmax_element(scales.begin(), scales.end());
  return absl::StrFormat("%d scales along axis %d (%.4g..%.4g)", scales.size(), axis, *low, *high);
}

// The policy for the float values of quantized tensors, which are drawn in the role of the float
// tensor they stand for (weight or bias): a role:quantized rule becomes one rule per such role.
Policy QuantizedPolicy(const Policy& policy) {
  Policy out = policy;
  out.rules.clear();
  for (const Rule& rule : policy.rules) {
    if (rule.field != Rule::Field::kRole || rule.pattern != RoleName(Role::kQuantized)) {
      out.rules.push_back(rule);
      continue;
    }
    for (const Role role : {Role::kWeight, Role::kBias}) {
      Rule as_float = rule;
      as_float.pattern = std::string(RoleName(role));
      out.rules.push_back(std::move(as_float));
    }
  }
  return out;
}

class Requantizer {
 public:
  Requantizer(onnx::ModelProto& model, const RequantizeOptions& options, const DetachedPayloads& payloads,
              Requantization& out)
      : index_(model), options_(options), policy_(QuantizedPolicy(*options.policy)), payloads_(payloads), out_(out) {}

  absl::Status Run(const GraphAnalysis& analysis) {
    std::map<std::pair<const onnx::NodeProto*, int>, const TensorUse*> biases;
    std::vector<const TensorUse*> weights;
    for (const TensorUse& use : analysis.tensors) {
      if (use.role != Role::kQuantized) continue;
      if (IsQuantizedBias(use)) {
        biases.emplace(std::make_pair(use.reader, use.input_index), &use);
      } else {
        weights.push_back(&use);
      }
    }
    for (const TensorUse* weight : weights) {
      if (IsBlockwise(*weight)) {
        ONNX_REINIT_RETURN_IF_ERROR(Blockwise(*weight));
        continue;
      }
      ONNX_REINIT_ASSIGN_OR_RETURN(std::optional<WeightScales> scales, Weight(*weight));
      auto bias = biases.find(std::make_pair(weight->reader, BiasInput(*weight->reader)));
      if (bias == biases.end()) continue;
      if (scales) {
        ONNX_REINIT_RETURN_IF_ERROR(Bias(*bias->second, *weight, *scales));
      } else {
        Skip(*bias->second, absl::StrFormat("its weight '%s' is not requantized", weight->name));
      }
      biases.erase(bias);
    }
    for (const auto& [slot, bias] : biases) Skip(*bias, "no requantized weight in the same op");
    Summarize();
    return absl::OkStatus();
  }

 private:
  // Leaves `use` unchanged for `reason`; those the user did not choose are named in one warning.
  void Skip(const TensorUse& use, const SkipReason& reason) {
    proto::SkippedTensor& skipped = out_.skipped.emplace_back();
    skipped.set_name(use.name);
    skipped.set_role(std::string(RoleName(use.role)));
    skipped.set_op_type(use.reader->op_type());
    skipped.set_consumer(use.reader->name());
    skipped.set_input_index(use.input_index);
    skipped.set_reason(reason.text);
    if (!reason.Chosen()) not_requantized_.push_back(absl::StrFormat("'%s' (%s)", use.name, reason.text));
  }
  // ... because this version cannot requantize it as it is (`why`).
  void Skip(const TensorUse& use, std::string why) { Skip(use, SkipReason{SkipReason::Cause::kOther, std::move(why)}); }

  void Summarize() {
    if (with_activation_scales_ > 0) {
      out_.warnings.push_back(absl::StrFormat(
          "requantized %d tensors; activation scales (of QuantizeLinear, and x/y scales of QLinear ops) were "
          "calibrated on the old weights and are kept: recalibrate them before using the model's outputs",
          with_activation_scales_));
    }
    if (!not_requantized_.empty()) {
      out_.warnings.push_back(absl::StrFormat("--requantize left %d quantized tensors unchanged: %s",
                                              static_cast<int>(not_requantized_.size()),
                                              absl::StrJoin(not_requantized_, "; ")));
    }
  }

  // Why `use`'s tensor `tensor` (named `name`) cannot be written, or "" when it can.
  std::string Unwritable(const std::string& name, const onnx::TensorProto* tensor, int reads_allowed,
                         bool external_allowed = false) const {
    if (tensor == nullptr) return absl::StrFormat("'%s' is not a constant", name);
    if (IsExternal(*tensor) && !external_allowed) {
      return absl::StrFormat("'%s' is in external data, which --requantize does not rewrite", name);
    }
    if (index_.IsGraphInput(name)) {
      return absl::StrFormat("'%s' is also a graph input, which a runtime may replace", name);
    }
    if (index_.Reads(name) > reads_allowed) {
      return absl::StrFormat("'%s' is also read by other nodes, which a new value would change", name);
    }
    return "";
  }

  absl::Status CheckInMemory(const std::string& name, const onnx::TensorProto& tensor) const {
    if (payloads_.by_tensor.count(&tensor) == 0) return absl::OkStatus();
    return WithErrorKind(absl::FailedPreconditionError(
                             absl::StrFormat("'%s' is requantized, which is done in memory, not in place", name)),
                         ErrorKind::kNotInPlace);
  }

  // The float values the policy gives `use` in the role `role` (a float weight's, or a bias's).
  // nullopt (with the use skipped) when a rule keeps it.
  absl::StatusOr<std::optional<std::vector<double>>> Draw(const TensorUse& use, Role role, TensorPlan& plan) {
    TensorUse as_float = use;
    as_float.role = role;
    ONNX_REINIT_ASSIGN_OR_RETURN(plan, PlanTensor(as_float, policy_));
    if (plan.regions.empty()) {
      Skip(use, SkipReason::Of(plan, policy_));
      return std::optional<std::vector<double>>();
    }
    onnx::TensorProto scratch;
    scratch.set_data_type(onnx::TensorProto::FLOAT);
    *scratch.mutable_dims() = use.tensor->dims();
    ONNX_REINIT_ASSIGN_OR_RETURN(const int64_t count, ElementCount(scratch, use.name));
    scratch.mutable_raw_data()->resize(count * sizeof(float));
    ONNX_REINIT_ASSIGN_OR_RETURN(const TensorValues values, TensorValues::Bind(scratch, use.name));
    std::vector<FillJob> jobs;
    for (const PlannedRegion& region : plan.regions) {
      FillJob job{values, region.distribution, StreamIdForName(use.name), region.begin, region.end};
      job.shape = region.shape;
      job.groups = region.groups;
      jobs.push_back(std::move(job));
    }
    Fill(jobs, options_.seed, options_.threads);
    std::vector<double> drawn(count);
    values.Read(0, count, drawn.data());
    return std::optional<std::vector<double>>(std::move(drawn));
  }

  // DequantizeLinear's scale and zero point, or those the op table gives the QOperator op.
  static ScaleSlots SlotsOf(const TensorUse& use) {
    if (use.dequantize != nullptr) return ScaleSlots{use.dequantize, 1, 2, IntAttribute(*use.dequantize, "axis", 1)};
    const OpSpec* op = FindOp(use.reader->domain(), use.reader->op_type());
    const QuantSlots quant =
        op != nullptr && op->Input(use.input_index) != nullptr ? op->Input(use.input_index)->quant : QuantSlots{};
    int axis = quant.axis;
    if (quant.axis_swap_attribute != nullptr && IntAttribute(*use.reader, quant.axis_swap_attribute, 0) == 1) {
      axis = axis == -1 ? -2 : -1;
    }
    return ScaleSlots{use.reader, quant.scale, quant.zero_point, axis};
  }

  static const std::string* Input(const onnx::NodeProto& node, int i) {
    return i < node.input_size() && !node.input(i).empty() ? &node.input(i) : nullptr;
  }

  // Requantizes one weight; nullopt when it is left unchanged (then it is in out_.skipped).
  absl::StatusOr<std::optional<WeightScales>> Weight(const TensorUse& use) {
    const std::optional<WeightScales> unchanged;
    if (options_.select && !options_.select(use)) {
      Skip(use, SkipReason::NotSelected());
      return unchanged;
    }
    const ScaleSlots slots = SlotsOf(use);
    if (slots.scale < 0) {
      Skip(use, absl::StrFormat("%s has no weight scale (the model rescales its int32 output later), so no "
                                "integers can be given the scheme's distribution",
                                use.reader->op_type()));
      return unchanged;
    }
    if (use.dequantize != nullptr && use.dequantize->input(0) != use.name) {
      Skip(use, "ops between the integers and DequantizeLinear");
      return unchanged;
    }
    if (IntAttribute(*slots.node, "block_size", 0) != 0) {
      Skip(use, "blocked quantization (block_size) is not supported");
      return unchanged;
    }
    const std::optional<IntegerType> type = IntegerTypeOf(use.tensor->data_type());
    if (!type || type->bytes != 1) {
      Skip(use, "only int8 and uint8 weights are requantized");
      return unchanged;
    }
    const std::string* scale_name = Input(*slots.node, slots.scale);
    if (scale_name == nullptr) {
      Skip(use, "no scale");
      return unchanged;
    }
    onnx::TensorProto* scale = index_.Constant(*scale_name);
    std::string why = Unwritable(use.name, use.tensor, 1);
    if (why.empty()) why = Unwritable(*scale_name, scale, 1);
    if (why.empty() && !FloatTypeOf(scale->data_type()))
      why = absl::StrFormat("scale '%s' is not floating-point", *scale_name);
    if (!why.empty()) {
      Skip(use, why);
      return unchanged;
    }
    ONNX_REINIT_RETURN_IF_ERROR(CheckInMemory(use.name, *use.tensor));
    ONNX_REINIT_RETURN_IF_ERROR(CheckInMemory(*scale_name, *scale));
    ONNX_REINIT_ASSIGN_OR_RETURN(const TensorValues scale_values, BindValues(*scale, *scale_name, payloads_));
    const int64_t groups = scale_values.size();
    std::vector<double> old_scales(groups);
    scale_values.Read(0, groups, old_scales.data());

    std::vector<double> zero_points(groups, 0.0);
    if (const std::string* zp_name = Input(*slots.node, slots.zero_point)) {
      const onnx::TensorProto* zp = index_.Constant(*zp_name);
      if (zp == nullptr || zp->data_type() != use.tensor->data_type()) {
        Skip(use, absl::StrFormat("zero point '%s' is not a constant of the weight's type", *zp_name));
        return unchanged;
      }
      ONNX_REINIT_ASSIGN_OR_RETURN(zero_points, ReadIntegers(*zp, *zp_name, payloads_));
      if (static_cast<int64_t>(zero_points.size()) == 1) zero_points.assign(groups, zero_points[0]);
      if (static_cast<int64_t>(zero_points.size()) != groups) {
        Skip(use, "the zero point's size does not match the scale's");
        return unchanged;
      }
    }
    const std::vector<int64_t> dims(use.tensor->dims().begin(), use.tensor->dims().end());
    const int64_t rank = static_cast<int64_t>(dims.size());
    const int64_t axis = groups == 1 ? -1 : slots.axis < 0 ? slots.axis + rank : slots.axis;
    if (groups != 1 && (axis < 0 || axis >= rank || dims[axis] != groups)) {
      Skip(use, absl::StrFormat("%d scales do not fit shape [%s] along axis %d", groups, absl::StrJoin(dims, ", "),
                                slots.axis));
      return unchanged;
    }
    std::vector<int64_t> levels(groups);
    for (int64_t g = 0; g < groups; ++g) {
      levels[g] = std::min<int64_t>(static_cast<int64_t>(zero_points[g]) - type->min,
                                    type->max - static_cast<int64_t>(zero_points[g]));
      if (levels[g] <= 0) {
        Skip(use, absl::StrFormat("zero point %d of %s leaves no room for values of both signs",
                                  static_cast<int64_t>(zero_points[g]), type->name));
        return unchanged;
      }
    }

    TensorPlan plan;
    ONNX_REINIT_ASSIGN_OR_RETURN(std::optional<std::vector<double>> drawn, Draw(use, Role::kWeight, plan));
    if (!drawn) return unchanged;
    const ScaleGroups groups_of(dims, axis, groups);
    const std::vector<double> scales = SymmetricScales(*drawn, groups_of, levels, old_scales, scale_values.type());
    ONNX_REINIT_ASSIGN_OR_RETURN(const std::vector<double> old_q, ReadIntegers(*use.tensor, use.name, payloads_));
    std::vector<double> q(drawn->size()), before(drawn->size()), after(drawn->size());
    for (size_t e = 0; e < drawn->size(); ++e) {
      const int64_t g = groups_of(static_cast<int64_t>(e));
      const double centred = std::clamp(std::nearbyint((*drawn)[e] / scales[g]), -static_cast<double>(levels[g]),
                                        static_cast<double>(levels[g]));
      q[e] = centred + zero_points[g];
      after[e] = centred * scales[g];
      before[e] = (old_q[e] - zero_points[g]) * old_scales[g];
    }

    proto::RequantizedTensor& record = NewRecord(use, Role::kWeight, plan);
    record.set_scale(*scale_name);
    record.set_axis(axis);
    for (int64_t g = 0; g < groups; ++g) {
      record.add_scales(scales[g]);
      record.add_zero_points(static_cast<int64_t>(zero_points[g]));
      record.add_levels(levels[g]);
    }
    *record.mutable_before() = MomentsOf(before);
    *record.mutable_after() = MomentsOf(after);
    const bool one_level = std::all_of(levels.begin(), levels.end(), [&](int64_t l) { return l == levels[0]; });
    record.set_description(
        absl::StrFormat("%s -> %s, %s = max|w|/%s", DescribeDistribution(plan.regions.front().distribution), type->name,
                        DescribeScales(scales, axis), one_level ? absl::StrCat(levels[0]) : std::string("levels")));
    out_.writes.push_back(TensorWrite{use.tensor, std::move(q)});
    out_.writes.push_back(TensorWrite{scale, scales});
    // QDQ and QLinear ops quantize their activations with calibrated scales; dynamic ones do not.
    if (use.dequantize != nullptr || absl::StartsWith(use.reader->op_type(), "QLinear")) ++with_activation_scales_;
    return std::optional<WeightScales>(WeightScales{scales});
  }

  // Requantizes a blockwise weight (blockwise_tensor.h): plans its draw and records it; the values
  // are computed and written later, row chunk by row chunk (WriteBlockwise).
  absl::Status Blockwise(const TensorUse& use) {
    if (options_.select && !options_.select(use)) {
      Skip(use, SkipReason::NotSelected());
      return absl::OkStatus();
    }
    absl::StatusOr<BlockwiseTensor> bound = BindBlockwise(
        use, [&](const std::string& name) { return index_.Constant(name); }, payloads_);
    if (ErrorKindOf(bound.status()) == ErrorKind::kUnsupported) {
      Skip(use, std::string(bound.status().message()));
      return absl::OkStatus();
    }
    ONNX_REINIT_RETURN_IF_ERROR(bound.status());
    const BlockwiseTensor& t = *bound;
    std::string why = Unwritable(use.name, use.tensor, 1, /*external_allowed=*/true);
    if (why.empty()) why = Unwritable(t.scales_name, index_.Constant(t.scales_name), 1, true);
    if (why.empty() && t.zero_points != nullptr)
      why = Unwritable(t.zero_points_name, index_.Constant(t.zero_points_name), 1, true);
    if (why.empty() && t.scales->storage() != Storage::kRawData && t.scales->storage() != Storage::kFloatData) {
      why = absl::StrFormat("scales '%s' are not in raw_data or float_data", t.scales_name);
    }
    if (!why.empty()) {
      Skip(use, why);
      return absl::OkStatus();
    }
    const onnx::TensorProto stand_in = FloatStandIn(t, index_.Constant(t.scales_name)->data_type());
    TensorUse as_float = use;
    as_float.tensor = const_cast<onnx::TensorProto*>(&stand_in);  // read only: PlanTensor takes its shape
    as_float.role = t.float_role;
    as_float.view_shape = {t.layout.rows, t.layout.cols};
    as_float.elements = nullptr;
    ONNX_REINIT_ASSIGN_OR_RETURN(const TensorPlan plan, PlanTensor(as_float, policy_));
    if (plan.regions.empty()) {
      Skip(use, SkipReason::Of(plan, policy_));
      return absl::OkStatus();
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(const TensorValues unstored, UnstoredValues(stand_in, use.name));
    const PlannedRegion& region = plan.regions.front();
    FillJob draw{unstored, region.distribution, StreamIdForName(use.name), 0, t.layout.rows * t.layout.cols};
    draw.shape = {t.layout.rows, t.layout.cols};

    proto::RequantizedTensor& record = NewRecord(use, t.float_role, plan);
    record.set_count(t.layout.rows * t.layout.cols);
    record.set_scale(t.scales_name);
    record.set_zero_point(t.zero_points_name);
    record.set_axis(1);
    record.set_bits(t.layout.bits);
    record.set_block_size(t.layout.block_size);
    record.add_levels(LevelsOf(t.convention, t.layout.bits));
    *record.mutable_before() = DequantizedMoments(t, options_.threads);
    record.set_description(absl::StrFormat("%s -> %d-bit blocks of %d, %s", DescribeDistribution(region.distribution),
                                           t.layout.bits, t.layout.block_size, DescribeConvention(t)));
    out_.blockwise.push_back(BlockwiseJob{t, std::move(draw), static_cast<int>(out_.records.size()) - 1});
    return absl::OkStatus();
  }

  static std::string DescribeConvention(const BlockwiseTensor& t) {
    const int64_t half = t.layout.default_zero_point();
    switch (t.convention) {
      case BlockConvention::kSignedScale:
        return absl::StrFormat("scale = -v/%d (v: the block's value of largest |v|), zero point %d", half, half);
      case BlockConvention::kSymmetric: return absl::StrFormat("scale = max|w|/%d, zero point %d", half - 1, half);
      case BlockConvention::kMinMax:
        return absl::StrFormat("scale = (max - min)/%d, zero point = round(-min/scale)", t.layout.max_q());
    }
    return "";
  }

  // The scale of the activation the op multiplies with its weight, or nullptr.
  onnx::TensorProto* ActivationScale(const onnx::NodeProto& op, int bias_input, std::string& name) const {
    const std::string* scale = nullptr;
    const OpSpec* spec = FindOp(op.domain(), op.op_type());
    const InputSpec* bias = spec != nullptr ? spec->Input(bias_input) : nullptr;
    if (bias != nullptr && bias->quant.activation_scale >= 0) {
      scale = Input(op, bias->quant.activation_scale);
    } else if (const onnx::NodeProto* producer = op.input_size() > 0 ? index_.Producer(op.input(0)) : nullptr;
               producer != nullptr && producer->op_type() == "DequantizeLinear") {
      scale = Input(*producer, 1);
    }
    if (scale == nullptr) return nullptr;
    name = *scale;
    onnx::TensorProto* tensor = index_.Constant(*scale);
    return tensor != nullptr && FloatTypeOf(tensor->data_type()) && !IsExternal(*tensor) ? tensor : nullptr;
  }

  absl::Status Bias(const TensorUse& use, const TensorUse& weight, const WeightScales& weight_scales) {
    if (options_.select && !options_.select(use)) {
      Skip(use, SkipReason::NotSelected());
      return absl::OkStatus();
    }
    std::string x_scale_name;
    onnx::TensorProto* x_scale = ActivationScale(*use.reader, use.input_index, x_scale_name);
    if (use.tensor->data_type() != onnx::TensorProto::INT32) {
      Skip(use, "not an int32 bias");
      return absl::OkStatus();
    }
    if (x_scale == nullptr) {
      Skip(use, "the input's scale (x_scale) is not a constant");
      return absl::OkStatus();
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(const TensorValues x_values, BindValues(*x_scale, x_scale_name, payloads_));
    if (x_values.size() != 1) {
      Skip(use, absl::StrFormat("the input's scale '%s' is not one value", x_scale_name));
      return absl::OkStatus();
    }
    const double x = x_values.Read(0);
    ONNX_REINIT_ASSIGN_OR_RETURN(const int64_t count, ElementCount(*use.tensor, use.name));
    const std::vector<double>& w_scales = weight_scales.scales;
    if (w_scales.size() != 1 && static_cast<int64_t>(w_scales.size()) != count) {
      Skip(use, absl::StrFormat("%d weight scales for %d bias values", w_scales.size(), count));
      return absl::OkStatus();
    }
    std::string why = Unwritable(use.name, use.tensor, 1);
    // A QDQ bias has its own scale tensor, x_scale * w_scale, which must follow the new w_scale.
    const std::string* scale_name = use.dequantize != nullptr ? Input(*use.dequantize, 1) : nullptr;
    onnx::TensorProto* scale = scale_name != nullptr ? index_.Constant(*scale_name) : nullptr;
    if (why.empty() && scale_name != nullptr) why = Unwritable(*scale_name, scale, 1);
    if (why.empty() && use.dequantize != nullptr && scale_name == nullptr) why = "no scale";
    if (!why.empty()) {
      Skip(use, why);
      return absl::OkStatus();
    }
    std::optional<TensorValues> scale_values;
    std::vector<double> old_scales(count, x * w_scales[0]);
    if (scale != nullptr) {
      ONNX_REINIT_RETURN_IF_ERROR(CheckInMemory(*scale_name, *scale));
      ONNX_REINIT_ASSIGN_OR_RETURN(scale_values, BindValues(*scale, *scale_name, payloads_));
      if (scale_values->size() != 1 && scale_values->size() != count) {
        Skip(use, "the bias scale's size does not match the bias");
        return absl::OkStatus();
      }
      for (int64_t j = 0; j < count; ++j) old_scales[j] = scale_values->Read(scale_values->size() == 1 ? 0 : j);
    }
    ONNX_REINIT_RETURN_IF_ERROR(CheckInMemory(use.name, *use.tensor));
    std::vector<double> zero_points(count, 0.0);
    if (const std::string* zp_name = use.dequantize != nullptr ? Input(*use.dequantize, 2) : nullptr) {
      const onnx::TensorProto* zp = index_.Constant(*zp_name);
      if (zp == nullptr || zp->data_type() != onnx::TensorProto::INT32) {
        Skip(use, absl::StrFormat("zero point '%s' is not an int32 constant", *zp_name));
        return absl::OkStatus();
      }
      ONNX_REINIT_ASSIGN_OR_RETURN(zero_points, ReadIntegers(*zp, *zp_name, payloads_));
      if (zero_points.size() == 1) zero_points.assign(count, zero_points[0]);
      if (static_cast<int64_t>(zero_points.size()) != count) {
        Skip(use, "the zero point's size does not match the bias");
        return absl::OkStatus();
      }
    }

    TensorPlan plan;
    ONNX_REINIT_ASSIGN_OR_RETURN(std::optional<std::vector<double>> drawn, Draw(use, Role::kBias, plan));
    if (!drawn) return absl::OkStatus();
    const int64_t stored_scales = scale_values ? scale_values->size() : count;
    std::vector<double> scales(stored_scales);
    for (int64_t j = 0; j < stored_scales; ++j) {
      const double product = x * w_scales[w_scales.size() == 1 ? 0 : j];
      scales[j] = scale_values ? RoundTo(scale_values->type(), product) : product;
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(const std::vector<double> old_q, ReadIntegers(*use.tensor, use.name, payloads_));
    constexpr double kLow = std::numeric_limits<int32_t>::min(), kHigh = std::numeric_limits<int32_t>::max();
    std::vector<double> q(count), before(count), after(count);
    for (int64_t j = 0; j < count; ++j) {
      const double s = scales[stored_scales == 1 ? 0 : j];
      q[j] = std::clamp(std::nearbyint((*drawn)[j] / s) + zero_points[j], kLow, kHigh);
      after[j] = (q[j] - zero_points[j]) * s;
      before[j] = (old_q[j] - zero_points[j]) * old_scales[j];
    }
    proto::RequantizedTensor& record = NewRecord(use, Role::kBias, plan);
    if (scale_name != nullptr) record.set_scale(*scale_name);
    record.set_axis(stored_scales == 1 ? -1 : 0);
    for (double s : scales) record.add_scales(s);
    for (double zp : zero_points) record.add_zero_points(static_cast<int64_t>(zp));
    *record.mutable_before() = MomentsOf(before);
    *record.mutable_after() = MomentsOf(after);
    record.set_description(absl::StrFormat("%s -> int32, %s = x_scale '%s' * w_scale of '%s'",
                                           DescribeDistribution(plan.regions.front().distribution),
                                           DescribeScales(scales, 0), x_scale_name, weight.name));
    out_.writes.push_back(TensorWrite{use.tensor, std::move(q)});
    if (scale != nullptr) out_.writes.push_back(TensorWrite{scale, std::move(scales)});
    return absl::OkStatus();
  }

  proto::RequantizedTensor& NewRecord(const TensorUse& use, Role role, const TensorPlan& plan) {
    proto::RequantizedTensor& record = out_.records.emplace_back();
    record.set_name(use.name);
    record.set_role(std::string(RoleName(role)));
    record.set_op_type(use.reader->op_type());
    record.set_consumer(use.reader->name());
    record.set_input_index(use.input_index);
    record.set_via(use.via);
    record.set_dtype(IntegerTypeOf(use.tensor->data_type())->name);
    for (int64_t dim : use.tensor->dims()) record.add_shape(dim);
    int64_t count = 1;
    for (int64_t dim : use.tensor->dims()) count *= dim;
    record.set_count(count);
    if (use.fans) {
      record.set_fan_in(use.fans->fan_in);
      record.set_fan_out(use.fans->fan_out);
    }
    record.set_storage(use.tensor->has_raw_data() || payloads_.by_tensor.count(use.tensor) ? "raw_data" : "int32_data");
    record.set_scheme(plan.scheme);
    record.set_rule(plan.rule);
    *record.mutable_distribution() = plan.regions.front().distribution;
    return record;
  }

  const ModelIndex index_;
  int with_activation_scales_ = 0;  // requantized weights whose ops also read calibrated activation scales
  const RequantizeOptions& options_;
  const Policy policy_;
  std::vector<std::string> not_requantized_;  // "'NAME' (why)" of the tensors left unchanged, not by choice
  const DetachedPayloads& payloads_;
  Requantization& out_;
};

}  // namespace

bool MatchesQuantized(const Rule& rule, const TensorUse& use) {
  if (rule.field == Rule::Field::kRole && rule.pattern == RoleName(Role::kQuantized)) return true;
  TensorUse as_float = use;
  as_float.role = FloatRoleOf(use);
  return rule.Matches(as_float);
}

absl::StatusOr<Requantization> PlanRequantization(onnx::ModelProto& model, const GraphAnalysis& analysis,
                                                  const RequantizeOptions& options, const DetachedPayloads& payloads) {
  Requantization result;
  Requantizer requantizer(model, options, payloads, result);
  ONNX_REINIT_RETURN_IF_ERROR(requantizer.Run(analysis));
  return result;
}

void ApplyWrites(const std::vector<TensorWrite>& writes) {
  for (const TensorWrite& write : writes) {
    if (IntegerTypeOf(write.tensor->data_type())) {
      WriteIntegers(*write.tensor, write.values);
      continue;
    }
    // Checked when planned: a float scale that holds its own values.
    const TensorValues values = *TensorValues::Bind(*write.tensor, write.tensor->name());
    values.Write(0, write.values.data(), static_cast<int64_t>(write.values.size()));
  }
}

}  // namespace onnx_reinit
