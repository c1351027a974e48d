#include "onnx_reinit/requantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/blockwise_tensor.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/graph_index.h"
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

// The op table's spec of `node`'s input `index`, or null.
const InputSpec* InputSpecOf(const onnx::NodeProto& node, int index) {
  const OpSpec* op = FindOp(node.domain(), node.op_type());
  return op != nullptr ? op->Input(index) : nullptr;
}

// The role of the float tensor a quantized one stands for: the op table's for its reader's input
// (a QDQ weight's reader is the float op), a weight when the table has none.
Role FloatRoleOf(const TensorUse& use) {
  const InputSpec* input = InputSpecOf(*use.reader, use.input_index);
  return input != nullptr && (input->role == Role::kBias || input->role == Role::kEmbedding) ? input->role
                                                                                             : Role::kWeight;
}

// The op table's spec of the input of `node` that may hold an int32 bias in steps of the
// activation's scale times the weight's (QLinearConv's B, QGemm's C; Conv's B and Gemm's C read
// through DequantizeLinear), or null when the op has none.
const InputSpec* Int32BiasInput(const onnx::NodeProto& node) {
  const OpSpec* op = FindOp(node.domain(), node.op_type());
  if (op == nullptr) return nullptr;
  for (const InputSpec& input : op->inputs) {
    const bool int32 = input.quant.activation_scale >= 0 || input.quant.dequantized_activation >= 0;
    if (input.role == Role::kBias && int32) return &input;
  }
  return nullptr;
}

// Whether `use` is an int32 bias: a QOperator op's, or a float op's read through DequantizeLinear.
bool IsQuantizedBias(const TensorUse& use) {
  const InputSpec* bias = Int32BiasInput(*use.reader);
  if (bias == nullptr || bias->index != use.input_index) return false;
  return bias->quant.activation_scale >= 0 || use.dequantize != nullptr;
}

// The slot of the int32 bias of the op that reads a weight, -1 when it has none.
int BiasInput(const onnx::NodeProto& node) {
  const InputSpec* bias = Int32BiasInput(node);
  return bias != nullptr ? bias->index : -1;
}

// The table's scale and zero point slots of `node` when it dequantizes integers (DequantizeLinear),
// else null.
const QuantSlots* DequantizerSlots(const onnx::NodeProto* node) {
  const InputSpec* input = node != nullptr ? InputSpecOf(*node, 0) : nullptr;
  return input != nullptr && input->storage == ValueStorage::kQdq ? &input->quant : nullptr;
}

const std::string* Input(const onnx::NodeProto& node, int i) {
  return i >= 0 && i < node.input_size() && !node.input(i).empty() ? &node.input(i) : nullptr;
}

// The scale and zero point of a quantized weight: its DequantizeLinear's, or those the op table
// gives the QOperator op.
ScaleSlots SlotsOf(const TensorUse& use) {
  if (const QuantSlots* dequantize = DequantizerSlots(use.dequantize)) {
    return ScaleSlots{use.dequantize, dequantize->scale, dequantize->zero_point,
                      IntAttribute(*use.dequantize, "axis", dequantize->axis)};
  }
  const InputSpec* input = InputSpecOf(*use.reader, use.input_index);
  const QuantSlots quant = input != nullptr ? input->quant : QuantSlots{};
  int axis = quant.axis;
  if (quant.axis_swap_attribute != nullptr && IntAttribute(*use.reader, quant.axis_swap_attribute, 0) == 1) {
    axis = axis == -1 ? -2 : -1;
  }
  return ScaleSlots{use.reader, quant.scale, quant.zero_point, axis};
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

// The integer grid of a quantized weight, per scale group: its old scale, its zero point and the
// levels on each side of the zero point that a symmetric draw may use.
struct WeightGrid {
  IntegerType type{};
  std::vector<double> old_scales;
  FloatType scale_type = FloatType::kFloat32;
  std::vector<double> zero_points;
  int64_t axis = -1;  // of the scales, >= 0; -1 for one scale
  std::vector<int64_t> levels;
};

// Per group, max|w| / levels rounded to the scale's type; a group of zeros keeps its old scale.
std::vector<double> SymmetricScales(const std::vector<double>& w, const ScaleGroups& groups, const WeightGrid& grid) {
  std::vector<double> largest(groups.size(), 0.0);
  for (size_t e = 0; e < w.size(); ++e) {
    double& group_largest = largest[groups(static_cast<int64_t>(e))];
    group_largest = std::max(group_largest, std::abs(w[e]));
  }
  std::vector<double> scales(groups.size());
  for (int64_t g = 0; g < groups.size(); ++g) {
    scales[g] = largest[g] > 0 ? RoundTo(grid.scale_type, largest[g] / static_cast<double>(grid.levels[g]))
                               : grid.old_scales[g];
  }
  return scales;
}

// Values rounded to a grid: the integers to store, and the values they stand for before and after.
struct Quantized {
  std::vector<double> q, before, after;
};

// Rounds the drawn float values `w` to `scales` on the grid (at most `levels` steps from each zero
// point); `old_q` are the integers stored before.
Quantized QuantizeWeight(const std::vector<double>& w, const std::vector<double>& old_q, const ScaleGroups& groups,
                         const std::vector<double>& scales, const WeightGrid& grid) {
  Quantized out{std::vector<double>(w.size()), std::vector<double>(w.size()), std::vector<double>(w.size())};
  for (size_t e = 0; e < w.size(); ++e) {
    const int64_t g = groups(static_cast<int64_t>(e));
    const double levels = static_cast<double>(grid.levels[g]);
    const double centred = std::clamp(std::nearbyint(w[e] / scales[g]), -levels, levels);
    out.q[e] = centred + grid.zero_points[g];
    out.after[e] = centred * scales[g];
    out.before[e] = (old_q[e] - grid.zero_points[g]) * grid.old_scales[g];
  }
  return out;
}

// Rounds the drawn float bias `b` to int32 steps of `scales` (one, or one per value) around
// `zero_points`; `old_q` and `old_scales` are those stored before.
Quantized QuantizeBias(const std::vector<double>& b, const std::vector<double>& old_q,
                       const std::vector<double>& scales, const std::vector<double>& zero_points,
                       const std::vector<double>& old_scales) {
  constexpr double kLow = std::numeric_limits<int32_t>::min(), kHigh = std::numeric_limits<int32_t>::max();
  Quantized out{std::vector<double>(b.size()), std::vector<double>(b.size()), std::vector<double>(b.size())};
  for (size_t j = 0; j < b.size(); ++j) {
    const double s = scales[scales.size() == 1 ? 0 : j];
    out.q[j] = std::clamp(std::nearbyint(b[j] / s) + zero_points[j], kLow, kHigh);
    out.after[j] = (out.q[j] - zero_points[j]) * s;
    out.before[j] = (old_q[j] - zero_points[j]) * old_scales[j];
  }
  return out;
}

// Per group, the levels on each side of its zero point that values of both signs can use:
// min(zero point - type min, type max - zero point). Sets `why` when a group has none.
std::vector<int64_t> SymmetricLevels(const std::vector<double>& zero_points, const IntegerType& type,
                                     std::string& why) {
  std::vector<int64_t> levels(zero_points.size());
  for (size_t g = 0; g < zero_points.size(); ++g) {
    const int64_t zero_point = static_cast<int64_t>(zero_points[g]);
    levels[g] = std::min<int64_t>(zero_point - type.min, type.max - zero_point);
    if (levels[g] <= 0) {
      why = absl::StrFormat("zero point %d of %s leaves no room for values of both signs", zero_point, type.name);
      return {};
    }
  }
  return levels;
}

std::string DescribeScales(const std::vector<double>& scales, int64_t axis) {
  if (scales.size() == 1) return absl::StrFormat("scale %.4g", scales[0]);
  const auto [low, high] = std::minmax_element(scales.begin(), scales.end());
  return absl::StrFormat("%d scales along axis %d (%.4g..%.4g)", scales.size(), axis, *low, *high);
}

std::string DescribeConvention(const BlockwiseTensor& t) {
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

// QDQ ops and the QOperator ops the op table gives an activation scale (QLinearConv, QLinearMatMul,
// QGemm) quantize their activations with calibrated scales; dynamic ones do not.
bool ReadsCalibratedActivations(const TensorUse& weight) {
  const InputSpec* input = InputSpecOf(*weight.reader, weight.input_index);
  return weight.dequantize != nullptr || (input != nullptr && input->quant.activation_scale >= 0);
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

// The scale of the activation an op multiplies with its weight, by name, with its one value.
struct ActivationScale {
  std::string name;
  double value = 0;
};

// A bias's old scales, and the tensor that stores them when it has its own (a QDQ bias).
struct BiasScale {
  const std::string* name = nullptr;
  onnx::TensorProto* tensor = nullptr;
  std::optional<TensorValues> values;
  std::vector<double> old_scales;  // one per bias value
};

// Plans the requantization of a model's quantized tensors. Each helper that finds a tensor it
// cannot requantize lists it in out_.skipped (Skip) and returns nullopt or false; a Status error
// is a malformed model or a tensor that cannot be rewritten in place.
class Requantizer {
 public:
  Requantizer(const GraphIndex& index, const RequantizeOptions& options, const DetachedPayloads& payloads,
              Requantization& out)
      : index_(index), options_(options), policy_(QuantizedPolicy(*options.policy)), payloads_(payloads), out_(out) {}

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

  // Skips `use` for `why`, for a helper that returns nullopt when it does.
  std::nullopt_t Unchanged(const TensorUse& use, std::string why) {
    Skip(use, std::move(why));
    return std::nullopt;
  }

  // Whether --only/--exclude select `use`; skips it when they do not.
  bool Selected(const TensorUse& use) {
    if (!options_.select || options_.select(use)) return true;
    Skip(use, SkipReason::NotSelected());
    return false;
  }

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

  onnx::TensorProto* Constant(const std::string& name) const {
    const onnx_reinit::Constant* constant = index_.FindConstant(name);
    return constant != nullptr ? constant->tensor : nullptr;
  }

  // Why the tensor `tensor` named `name` cannot be written, or "" when it can.
  std::string Unwritable(const std::string& name, const onnx::TensorProto* tensor,
                         bool external_allowed = false) const {
    if (tensor == nullptr) return absl::StrFormat("'%s' is not a constant", name);
    if (IsExternal(*tensor) && !external_allowed) {
      return absl::StrFormat("'%s' is in external data, which --requantize does not rewrite", name);
    }
    if (index_.IsGraphInput(name)) {
      return absl::StrFormat("'%s' is also a graph input, which a runtime may replace", name);
    }
    if (index_.Consumers(name).size() > 1) {
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

  // The zero points at input `name` of a dequantizing node (none: zeros), one per value of `count`
  // (a single one is repeated); nullopt (with `use` skipped) when they are not a constant of
  // `data_type` (described as `what`) or their size is neither 1 nor `count` (`size_mismatch`).
  absl::StatusOr<std::optional<std::vector<double>>> ZeroPoints(const TensorUse& use, const std::string* name,
                                                                int32_t data_type, int64_t count,
                                                                absl::string_view what,
                                                                absl::string_view size_mismatch) {
    if (name == nullptr) return std::optional<std::vector<double>>(std::vector<double>(count, 0.0));
    const onnx::TensorProto* zp = Constant(*name);
    if (zp == nullptr || zp->data_type() != data_type) {
      Skip(use, absl::StrFormat("zero point '%s' is not %s", *name, what));
      return std::nullopt;
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(std::vector<double> zero_points, ReadIntegers(*zp, *name, payloads_));
    if (zero_points.size() == 1) zero_points.assign(count, zero_points[0]);
    if (static_cast<int64_t>(zero_points.size()) != count) {
      Skip(use, std::string(size_mismatch));
      return std::nullopt;
    }
    return std::optional<std::vector<double>>(std::move(zero_points));
  }

  // Why the quantized weight `use` is not in a form this version requantizes (by its scale slots,
  // its node, its type), or "".
  static std::string UnsupportedWeightForm(const TensorUse& use, const ScaleSlots& slots) {
    if (slots.scale < 0) {
      return absl::StrFormat(
          "%s has no weight scale (the model rescales its int32 output later), so no "
          "integers can be given the scheme's distribution",
          use.reader->op_type());
    }
    if (use.dequantize != nullptr && use.dequantize->input(0) != use.name) {
      return "ops between the integers and DequantizeLinear";
    }
    if (IntAttribute(*slots.node, "block_size", 0) != 0) return "blocked quantization (block_size) is not supported";
    const std::optional<IntegerType> type = IntegerTypeOf(use.tensor->data_type());
    if (!type || type->bytes != 1) return "only int8 and uint8 weights are requantized";
    if (Input(*slots.node, slots.scale) == nullptr) return "no scale";
    return "";
  }

  // Why the weight `use` or its scale `scale` cannot be rewritten, or "".
  std::string UnwritableWeight(const TensorUse& use, const std::string& scale_name,
                               const onnx::TensorProto* scale) const {
    std::string why = Unwritable(use.name, use.tensor);
    if (why.empty()) why = Unwritable(scale_name, scale);
    if (why.empty() && !FloatTypeOf(scale->data_type())) {
      why = absl::StrFormat("scale '%s' is not floating-point", scale_name);
    }
    return why;
  }

  // The grid of the weight `use` (its scale `scale` at `slots`); nullopt (with `use` skipped) when
  // its zero points, scales and shape do not fit together.
  absl::StatusOr<std::optional<WeightGrid>> GridOf(const TensorUse& use, const ScaleSlots& slots,
                                                   const std::string& scale_name, onnx::TensorProto& scale) {
    ONNX_REINIT_ASSIGN_OR_RETURN(const TensorValues scale_values, BindValues(scale, scale_name, payloads_));
    WeightGrid grid;
    grid.type = *IntegerTypeOf(use.tensor->data_type());
    const int64_t groups = scale_values.size();
    grid.old_scales.resize(groups);
    scale_values.Read(0, groups, grid.old_scales.data());
    grid.scale_type = scale_values.type();
    ONNX_REINIT_ASSIGN_OR_RETURN(
        std::optional<std::vector<double>> zero_points,
        ZeroPoints(use, Input(*slots.node, slots.zero_point), use.tensor->data_type(), groups,
                   "a constant of the weight's type", "the zero point's size does not match the scale's"));
    if (!zero_points) return std::nullopt;
    grid.zero_points = *std::move(zero_points);
    const std::vector<int64_t> dims(use.tensor->dims().begin(), use.tensor->dims().end());
    const int64_t rank = static_cast<int64_t>(dims.size());
    grid.axis = groups == 1 ? -1 : slots.axis < 0 ? slots.axis + rank : slots.axis;
    if (groups != 1 && (grid.axis < 0 || grid.axis >= rank || dims[grid.axis] != groups)) {
      Skip(use, absl::StrFormat("%d scales do not fit shape [%s] along axis %d", groups, absl::StrJoin(dims, ", "),
                                slots.axis));
      return std::nullopt;
    }
    std::string why;
    grid.levels = SymmetricLevels(grid.zero_points, grid.type, why);
    if (!why.empty()) {
      Skip(use, why);
      return std::nullopt;
    }
    return std::optional<WeightGrid>(std::move(grid));
  }

  void RecordWeight(const TensorUse& use, const TensorPlan& plan, const std::string& scale_name, const WeightGrid& grid,
                    const std::vector<double>& scales, const Quantized& quantized) {
    proto::RequantizedTensor& record = NewRecord(use, Role::kWeight, plan);
    record.set_scale(scale_name);
    record.set_axis(grid.axis);
    for (size_t g = 0; g < scales.size(); ++g) {
      record.add_scales(scales[g]);
      record.add_zero_points(static_cast<int64_t>(grid.zero_points[g]));
      record.add_levels(grid.levels[g]);
    }
    *record.mutable_before() = MomentsOf(quantized.before);
    *record.mutable_after() = MomentsOf(quantized.after);
    const std::vector<int64_t>& levels = grid.levels;
    const bool one_level = std::all_of(levels.begin(), levels.end(), [&](int64_t l) { return l == levels[0]; });
    record.set_description(absl::StrFormat(
        "%s -> %s, %s = max|w|/%s", DescribeDistribution(plan.regions.front().distribution), grid.type.name,
        DescribeScales(scales, grid.axis), one_level ? absl::StrCat(levels[0]) : std::string("levels")));
  }

  // Requantizes one weight; nullopt when it is left unchanged (then it is in out_.skipped).
  absl::StatusOr<std::optional<WeightScales>> Weight(const TensorUse& use) {
    if (!Selected(use)) return std::nullopt;
    const ScaleSlots slots = SlotsOf(use);
    if (std::string why = UnsupportedWeightForm(use, slots); !why.empty()) return Unchanged(use, why);
    const std::string& scale_name = *Input(*slots.node, slots.scale);
    onnx::TensorProto* scale = Constant(scale_name);
    if (std::string why = UnwritableWeight(use, scale_name, scale); !why.empty()) return Unchanged(use, why);
    ONNX_REINIT_RETURN_IF_ERROR(CheckInMemory(use.name, *use.tensor));
    ONNX_REINIT_RETURN_IF_ERROR(CheckInMemory(scale_name, *scale));
    ONNX_REINIT_ASSIGN_OR_RETURN(std::optional<WeightGrid> grid, GridOf(use, slots, scale_name, *scale));
    if (!grid) return std::nullopt;
    TensorPlan plan;
    ONNX_REINIT_ASSIGN_OR_RETURN(std::optional<std::vector<double>> drawn, Draw(use, Role::kWeight, plan));
    if (!drawn) return std::nullopt;
    const ScaleGroups groups({use.tensor->dims().begin(), use.tensor->dims().end()}, grid->axis,
                             static_cast<int64_t>(grid->old_scales.size()));
    std::vector<double> scales = SymmetricScales(*drawn, groups, *grid);
    ONNX_REINIT_ASSIGN_OR_RETURN(const std::vector<double> old_q, ReadIntegers(*use.tensor, use.name, payloads_));
    Quantized quantized = QuantizeWeight(*drawn, old_q, groups, scales, *grid);
    RecordWeight(use, plan, scale_name, *grid, scales, quantized);
    out_.writes.push_back(TensorWrite{use.tensor, std::move(quantized.q)});
    out_.writes.push_back(TensorWrite{scale, scales});
    if (ReadsCalibratedActivations(use)) ++with_activation_scales_;
    return std::optional<WeightScales>(WeightScales{std::move(scales)});
  }

  // Why the blockwise weight `t` or its scales and zero points cannot be rewritten, or "".
  std::string UnwritableBlockwise(const TensorUse& use, const BlockwiseTensor& t) const {
    std::string why = Unwritable(use.name, use.tensor, /*external_allowed=*/true);
    if (why.empty()) why = Unwritable(t.scales_name, Constant(t.scales_name), true);
    if (why.empty() && t.zero_points != nullptr)
      why = Unwritable(t.zero_points_name, Constant(t.zero_points_name), true);
    if (why.empty() && t.scales->storage() != Storage::kRawData && t.scales->storage() != Storage::kFloatData) {
      why = absl::StrFormat("scales '%s' are not in raw_data or float_data", t.scales_name);
    }
    return why;
  }

  // Requantizes a blockwise weight (blockwise_tensor.h): plans its draw and records it; the values
  // are computed and written later, row chunk by row chunk (WriteBlockwise).
  absl::Status Blockwise(const TensorUse& use) {
    if (!Selected(use)) return absl::OkStatus();
    absl::StatusOr<BlockwiseTensor> bound = BindBlockwise(use, index_, payloads_);
    if (ErrorKindOf(bound.status()) == ErrorKind::kUnsupported) {
      Skip(use, std::string(bound.status().message()));
      return absl::OkStatus();
    }
    ONNX_REINIT_RETURN_IF_ERROR(bound.status());
    const BlockwiseTensor& t = *bound;
    if (std::string why = UnwritableBlockwise(use, t); !why.empty()) {
      Skip(use, why);
      return absl::OkStatus();
    }
    const onnx::TensorProto stand_in = FloatStandIn(t, Constant(t.scales_name)->data_type());
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
    RecordBlockwise(use, t, plan);
    out_.blockwise.push_back(BlockwiseJob{t, std::move(draw), static_cast<int>(out_.records.size()) - 1});
    return absl::OkStatus();
  }

  void RecordBlockwise(const TensorUse& use, const BlockwiseTensor& t, const TensorPlan& plan) {
    proto::RequantizedTensor& record = NewRecord(use, t.float_role, plan);
    record.set_count(t.layout.rows * t.layout.cols);
    record.set_scale(t.scales_name);
    record.set_zero_point(t.zero_points_name);
    record.set_axis(1);
    record.set_bits(t.layout.bits);
    record.set_block_size(t.layout.block_size);
    record.add_levels(LevelsOf(t.convention, t.layout.bits));
    *record.mutable_before() = DequantizedMoments(t, options_.threads);
    record.set_description(absl::StrFormat("%s -> %d-bit blocks of %d, %s",
                                           DescribeDistribution(plan.regions.front().distribution), t.layout.bits,
                                           t.layout.block_size, DescribeConvention(t)));
  }

  // The constant float scale, by name, of the activation the op reading the bias `use` multiplies
  // with its weight (the op table says where it is); nullptr when there is none.
  onnx::TensorProto* ActivationScaleTensor(const TensorUse& use, std::string& name) const {
    const onnx::NodeProto& op = *use.reader;
    const InputSpec* bias = InputSpecOf(op, use.input_index);
    const std::string* scale = nullptr;
    if (bias != nullptr && bias->quant.activation_scale >= 0) {
      scale = Input(op, bias->quant.activation_scale);
    } else if (const std::string* activation =
                   bias != nullptr ? Input(op, bias->quant.dequantized_activation) : nullptr) {
      const onnx::NodeProto* producer = index_.Producer(*activation);
      if (const QuantSlots* dequantize = DequantizerSlots(producer)) scale = Input(*producer, dequantize->scale);
    }
    if (scale == nullptr) return nullptr;
    name = *scale;
    onnx::TensorProto* tensor = Constant(*scale);
    return tensor != nullptr && FloatTypeOf(tensor->data_type()) && !IsExternal(*tensor) ? tensor : nullptr;
  }

  // The activation scale of the bias `use`: one constant value; nullopt (with `use` skipped) else.
  absl::StatusOr<std::optional<ActivationScale>> ActivationScaleOf(const TensorUse& use) {
    ActivationScale x;
    onnx::TensorProto* tensor = ActivationScaleTensor(use, x.name);
    if (tensor == nullptr) {
      Skip(use, "the input's scale (x_scale) is not a constant");
      return std::nullopt;
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(const TensorValues values, BindValues(*tensor, x.name, payloads_));
    if (values.size() != 1) {
      Skip(use, absl::StrFormat("the input's scale '%s' is not one value", x.name));
      return std::nullopt;
    }
    x.value = values.Read(0);
    return std::optional<ActivationScale>(std::move(x));
  }

  // The old scales of the bias `use` of `count` values: those of its own scale tensor (a QDQ
  // bias: x_scale * w_scale, which must follow the new w_scale), else `implied` (x_scale *
  // w_scale). nullopt (with `use` skipped) when that tensor cannot be rewritten or does not fit.
  absl::StatusOr<std::optional<BiasScale>> BiasScaleOf(const TensorUse& use, int64_t count, double implied) {
    BiasScale scale;
    const QuantSlots* dequantize = DequantizerSlots(use.dequantize);
    scale.name = dequantize != nullptr ? Input(*use.dequantize, dequantize->scale) : nullptr;
    scale.tensor = scale.name != nullptr ? Constant(*scale.name) : nullptr;
    std::string why = Unwritable(use.name, use.tensor);
    if (why.empty() && scale.name != nullptr) why = Unwritable(*scale.name, scale.tensor);
    if (why.empty() && use.dequantize != nullptr && scale.name == nullptr) why = "no scale";
    if (!why.empty()) {
      Skip(use, why);
      return std::nullopt;
    }
    scale.old_scales.assign(count, implied);
    if (scale.tensor == nullptr) return std::optional<BiasScale>(std::move(scale));
    ONNX_REINIT_RETURN_IF_ERROR(CheckInMemory(*scale.name, *scale.tensor));
    ONNX_REINIT_ASSIGN_OR_RETURN(scale.values, BindValues(*scale.tensor, *scale.name, payloads_));
    const int64_t stored = scale.values->size();
    if (stored != 1 && stored != count) {
      Skip(use, "the bias scale's size does not match the bias");
      return std::nullopt;
    }
    for (int64_t j = 0; j < count; ++j) scale.old_scales[j] = scale.values->Read(stored == 1 ? 0 : j);
    return std::optional<BiasScale>(std::move(scale));
  }

  // The bias's new scales, x_scale * w_scale: as many as it stores (else one per value), rounded to
  // the type of its own scale tensor when it has one.
  static std::vector<double> NewBiasScales(double x, const std::vector<double>& w_scales, const BiasScale& scale,
                                           int64_t count) {
    const int64_t stored = scale.values ? scale.values->size() : count;
    std::vector<double> scales(stored);
    for (int64_t j = 0; j < stored; ++j) {
      const double product = x * w_scales[w_scales.size() == 1 ? 0 : j];
      scales[j] = scale.values ? RoundTo(scale.values->type(), product) : product;
    }
    return scales;
  }

  void RecordBias(const TensorUse& use, const TensorPlan& plan, const BiasScale& scale,
                  const std::vector<double>& scales, const std::vector<double>& zero_points, const Quantized& quantized,
                  const std::string& x_scale_name, const TensorUse& weight) {
    proto::RequantizedTensor& record = NewRecord(use, Role::kBias, plan);
    if (scale.name != nullptr) record.set_scale(*scale.name);
    record.set_axis(scales.size() == 1 ? -1 : 0);
    for (double s : scales) record.add_scales(s);
    for (double zp : zero_points) record.add_zero_points(static_cast<int64_t>(zp));
    *record.mutable_before() = MomentsOf(quantized.before);
    *record.mutable_after() = MomentsOf(quantized.after);
    record.set_description(absl::StrFormat("%s -> int32, %s = x_scale '%s' * w_scale of '%s'",
                                           DescribeDistribution(plan.regions.front().distribution),
                                           DescribeScales(scales, 0), x_scale_name, weight.name));
  }

  // Requantizes the int32 bias `use` of the requantized `weight`, whose new scales it follows.
  absl::Status Bias(const TensorUse& use, const TensorUse& weight, const WeightScales& weight_scales) {
    if (!Selected(use)) return absl::OkStatus();
    if (use.tensor->data_type() != onnx::TensorProto::INT32) {
      Skip(use, "not an int32 bias");
      return absl::OkStatus();
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(const std::optional<ActivationScale> x, ActivationScaleOf(use));
    if (!x) return absl::OkStatus();
    ONNX_REINIT_ASSIGN_OR_RETURN(const int64_t count, ElementCount(*use.tensor, use.name));
    const std::vector<double>& w_scales = weight_scales.scales;
    if (w_scales.size() != 1 && static_cast<int64_t>(w_scales.size()) != count) {
      Skip(use, absl::StrFormat("%d weight scales for %d bias values", w_scales.size(), count));
      return absl::OkStatus();
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(const std::optional<BiasScale> scale, BiasScaleOf(use, count, x->value * w_scales[0]));
    if (!scale) return absl::OkStatus();
    ONNX_REINIT_RETURN_IF_ERROR(CheckInMemory(use.name, *use.tensor));
    const QuantSlots* dequantize = DequantizerSlots(use.dequantize);
    ONNX_REINIT_ASSIGN_OR_RETURN(
        const std::optional<std::vector<double>> zero_points,
        ZeroPoints(use, dequantize != nullptr ? Input(*use.dequantize, dequantize->zero_point) : nullptr,
                   onnx::TensorProto::INT32, count, "an int32 constant",
                   "the zero point's size does not match the bias"));
    if (!zero_points) return absl::OkStatus();
    TensorPlan plan;
    ONNX_REINIT_ASSIGN_OR_RETURN(std::optional<std::vector<double>> drawn, Draw(use, Role::kBias, plan));
    if (!drawn) return absl::OkStatus();
    std::vector<double> scales = NewBiasScales(x->value, w_scales, *scale, count);
    ONNX_REINIT_ASSIGN_OR_RETURN(const std::vector<double> old_q, ReadIntegers(*use.tensor, use.name, payloads_));
    Quantized quantized = QuantizeBias(*drawn, old_q, scales, *zero_points, scale->old_scales);
    RecordBias(use, plan, *scale, scales, *zero_points, quantized, x->name, weight);
    out_.writes.push_back(TensorWrite{use.tensor, std::move(quantized.q)});
    if (scale->tensor != nullptr) out_.writes.push_back(TensorWrite{scale->tensor, std::move(scales)});
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

  const GraphIndex& index_;
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

absl::StatusOr<Requantization> PlanRequantization(const GraphAnalysis& analysis, const RequantizeOptions& options,
                                                  const DetachedPayloads& payloads) {
  Requantization result;
  Requantizer requantizer(*analysis.index, options, payloads, result);
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
