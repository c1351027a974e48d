#include "onnx_reinit/roles.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/checked_math.h"
#include "onnx_reinit/limits.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {
namespace {

constexpr std::pair<Role, const char*> kRoleNames[] = {
    {Role::kWeight, "weight"},          {Role::kBias, "bias"},
    {Role::kNormScale, "norm_scale"},   {Role::kNormBias, "norm_bias"},
    {Role::kNormMean, "norm_mean"},     {Role::kNormVar, "norm_var"},
    {Role::kEmbedding, "embedding"},    {Role::kRnnWeight, "rnn_weight"},
    {Role::kRnnRecurrence, "rnn_recurrence"}, {Role::kRnnBias, "rnn_bias"},
    {Role::kQuantized, "quantized"},    {Role::kOther, "other"},
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
    case Role::kQuantized: return 6;
    case Role::kOther: return 7;
  }
  return 7;
}

bool IsDefaultDomain(const onnx::NodeProto& node) {
  return node.domain().empty() || node.domain() == "ai.onnx";
}

const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, absl::string_view name) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

int64_t IntAttribute(const onnx::NodeProto& node, absl::string_view name, int64_t fallback) {
  const onnx::AttributeProto* attribute = FindAttribute(node, name);
  return attribute ? attribute->i() : fallback;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::string Describe(const onnx::NodeProto& node) {
  return node.name().empty() ? node.op_type() : absl::StrFormat("%s '%s'", node.op_type(), node.name());
}

struct Constant {
  onnx::TensorProto* tensor;
  TensorSource source;
};

// The model's graphs flattened: constants, producers and nodes of the main graph and every
// subgraph (ONNX names are unique across them, and a subgraph may read outer names).
class GraphIndex {
 public:
  explicit GraphIndex(onnx::ModelProto& model) {
    for (const onnx::ValueInfoProto& input : model.graph().input()) graph_inputs_.insert(input.name());
    Add(*model.mutable_graph(), 0);
  }

  const std::vector<const onnx::NodeProto*>& nodes() const { return nodes_; }
  const std::vector<std::string>& constant_order() const { return constant_order_; }
  const std::vector<std::string>& sparse_initializers() const { return sparse_; }
  bool IsGraphInput(const std::string& name) const { return graph_inputs_.count(name) > 0; }

  const Constant* FindConstant(const std::string& name) const {
    auto it = constants_.find(name);
    return it == constants_.end() ? nullptr : &it->second;
  }
  const onnx::NodeProto* Producer(const std::string& name) const {
    auto it = producers_.find(name);
    return it == producers_.end() ? nullptr : it->second;
  }

  // The int64 values of a constant (a Reshape shape, Squeeze axes), or nullopt.
  std::optional<std::vector<int64_t>> ConstantInts(const std::string& name) const {
    const Constant* constant = FindConstant(name);
    if (constant == nullptr || constant->tensor->data_type() != onnx::TensorProto::INT64) {
      return std::nullopt;
    }
    const onnx::TensorProto& tensor = *constant->tensor;
    const std::optional<int64_t> count = ShapeProduct(tensor.dims());
    if (!count || tensor.data_location() == onnx::TensorProto::EXTERNAL) return std::nullopt;
    // The sizes are compared before anything is allocated: the dims may claim any count.
    if (tensor.has_raw_data()) {
      if (static_cast<int64_t>(tensor.raw_data().size()) != *count * 8) return std::nullopt;
      std::vector<int64_t> values(static_cast<size_t>(*count));
      std::memcpy(values.data(), tensor.raw_data().data(), values.size() * 8);
      return values;
    }
    if (tensor.int64_data_size() != *count) return std::nullopt;
    return std::vector<int64_t>(tensor.int64_data().begin(), tensor.int64_data().end());
  }

 private:
  // Subgraphs deeper than kMaxSubgraphDepth (which ValidateModel refuses) are not searched.
  void Add(onnx::GraphProto& graph, int depth) {
    for (onnx::TensorProto& initializer : *graph.mutable_initializer()) {
      AddConstant(initializer.name(), &initializer, TensorSource::kInitializer);
    }
    for (const onnx::SparseTensorProto& sparse : graph.sparse_initializer()) {
      sparse_.push_back(sparse.values().name());
    }
    for (onnx::NodeProto& node : *graph.mutable_node()) {
      nodes_.push_back(&node);
      for (const std::string& output : node.output()) producers_.emplace(output, &node);
      if (node.op_type() == "Constant" && IsDefaultDomain(node) && node.output_size() == 1) {
        for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
          if (attribute.name() == "value" && attribute.has_t()) {
            AddConstant(node.output(0), attribute.mutable_t(), TensorSource::kConstantNode);
          }
        }
      }
      if (depth == kMaxSubgraphDepth) continue;
      for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
        if (attribute.has_g()) Add(*attribute.mutable_g(), depth + 1);
        for (onnx::GraphProto& subgraph : *attribute.mutable_graphs()) Add(subgraph, depth + 1);
      }
    }
  }

  void AddConstant(const std::string& name, onnx::TensorProto* tensor, TensorSource source) {
    if (constants_.emplace(name, Constant{tensor, source}).second) constant_order_.push_back(name);
  }

  std::unordered_map<std::string, Constant> constants_;
  std::unordered_map<std::string, const onnx::NodeProto*> producers_;
  std::vector<const onnx::NodeProto*> nodes_;
  std::vector<std::string> constant_order_;
  std::vector<std::string> sparse_;
  std::unordered_set<std::string> graph_inputs_;
};

// A constant as one reader sees it: the stored tensor, the ops in between, and the shape after them.
struct Trace {
  const std::string* source = nullptr;
  std::vector<const onnx::NodeProto*> chain;  // from the reader back to the tensor
  bool quantized = false;                     // the chain holds a DequantizeLinear
  const onnx::NodeProto* dequantize = nullptr;  // the one nearest the tensor
};

bool IsFloatCast(const onnx::NodeProto& node) {
  const int64_t to = IntAttribute(node, "to", 0);
  return to == static_cast<int32_t>(to) && FloatTypeOf(static_cast<int32_t>(to)).has_value();
}

bool IsQuantizedOperator(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  return IsDefaultDomain(node) &&
         (op == "QLinearConv" || op == "QLinearMatMul" || op == "ConvInteger" || op == "MatMulInteger");
}

// Ops that pass their input 0 on with another view of the same values.
bool IsReviewingOp(const onnx::NodeProto& node) {
  if (!IsDefaultDomain(node)) return false;
  const std::string& op = node.op_type();
  return op == "Identity" || op == "Transpose" || op == "Reshape" || op == "Squeeze" ||
         op == "Unsqueeze" || op == "Flatten" || op == "DequantizeLinear" ||
         (op == "Cast" && IsFloatCast(node));
}

// Follows `name` back through re-viewing ops to a stored constant.
std::optional<Trace> TraceToConstant(const GraphIndex& index, const std::string& name) {
  Trace trace;
  const std::string* current = &name;
  for (int step = 0; step <= kMaxViewChainDepth; ++step) {
    if (current->empty()) return std::nullopt;
    if (index.FindConstant(*current) != nullptr) {
      trace.source = current;
      return trace;
    }
    const onnx::NodeProto* producer = index.Producer(*current);
    if (producer == nullptr || producer->input_size() == 0 || !IsReviewingOp(*producer)) {
      return std::nullopt;
    }
    if (producer->op_type() == "DequantizeLinear") {
      trace.quantized = true;
      trace.dequantize = producer;
    }
    trace.chain.push_back(producer);
    current = &producer->input(0);
  }
  return std::nullopt;  // too long a chain, or a cycle (a broken graph)
}

// The axes of an Unsqueeze/Squeeze: the attribute (opset < 13) or the constant second input.
std::optional<std::vector<int64_t>> Axes(const GraphIndex& index, const onnx::NodeProto& node) {
  if (const onnx::AttributeProto* axes = FindAttribute(node, "axes")) {
    return std::vector<int64_t>(axes->ints().begin(), axes->ints().end());
  }
  if (node.input_size() > 1 && !node.input(1).empty()) return index.ConstantInts(node.input(1));
  return std::vector<int64_t>();
}

// Which of `rank` axes `axes` names (negative axes count from the end), or nullopt when one is out
// of range or named twice.
std::optional<std::vector<bool>> AxisMask(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<bool> named(static_cast<size_t>(rank), false);
  for (int64_t axis : axes) {
    if (axis < -rank || axis >= rank) return std::nullopt;
    if (axis < 0) axis += rank;
    if (named[axis]) return std::nullopt;
    named[axis] = true;
  }
  return named;
}

using Shape = std::vector<int64_t>;

// Transpose: the axes permuted by `perm` (reversed when absent).
std::optional<Shape> TransposeView(const onnx::NodeProto& node, const Shape& shape, std::string& why) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> perm;
  if (const onnx::AttributeProto* attribute = FindAttribute(node, "perm")) {
    perm.assign(attribute->ints().begin(), attribute->ints().end());
  } else {
    for (int64_t axis = rank - 1; axis >= 0; --axis) perm.push_back(axis);
  }
  const bool negative = std::any_of(perm.begin(), perm.end(), [](int64_t axis) { return axis < 0; });
  if (static_cast<int64_t>(perm.size()) != rank || negative || !AxisMask(perm, rank)) {
    why = absl::StrFormat("Transpose perm [%s] is not a permutation of the tensor's %d axes",
                          absl::StrJoin(perm, ", "), rank);
    return std::nullopt;
  }
  Shape out;
  for (int64_t axis : perm) out.push_back(shape[axis]);
  return out;
}

// Flatten: [product of the dims before `axis`, product of the rest].
std::optional<Shape> FlattenView(const onnx::NodeProto& node, const Shape& shape, std::string& why) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  int64_t axis = IntAttribute(node, "axis", 1);
  if (axis < -rank || axis > rank) {
    why = absl::StrFormat("Flatten axis %d is out of range for rank %d", axis, rank);
    return std::nullopt;
  }
  if (axis < 0) axis += rank;
  const std::optional<int64_t> outer = ShapeProduct(absl::MakeConstSpan(shape).subspan(0, axis));
  const std::optional<int64_t> inner = ShapeProduct(absl::MakeConstSpan(shape).subspan(axis));
  if (!outer || !inner) {
    why = "Flatten's result has too many elements";
    return std::nullopt;
  }
  return Shape{*outer, *inner};
}

// Squeeze: the listed axes removed, each of which must be 1; all axes of size 1 when none is listed.
std::optional<Shape> SqueezeView(const std::vector<int64_t>& axes, const Shape& shape, std::string& why) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::optional<std::vector<bool>> squeezed = AxisMask(axes, rank);
  if (squeezed && axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) (*squeezed)[d] = shape[d] == 1;
  }
  bool fits = squeezed.has_value();
  Shape out;
  for (int64_t d = 0; fits && d < rank; ++d) {
    if (!(*squeezed)[d]) {
      out.push_back(shape[d]);
    } else if (shape[d] != 1) {
      fits = false;
    }
  }
  if (!fits) {
    why = absl::StrFormat("Squeeze axes [%s] do not fit the shape %s", absl::StrJoin(axes, ", "),
                          ShapeText(shape));
    return std::nullopt;
  }
  return out;
}

// Unsqueeze: a 1 inserted at each listed axis of the result.
std::optional<Shape> UnsqueezeView(const std::vector<int64_t>& axes, const Shape& shape, std::string& why) {
  const int64_t out_rank = static_cast<int64_t>(shape.size() + axes.size());
  const std::optional<std::vector<bool>> inserted = AxisMask(axes, out_rank);
  if (!inserted) {
    why = absl::StrFormat("Unsqueeze axes [%s] are out of range or repeated for rank %d",
                          absl::StrJoin(axes, ", "), out_rank);
    return std::nullopt;
  }
  Shape out;
  size_t from = 0;
  for (int64_t d = 0; d < out_rank; ++d) out.push_back((*inserted)[d] ? 1 : shape[from++]);
  return out;
}

// Reshape to `target`: 0 copies the input's dim (unless allowzero), one -1 is inferred; the element
// count must stay the same.
std::optional<Shape> ReshapeView(const onnx::NodeProto& node, Shape target, const Shape& shape,
                                 std::string& why) {
  const bool allow_zero = IntAttribute(node, "allowzero", 0) != 0;
  const std::optional<int64_t> count = ShapeProduct(shape);
  std::optional<int64_t> known = 1;
  int64_t infer = -1;
  for (size_t d = 0; d < target.size() && count && known; ++d) {
    int64_t& dim = target[d];
    if (dim == 0 && !allow_zero) {
      if (d >= shape.size()) {
        why = "Reshape copies a dimension the tensor does not have";
        return std::nullopt;
      }
      dim = shape[d];
    }
    if (dim == -1 && infer < 0) {
      infer = static_cast<int64_t>(d);
      continue;
    }
    known = dim < 0 ? std::nullopt : CheckedMul(*known, dim);
  }
  const bool fits = count && known &&
                    (infer >= 0 ? *known != 0 && *count % *known == 0 : *known == *count);
  if (!fits) {
    why = absl::StrFormat("Reshape's shape [%s] does not fit the tensor's shape %s",
                          absl::StrJoin(target, ", "), ShapeText(shape));
    return std::nullopt;
  }
  if (infer >= 0) target[infer] = *count / *known;
  return target;
}

// Applies one re-viewing op to `shape`; nullopt with `why` set when the result is not known.
std::optional<Shape> ApplyView(const GraphIndex& index, const onnx::NodeProto& node, Shape shape,
                               std::string& why) {
  const std::string& op = node.op_type();
  if (op == "Identity" || op == "Cast" || op == "DequantizeLinear") return shape;
  if (op == "Transpose") return TransposeView(node, shape, why);
  if (op == "Flatten") return FlattenView(node, shape, why);
  if (op == "Unsqueeze" || op == "Squeeze") {
    const std::optional<std::vector<int64_t>> axes = Axes(index, node);
    if (!axes) {
      why = absl::StrCat(op, " axes are computed, not constant");
      return std::nullopt;
    }
    return op == "Squeeze" ? SqueezeView(*axes, shape, why) : UnsqueezeView(*axes, shape, why);
  }
  if (op == "Reshape") {
    std::optional<Shape> target = node.input_size() > 1 ? index.ConstantInts(node.input(1)) : std::nullopt;
    if (!target) {
      why = "Reshape's shape is computed, not constant";
      return std::nullopt;
    }
    return ReshapeView(node, *std::move(target), shape, why);
  }
  why = absl::StrCat("cannot follow ", op);
  return std::nullopt;
}

// A role for one reading of a tensor.
struct Candidate {
  Role role = Role::kOther;
  std::optional<Fans> fans;
  int64_t groups = 1;
  std::optional<RnnLayout> rnn;
  std::string reason;
  bool misfit = false;  // the op gives a role, but the tensor's shape does not fit its layout
};

class Classifier {
 public:
  Classifier(const GraphIndex& index, const AnalysisOptions& options)
      : index_(index), options_(options) {}

  // The view of input `i` of `node`, when it is a constant: the trace and the shape it sees.
  struct View {
    Trace trace;
    std::optional<std::vector<int64_t>> shape;
    std::string why;  // why the shape is unknown
  };

  std::optional<View> ViewOf(const onnx::NodeProto& node, int i) const {
    if (i >= node.input_size()) return std::nullopt;
    std::optional<Trace> trace = TraceToConstant(index_, node.input(i));
    if (!trace) return std::nullopt;
    View view{*trace, std::nullopt, ""};
    const onnx::TensorProto& tensor = *index_.FindConstant(*trace->source)->tensor;
    std::optional<Shape> shape = Shape(tensor.dims().begin(), tensor.dims().end());
    if (!ShapeProduct(*shape)) {
      view.why = "its shape has a negative dimension or too many elements";
      shape = std::nullopt;
    }
    for (auto it = trace->chain.rbegin(); it != trace->chain.rend() && shape; ++it) {
      shape = ApplyView(index_, **it, *shape, view.why);
    }
    view.shape = shape;
    return view;
  }

  bool IsConstant(const onnx::NodeProto& node, int i) const { return ViewOf(node, i).has_value(); }

  Candidate Classify(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape) const {
    if (!IsDefaultDomain(node)) {
      return Other(absl::StrFormat("read by %s.%s, an op of another domain", node.domain(), node.op_type()));
    }
    const std::string& op = node.op_type();
    if (op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul") {
      if (IsWeightInput(node, i, [&](int k) { return IsConstant(node, k); })) return Weight(node, i, shape);
      if ((op != "MatMul" && i == 2)) return Bias(WeightFanIn(node));
    }
    if (op == "Add") return AddOperand(node, i, shape);
    if (op == "Mul" && IsDecomposedNormScale(node)) return Norm(Role::kNormScale);
    if (op == "BatchNormalization") {
      constexpr Role kSlots[] = {Role::kOther, Role::kNormScale, Role::kNormBias, Role::kNormMean,
                                 Role::kNormVar};
      if (i >= 1 && i <= 4) return Norm(kSlots[i]);
    }
    if ((op == "LayerNormalization" || op == "InstanceNormalization" ||
         op == "GroupNormalization" || op == "RMSNormalization") && (i == 1 || i == 2)) {
      return Norm(i == 1 ? Role::kNormScale : Role::kNormBias);
    }
    if (op == "LSTM" || op == "GRU" || op == "RNN") return Recurrent(node, i, shape);
    if (op == "Gather" && i == 0) return Embedding(node, shape);
    if (op == "QLinearConv" || op == "QLinearMatMul" || op == "ConvInteger" || op == "MatMulInteger") {
      return QOperatorInput(node, i, shape);
    }
    if (op == "DequantizeLinear" && (i == 1 || i == 2)) {
      return Other("quantization parameter of DequantizeLinear");
    }
    return Other(absl::StrFormat("read by %s input %d, which has no role", op, i));
  }

 private:
  static Candidate Other(std::string reason) {
    Candidate c;
    c.reason = std::move(reason);
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
  static Candidate Bias(int64_t fan_in) {
    Candidate c;
    c.role = Role::kBias;
    c.fans = Fans{fan_in, 0};
    return c;
  }

  Candidate Weight(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape) const {
    auto fans = FansForWeight(node, i, shape);
    if (fans.ok() && node.op_type() == "ConvTranspose" && options_.convtranspose_input_channel_fans) {
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

  // The integer weight (and QLinearConv's int32 bias) of a QOperator op.
  Candidate QOperatorInput(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape) const {
    Candidate c;
    if (IsWeightInput(node, i, [&](int k) { return IsConstant(node, k); })) {
      c = Weight(node, i, shape);
      if (c.misfit) return c;
    } else if (node.op_type() == "QLinearConv" && i == 8) {
      c = Bias(WeightFanIn(node));
    } else {
      return Other(absl::StrFormat("quantization parameter of %s (input %d)", node.op_type(), i));
    }
    c.role = Role::kQuantized;
    return c;
  }

  // fan_in of the weight of a Conv/ConvTranspose/Gemm (for its bias), 0 when unknown.
  int64_t WeightFanIn(const onnx::NodeProto& node) const {
    const int input = node.op_type() == "QLinearConv" ? 3 : 1;
    const std::optional<View> weight = ViewOf(node, input);
    if (!weight || !weight->shape) return 0;
    auto fans = FansForWeight(node, input, *weight->shape);
    return fans.ok() ? fans->fan_in : 0;
  }

  // A 1-D constant added to a MatMul's output, of the output's width: the MatMul's bias. The Add
  // after a decomposed LayerNorm's scale Mul: the norm's bias.
  Candidate AddOperand(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape) const {
    if (node.input_size() != 2) return Other("read by Add, which has no role");
    const onnx::NodeProto* other = index_.Producer(node.input(1 - i));
    if (other != nullptr && other->op_type() == "MatMul" && shape.size() == 1) {
      for (int w = 1; w >= 0; --w) {
        std::optional<View> weight = ViewOf(*other, w);
        if (!weight || !weight->shape || weight->shape->empty()) continue;
        if (!IsWeightInput(*other, w, [&](int k) { return IsConstant(*other, k); })) continue;
        auto fans = FansForWeight(*other, w, *weight->shape);
        if (fans.ok() && fans->fan_out == shape[0]) return Bias(fans->fan_in);
      }
    }
    if (other != nullptr && other->op_type() == "Mul" && IsDecomposedNormScale(*other)) {
      return Norm(Role::kNormBias);
    }
    return Other("read by Add, which has no role");
  }

  // Mul(constant, Div(x - mean, Sqrt(...))): the scale of a LayerNorm that an exporter decomposed
  // (opsets below 17 have no LayerNormalization op).
  bool IsDecomposedNormScale(const onnx::NodeProto& mul) const {
    if (mul.input_size() != 2) return false;
    for (int k = 0; k < 2; ++k) {
      const onnx::NodeProto* div = index_.Producer(mul.input(k));
      if (div == nullptr || div->op_type() != "Div" || div->input_size() != 2) continue;
      const onnx::NodeProto* sqrt = index_.Producer(div->input(1));
      if (sqrt != nullptr && sqrt->op_type() == "Sqrt" && IsConstant(mul, 1 - k)) return true;
    }
    return false;
  }

  Candidate Recurrent(const onnx::NodeProto& node, int i, const std::vector<int64_t>& shape) const {
    const std::string& op = node.op_type();
    if (i == 5 || i == 6) return Other(absl::StrCat(op, " initial state"));
    if (i == 7) return Other("LSTM peephole weights");
    if (i < 1 || i > 3) return Other(absl::StrFormat("read by %s input %d, which has no role", op, i));
    RnnLayout layout;
    layout.gates = op == "LSTM" ? 4 : op == "GRU" ? 3 : 1;
    const int64_t rank_needed = i == 3 ? 2 : 3;
    if (static_cast<int64_t>(shape.size()) != rank_needed) {
      return Misfit(absl::StrFormat("%s input %d has shape %s, expected rank %d", op, i, ShapeText(shape),
                                   rank_needed));
    }
    layout.directions = shape[0];
    layout.hidden_size = IntAttribute(node, "hidden_size", 0);
    if (layout.hidden_size <= 0) layout.hidden_size = i == 3 ? shape[1] / (2 * layout.gates) : shape[1] / layout.gates;
    const std::optional<int64_t> rows = CheckedMul(i == 3 ? 2 * layout.gates : layout.gates, layout.hidden_size);
    if (shape[1] != rows || (i == 2 && shape[2] != layout.hidden_size)) {
      return Misfit(absl::StrFormat("%s input %d has shape %s, which does not fit hidden_size %d", op, i,
                                   ShapeText(shape), layout.hidden_size));
    }
    Candidate c;
    c.rnn = layout;
    if (i == 1) {
      c.role = Role::kRnnWeight;
      c.fans = Fans{shape[2], layout.hidden_size};
    } else if (i == 2) {
      c.role = Role::kRnnRecurrence;
      c.fans = Fans{layout.hidden_size, layout.hidden_size};
    } else {
      c.role = Role::kRnnBias;
    }
    return c;
  }

  Candidate Embedding(const onnx::NodeProto& gather, const std::vector<int64_t>& shape) const {
    if (IntAttribute(gather, "axis", 0) != 0) return Other("read by Gather along an axis other than 0");
    if (gather.input_size() > 1 && IsConstant(gather, 1)) {
      return Other("read by Gather with constant indices (shape arithmetic)");
    }
    if (shape.size() != 2) {
      return Misfit(absl::StrFormat("Gather table has shape %s, expected [vocabulary, dim]", ShapeText(shape)));
    }
    Candidate c;
    c.role = Role::kEmbedding;
    c.fans = Fans{shape[1], shape[0]};  // fan_in = embedding dim, as torch and Flax
    return c;
  }

  const GraphIndex& index_;
  const AnalysisOptions& options_;
};

std::string DescribeUse(const TensorUse& use) {
  std::string text = absl::StrFormat("%s by %s input %d", RoleName(use.role), Describe(*use.reader),
                                     use.input_index);
  if (!use.via.empty()) absl::StrAppend(&text, " (via ", use.via, ")");
  return text;
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

std::vector<GraphConstant> ListConstants(onnx::ModelProto& model) {
  const GraphIndex index(model);
  std::vector<GraphConstant> constants;
  for (const std::string& name : index.constant_order()) {
    const Constant& constant = *index.FindConstant(name);
    constants.push_back(GraphConstant{constant.tensor, name, constant.source});
  }
  return constants;
}

GraphAnalysis AnalyzeGraph(onnx::ModelProto& model, const AnalysisOptions& options) {
  GraphIndex index(model);
  GraphAnalysis analysis;
  Classifier classifier(index, options);
  std::unordered_map<std::string, size_t> position;  // tensor name -> index in analysis.tensors

  for (const onnx::NodeProto* node : index.nodes()) {
    for (int i = 0; i < node->input_size(); ++i) {
      // Re-viewing ops are not readers themselves: the reader of their output is.
      if (i == 0 && IsReviewingOp(*node)) continue;
      std::optional<Classifier::View> view = classifier.ViewOf(*node, i);
      if (!view) continue;
      const std::string& name = *view->trace.source;
      const Constant& constant = *index.FindConstant(name);
      const bool is_float = FloatTypeOf(constant.tensor->data_type()).has_value();
      if (!is_float && !view->trace.quantized && !IsQuantizedOperator(*node)) continue;

      TensorUse use;
      use.tensor = constant.tensor;
      use.name = name;
      use.source = constant.source;
      use.reader = node;
      use.input_index = i;
      std::vector<std::string> via;
      for (auto it = view->trace.chain.rbegin(); it != view->trace.chain.rend(); ++it) {
        if ((*it)->op_type() != "Identity") via.push_back((*it)->op_type());
      }
      use.via = absl::StrJoin(via, " -> ");
      use.overridable = index.IsGraphInput(name);
      if (!view->shape) {
        use.reason = absl::StrFormat("reaches %s input %d but %s", node->op_type(), i, view->why);
      } else {
        use.view_shape = *view->shape;
        Candidate candidate = classifier.Classify(*node, i, *view->shape);
        if (view->trace.quantized && (candidate.role == Role::kWeight || candidate.role == Role::kBias)) {
          candidate.reason = absl::StrFormat("quantized %s (DequantizeLinear): --requantize rewrites it",
                                             RoleName(candidate.role));
          candidate.role = Role::kQuantized;
          use.dequantize = view->trace.dequantize;
        } else if (candidate.role == Role::kQuantized) {
          candidate.reason = absl::StrFormat("quantized input of %s: --requantize rewrites it", node->op_type());
        } else if (!is_float) {
          continue;  // an integer tensor that is not a quantized weight
        }
        if (candidate.misfit) {
          analysis.warnings.push_back(absl::StrFormat("'%s' %s left unchanged: %s", name,
                                                      ShapeText(use.view_shape), candidate.reason));
        }
        use.role = candidate.role;
        use.fans = candidate.fans;
        use.groups = candidate.groups;
        use.rnn = candidate.rnn;
        use.reason = candidate.reason;
      }

      auto [known, inserted] = position.emplace(name, analysis.tensors.size());
      if (inserted) {
        analysis.tensors.push_back(std::move(use));
        continue;
      }
      TensorUse& current = analysis.tensors[known->second];
      if (use.role == Role::kOther) continue;
      if (current.role != Role::kOther && current.role != use.role) {
        const bool replace = Priority(use.role) < Priority(current.role);
        const TensorUse& kept = replace ? use : current;
        analysis.warnings.push_back(absl::StrFormat(
            "'%s' is read as %s and as %s; initialized once, as %s", name, DescribeUse(current),
            DescribeUse(use), RoleName(kept.role)));
        if (replace) current = std::move(use);
        continue;
      }
      if (current.role == Role::kOther) {
        current = std::move(use);
        continue;
      }
      if (current.fans && use.fans && !(*current.fans == *use.fans)) {
        analysis.warnings.push_back(absl::StrFormat(
            "'%s' is also used by %s input %d with fan_in %d, fan_out %d; using the fans of its "
            "first reader, %s input %d (fan_in %d, fan_out %d)",
            name, Describe(*use.reader), use.input_index, use.fans->fan_in, use.fans->fan_out,
            Describe(*current.reader), current.input_index, current.fans->fan_in,
            current.fans->fan_out));
      }
    }
  }

  for (const std::string& name : index.constant_order()) {
    const Constant& constant = *index.FindConstant(name);
    if (position.count(name) || !FloatTypeOf(constant.tensor->data_type())) continue;
    TensorUse use;
    use.tensor = constant.tensor;
    use.name = name;
    use.source = constant.source;
    use.view_shape.assign(constant.tensor->dims().begin(), constant.tensor->dims().end());
    use.overridable = index.IsGraphInput(name);
    use.reason = "not read by any node";
    position.emplace(name, analysis.tensors.size());
    analysis.tensors.push_back(std::move(use));
  }
  for (const std::string& name : index.sparse_initializers()) {
    analysis.warnings.push_back(
        absl::StrFormat("sparse initializer '%s' left unchanged (sparse tensors are not re-initialized)", name));
  }
  return analysis;
}

}  // namespace onnx_reinit
