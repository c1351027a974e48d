#include "onnx_reinit/graph/view_trace.h"

#include <algorithm>
#include <limits>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/base/checked_math.h"
#include "onnx_reinit/base/limits.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {
namespace {

using Shape = std::vector<int64_t>;

// Recursion deeper than this stops (bounded stack): a view found that deep would be more than
// kMaxViewChainDepth ops from its sources anyway.
constexpr int kMaxRecursion = kMaxViewChainDepth + 2;

bool IsFloatCast(const onnx::NodeProto& node) {
  const int64_t to = IntAttribute(node, "to", 0);
  return to == static_cast<int32_t>(to) && FloatTypeOf(static_cast<int32_t>(to)).has_value();
}

bool IsIntCast(const onnx::NodeProto& node) {
  const int64_t to = IntAttribute(node, "to", 0);
  return to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32;
}

std::optional<Shape> IntsAttribute(const onnx::NodeProto& node, absl::string_view name) {
  const onnx::AttributeProto* attribute = FindAttribute(node, name);
  if (attribute == nullptr) return std::nullopt;
  return Shape(attribute->ints().begin(), attribute->ints().end());
}

// `what` names the parameter with its verb: "shape is", "starts are".
absl::Status Computed(const onnx::NodeProto& node, absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrFormat("%s's %s computed, not constant", node.op_type(), what));
}

// `axis` counted from the end when negative, checked against [0, rank).
absl::StatusOr<int64_t> NormalizeAxis(const onnx::NodeProto& node, int64_t axis, int64_t rank) {
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) {
    return absl::InvalidArgumentError(absl::StrFormat("%s axis is out of range", node.op_type()));
  }
  return axis;
}

std::string ShapeText(const Shape& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

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
    why = absl::StrFormat("Transpose perm [%s] is not a permutation of the tensor's %d axes", absl::StrJoin(perm, ", "),
                          rank);
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
    why = absl::StrFormat("Squeeze axes [%s] do not fit the shape %s", absl::StrJoin(axes, ", "), ShapeText(shape));
    return std::nullopt;
  }
  return out;
}

// Unsqueeze: a 1 inserted at each listed axis of the result.
std::optional<Shape> UnsqueezeView(const std::vector<int64_t>& axes, const Shape& shape, std::string& why) {
  const int64_t out_rank = static_cast<int64_t>(shape.size() + axes.size());
  const std::optional<std::vector<bool>> inserted = AxisMask(axes, out_rank);
  if (!inserted) {
    why = absl::StrFormat("Unsqueeze axes [%s] are out of range or repeated for rank %d", absl::StrJoin(axes, ", "),
                          out_rank);
    return std::nullopt;
  }
  Shape out;
  size_t from = 0;
  for (int64_t d = 0; d < out_rank; ++d) out.push_back((*inserted)[d] ? 1 : shape[from++]);
  return out;
}

// Reshape to `target`: 0 copies the input's dim (unless allowzero), one -1 is inferred; the element
// count must stay the same.
std::optional<Shape> ReshapeView(const onnx::NodeProto& node, Shape target, const Shape& shape, std::string& why) {
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
  const bool fits = count && known && (infer >= 0 ? *known != 0 && *count % *known == 0 : *known == *count);
  if (!fits) {
    why = absl::StrFormat("Reshape's shape [%s] does not fit the tensor's shape %s", absl::StrJoin(target, ", "),
                          ShapeText(shape));
    return std::nullopt;
  }
  if (infer >= 0) target[infer] = *count / *known;
  return target;
}

// The result of one of the shape functions above as a status.
absl::StatusOr<Shape> Checked(std::optional<Shape> shape, const std::string& why) {
  if (!shape) return absl::InvalidArgumentError(why);
  return *std::move(shape);
}

absl::StatusOr<ElementMap> Reshaped(const ElementMap& in, const absl::StatusOr<Shape>& shape) {
  if (!shape.ok()) return shape.status();
  return ReshapeMap(in, *shape);
}

}  // namespace

std::string TracedView::Path(int k) const { return absl::StrJoin(map.sources[k].path, " -> "); }

const TracedView* ViewTracer::Trace(const std::string& name) {
  truncated_ = false;
  return TraceAt(name, 0);
}

const TracedView* ViewTracer::TraceAt(const std::string& name, int depth) {
  if (name.empty()) return nullptr;
  if (depth > kMaxRecursion) {
    truncated_ = true;
    return nullptr;
  }
  auto known = cache_.find(name);
  if (known != cache_.end()) return known->second.get();
  cache_.emplace(name, nullptr);  // while in progress, a cycle back to it reads as not constant
  std::unique_ptr<TracedView> view;
  if (const Constant* constant = index_.FindConstant(name)) {
    view = std::make_unique<TracedView>();
    const Shape dims(constant->tensor->dims().begin(), constant->tensor->dims().end());
    view->map = ElementMap::Whole(name, dims);
    view->dequantize = {nullptr};
    if (!ShapeProduct(dims)) view->why = "its shape has a negative dimension or too many elements";
  } else if (const onnx::NodeProto* producer = index_.Producer(name)) {
    const auto& outputs = producer->output();
    const int output = static_cast<int>(std::find(outputs.begin(), outputs.end(), name) - outputs.begin());
    view = Follow(*producer, output, depth + 1);
  }
  if (view != nullptr && view->depth > kMaxViewChainDepth) view = nullptr;  // too far from its sources
  if (truncated_) {  // the answer depends on where the search started: keep it, uncached
    cache_.erase(name);
    uncached_.push_back(std::move(view));
    return uncached_.back().get();
  }
  std::unique_ptr<TracedView>& slot = cache_[name];
  slot = std::move(view);
  return slot.get();
}

bool ViewTracer::PassesOn(const onnx::NodeProto& node, int i) {
  if (!IsDefaultDomain(node) || node.output_size() == 0) return false;
  if (i != 0 && node.op_type() != "Concat") return false;
  return Trace(node.output(0)) != nullptr;
}

// The ops followed through their input 0, by how they map its elements (Concat, which reads all its
// inputs, is followed on its own).
enum class ViewTracer::ViewOp {
  kNone,
  kSame,
  kTranspose,
  kFlatten,
  kSqueeze,
  kUnsqueeze,
  kReshape,
  kSlice,
  kSplit,
  kGather
};

ViewTracer::ViewOp ViewTracer::ViewOpOf(const onnx::NodeProto& node) {
  static const auto* const kOps = new std::unordered_map<std::string, ViewOp>{
      {"Identity", ViewOp::kSame},   {"DequantizeLinear", ViewOp::kSame}, {"Transpose", ViewOp::kTranspose},
      {"Flatten", ViewOp::kFlatten}, {"Squeeze", ViewOp::kSqueeze},       {"Unsqueeze", ViewOp::kUnsqueeze},
      {"Reshape", ViewOp::kReshape}, {"Slice", ViewOp::kSlice},           {"Split", ViewOp::kSplit},
      {"Gather", ViewOp::kGather}};
  if (node.op_type() == "Cast") return IsFloatCast(node) ? ViewOp::kSame : ViewOp::kNone;
  auto it = kOps->find(node.op_type());
  return it == kOps->end() ? ViewOp::kNone : it->second;
}

namespace {

// Gives `view` the shape and pieces of `mapped`, keeping its sources (with their paths), or the
// reason its elements are not known.
void SetElements(absl::StatusOr<ElementMap> mapped, TracedView& view) {
  if (!mapped.ok()) {
    view.why = std::string(mapped.status().message());
    return;
  }
  std::vector<MappedSource> sources = std::move(view.map.sources);
  view.map = *std::move(mapped);
  view.map.sources = std::move(sources);
}

void AddToPaths(const onnx::NodeProto& node, TracedView& view) {
  if (node.op_type() == "Identity") return;
  for (MappedSource& source : view.map.sources) source.path.push_back(node.op_type());
}

absl::StatusOr<ElementMap> TransposeElements(const onnx::NodeProto& node, const ElementMap& in) {
  std::string why;
  if (!TransposeView(node, in.shape, why)) return absl::InvalidArgumentError(why);
  Shape perm;
  if (auto attribute = IntsAttribute(node, "perm")) {
    perm = *attribute;
  } else {
    for (int64_t axis = static_cast<int64_t>(in.shape.size()) - 1; axis >= 0; --axis) perm.push_back(axis);
  }
  return TransposeMap(in, perm);
}

}  // namespace

std::unique_ptr<TracedView> ViewTracer::Follow(const onnx::NodeProto& node, int output, int depth) {
  if (!IsDefaultDomain(node)) return nullptr;
  if (node.op_type() == "Concat") return FollowConcat(node, depth);
  const ViewOp op = ViewOpOf(node);
  if (op == ViewOp::kNone || node.input_size() == 0) return nullptr;
  const TracedView* data = TraceAt(node.input(0), depth);
  if (data == nullptr) return nullptr;
  if (op == ViewOp::kGather && !InputInts(node, 1, depth)) return nullptr;  // computed indices: a table lookup
  auto view = std::make_unique<TracedView>(*data);
  view->depth = data->depth + 1;
  if (node.op_type() == "DequantizeLinear") {
    for (const onnx::NodeProto*& dequantize : view->dequantize) {
      if (dequantize == nullptr) dequantize = &node;
    }
  }
  if (view->exact()) SetElements(MapElements(op, node, data->map, output, depth), *view);
  AddToPaths(node, *view);
  return view;
}

std::unique_ptr<TracedView> ViewTracer::FollowConcat(const onnx::NodeProto& node, int depth) {
  auto view = std::make_unique<TracedView>();
  std::vector<ElementMap> maps;
  for (const std::string& input : node.input()) {
    const TracedView* part = TraceAt(input, depth);
    if (part == nullptr) return nullptr;
    for (size_t k = 0; k < part->map.sources.size(); ++k) {
      const MappedSource& source = part->map.sources[k];
      auto it = std::find_if(view->map.sources.begin(), view->map.sources.end(),
                             [&](const MappedSource& s) { return s.name == source.name; });
      if (it == view->map.sources.end()) {
        view->map.sources.push_back(source);
        view->dequantize.push_back(part->dequantize[k]);
      } else if (view->dequantize[it - view->map.sources.begin()] == nullptr) {
        view->dequantize[it - view->map.sources.begin()] = part->dequantize[k];
      }
    }
    if (!part->exact() && view->why.empty()) view->why = part->why;
    view->depth = std::max(view->depth, part->depth + 1);
    maps.push_back(part->map);
  }
  if (view->exact()) SetElements(ConcatMaps(maps, IntAttribute(node, "axis", 0)), *view);
  AddToPaths(node, *view);
  return view;
}

absl::StatusOr<ElementMap> ViewTracer::MapElements(ViewOp op, const onnx::NodeProto& node, const ElementMap& in,
                                                   int output, int depth) {
  std::string why;
  switch (op) {
    case ViewOp::kSame: return in;
    case ViewOp::kTranspose: return TransposeElements(node, in);
    case ViewOp::kFlatten: return Reshaped(in, Checked(FlattenView(node, in.shape, why), why));
    case ViewOp::kSqueeze:
    case ViewOp::kUnsqueeze: {
      std::optional<Shape> axes = IntsAttribute(node, "axes");
      if (!axes && node.input_size() > 1 && !node.input(1).empty()) {
        if (auto given = InputInts(node, 1, depth)) axes = given->values;
      } else if (!axes && op == ViewOp::kSqueeze) {
        axes = Shape();
      }
      if (!axes) return absl::FailedPreconditionError(absl::StrCat(node.op_type(), " axes are computed, not constant"));
      return Reshaped(
          in, Checked(op == ViewOp::kSqueeze ? SqueezeView(*axes, in.shape, why) : UnsqueezeView(*axes, in.shape, why),
                      why));
    }
    case ViewOp::kReshape: {
      std::optional<Ints> target = InputInts(node, 1, depth);
      if (!target) return Computed(node, "shape is");
      return Reshaped(in, Checked(ReshapeView(node, target->values, in.shape, why), why));
    }
    case ViewOp::kSlice: return SliceView(node, in, depth);
    case ViewOp::kSplit: return SplitView(node, in, output, depth);
    case ViewOp::kGather: {
      std::optional<Ints> indices = InputInts(node, 1, depth);
      auto axis = NormalizeAxis(node, IntAttribute(node, "axis", 0), static_cast<int64_t>(in.shape.size()));
      if (!axis.ok()) return axis.status();
      return GatherMap(in, *axis, indices->values, indices->dims);
    }
    case ViewOp::kNone: break;
  }
  return absl::InternalError("not a followed op");
}

std::optional<ViewTracer::Ints> ViewTracer::InputInts(const onnx::NodeProto& node, int i, int depth) {
  if (i >= node.input_size() || node.input(i).empty()) return std::nullopt;
  return IntsOf(node.input(i), depth);
}

absl::StatusOr<ElementMap> ViewTracer::SliceView(const onnx::NodeProto& node, const ElementMap& in, int depth) {
  auto ints = [&](int i) { return InputInts(node, i, depth); };
  const int64_t rank = static_cast<int64_t>(in.shape.size());
  Shape starts, ends, axes, steps;
  if (auto attribute = IntsAttribute(node, "starts")) {  // opset < 10
    starts = *attribute;
    ends = IntsAttribute(node, "ends").value_or(Shape());
    axes = IntsAttribute(node, "axes").value_or(Shape());
  } else {
    std::optional<Ints> given_starts = ints(1), given_ends = ints(2);
    if (!given_starts) return Computed(node, "starts are");
    if (!given_ends) return Computed(node, "ends are");
    starts = given_starts->values;
    ends = given_ends->values;
    if (node.input_size() > 3 && !node.input(3).empty()) {
      std::optional<Ints> given = ints(3);
      if (!given) return Computed(node, "axes are");
      axes = given->values;
    }
    if (node.input_size() > 4 && !node.input(4).empty()) {
      std::optional<Ints> given = ints(4);
      if (!given) return Computed(node, "steps are");
      steps = given->values;
    }
  }
  if (axes.empty()) {
    for (size_t a = 0; a < starts.size(); ++a) axes.push_back(static_cast<int64_t>(a));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return absl::InvalidArgumentError("Slice starts, ends, axes and steps differ in length");
  }
  std::vector<AxisSelection> selections;
  for (size_t a = 0; a < starts.size(); ++a) {
    auto axis = NormalizeAxis(node, axes[a], rank);
    if (!axis.ok()) return axis.status();
    auto selection = ResolveSliceAxis(*axis, in.shape[*axis], starts[a], ends[a], steps[a]);
    if (!selection.ok()) return selection.status();
    selections.push_back(*selection);
  }
  return SliceMap(in, selections);
}

absl::StatusOr<ElementMap> ViewTracer::SplitView(const onnx::NodeProto& node, const ElementMap& in, int output,
                                                 int depth) {
  auto ints = [&](int i) { return InputInts(node, i, depth); };
  const int64_t rank = static_cast<int64_t>(in.shape.size());
  auto axis = NormalizeAxis(node, IntAttribute(node, "axis", 0), rank);
  if (!axis.ok()) return axis.status();
  const int64_t dim = in.shape[*axis], parts = node.output_size();
  Shape sizes;
  if (node.input_size() > 1 && !node.input(1).empty()) {
    std::optional<Ints> given = ints(1);
    if (!given) return Computed(node, "split sizes are");
    sizes = given->values;
  } else if (auto attribute = IntsAttribute(node, "split")) {  // opset < 13
    sizes = *attribute;
  } else if (const onnx::AttributeProto* num_outputs = FindAttribute(node, "num_outputs")) {
    const int64_t n = num_outputs->i();
    if (n <= 0) return absl::InvalidArgumentError("Split num_outputs is not positive");
    const int64_t chunk = (dim + n - 1) / n;  // opset 18: the last chunk is smaller
    for (int64_t k = 0; k < n; ++k) sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - k * chunk)));
  } else {
    if (parts <= 0 || dim % parts != 0) {
      return absl::InvalidArgumentError("Split into equal parts does not divide the axis");
    }
    sizes.assign(parts, dim / parts);
  }
  int64_t total = 0, start = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    if (sizes[k] < 0 || __builtin_add_overflow(total, sizes[k], &total)) {
      return absl::InvalidArgumentError("Split sizes are negative");
    }
    if (static_cast<int>(k) < output) start = total;
  }
  if (total != dim || static_cast<int64_t>(sizes.size()) != parts || output >= parts) {
    return absl::InvalidArgumentError("Split sizes do not fit the axis or the outputs");
  }
  return SliceMap(in, {AxisSelection{*axis, start, 1, sizes[output]}});
}

namespace {

// x op y for op Add, Sub, Mul or Div (truncating, as ONNX's integer Div); nullopt on overflow or a
// division by zero.
std::optional<int64_t> Arithmetic(const std::string& op, int64_t x, int64_t y) {
  if (op == "Div") {
    if (y == 0 || (y == -1 && x == std::numeric_limits<int64_t>::min())) return std::nullopt;
    return x / y;
  }
  int64_t value;
  const bool overflow = op == "Add"   ? __builtin_add_overflow(x, y, &value)
                        : op == "Sub" ? __builtin_sub_overflow(x, y, &value)
                                      : __builtin_mul_overflow(x, y, &value);
  if (overflow) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::vector<int64_t>> ViewTracer::ConstantInts(const std::string& name) {
  std::optional<Ints> ints = IntsOf(name, 0);
  if (!ints) return std::nullopt;
  return std::move(ints->values);
}

std::optional<ViewTracer::Ints> ViewTracer::IntsOf(const std::string& name, int depth) {
  if (depth > kMaxRecursion) {
    truncated_ = true;
    return std::nullopt;
  }
  if (index_.FindConstant(name) != nullptr) return ConstantIntsOf(name);
  const onnx::NodeProto* node = index_.Producer(name);
  if (node == nullptr || !IsDefaultDomain(*node) || node->input_size() == 0) return std::nullopt;
  if (node->op_type() == "Shape") return ShapeOf(*node, depth);
  std::vector<Ints> in;
  for (const std::string& input : node->input()) {
    std::optional<Ints> value = input.empty() ? std::nullopt : IntsOf(input, depth + 1);
    if (!value) {
      if (node->op_type() == "Squeeze" || node->op_type() == "Unsqueeze") break;  // the axes may be an attribute
      return std::nullopt;
    }
    in.push_back(*std::move(value));
  }
  if (in.empty()) return std::nullopt;
  return FoldInts(*node, in);
}

std::optional<ViewTracer::Ints> ViewTracer::ConstantIntsOf(const std::string& name) const {
  const Constant& constant = *index_.FindConstant(name);
  std::optional<Shape> values = index_.ConstantInts(name);
  if (!values) return std::nullopt;
  Ints result{*values, Shape(constant.tensor->dims().begin(), constant.tensor->dims().end())};
  if (std::any_of(result.dims.begin(), result.dims.end(), [](int64_t dim) { return dim < 0; })) return std::nullopt;
  const std::optional<int64_t> count = ShapeProduct(result.dims);
  if (!count || *count != static_cast<int64_t>(result.values.size())) return std::nullopt;
  return result;
}

// Shape of a traced view: its dims from `start` to `end` (clamped, negative from the end).
std::optional<ViewTracer::Ints> ViewTracer::ShapeOf(const onnx::NodeProto& node, int depth) {
  const TracedView* view = TraceAt(node.input(0), depth + 1);
  if (view == nullptr || !view->exact()) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(view->map.shape.size());
  int64_t start = IntAttribute(node, "start", 0), end = IntAttribute(node, "end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  Shape values(view->map.shape.begin() + start, view->map.shape.begin() + end);
  return Ints{values, {static_cast<int64_t>(values.size())}};
}

// What an exporter computes from constant shapes: Identity, integer Cast, Squeeze, Unsqueeze,
// Gather of a vector, Add, Sub, Mul, Div and Concat of integers known from `in`.
std::optional<ViewTracer::Ints> ViewTracer::FoldInts(const onnx::NodeProto& node, const std::vector<Ints>& in) {
  const std::string& op = node.op_type();
  if (op == "Identity" || (op == "Cast" && IsIntCast(node))) return in[0];
  if (op == "Squeeze" || op == "Unsqueeze") {
    Shape axes = in.size() > 1 ? in[1].values : IntsAttribute(node, "axes").value_or(Shape());
    std::string why;
    std::optional<Shape> dims =
        op == "Squeeze" ? SqueezeView(axes, in[0].dims, why) : UnsqueezeView(axes, in[0].dims, why);
    if (!dims) return std::nullopt;
    return Ints{in[0].values, *dims};
  }
  if (op == "Gather" && in.size() == 2 && in[0].dims.size() == 1 && IntAttribute(node, "axis", 0) == 0) {
    Ints result{{}, in[1].dims};
    const int64_t size = static_cast<int64_t>(in[0].values.size());
    for (int64_t index : in[1].values) {
      if (index < 0) index += size;
      if (index < 0 || index >= size) return std::nullopt;
      result.values.push_back(in[0].values[index]);
    }
    return result;
  }
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && in.size() == 2) return Broadcast(op, in[0], in[1]);
  if (op == "Concat") {
    Ints result{{}, {0}};
    for (const Ints& part : in) {
      if (part.dims.size() != 1) return std::nullopt;
      result.values.insert(result.values.end(), part.values.begin(), part.values.end());
    }
    result.dims[0] = static_cast<int64_t>(result.values.size());
    return result;
  }
  return std::nullopt;
}

// `op` of `a` and `b` of the same dims, or one of them a single value.
std::optional<ViewTracer::Ints> ViewTracer::Broadcast(const std::string& op, const Ints& a, const Ints& b) {
  if (a.dims != b.dims && a.values.size() != 1 && b.values.size() != 1) return std::nullopt;
  // Dims come from the model, the values' count from their storage: they need not agree.
  if (a.values.empty() || b.values.empty() ||
      (a.values.size() != b.values.size() && a.values.size() != 1 && b.values.size() != 1)) {
    return std::nullopt;
  }
  Ints result{{},
              a.values.size() == 1 && b.values.size() != 1   ? b.dims
              : b.values.size() == 1 && a.values.size() != 1 ? a.dims
              : a.dims.size() >= b.dims.size()               ? a.dims
                                                             : b.dims};
  const size_t n = std::max(a.values.size(), b.values.size());
  for (size_t k = 0; k < n; ++k) {
    const std::optional<int64_t> value =
        Arithmetic(op, a.values[a.values.size() == 1 ? 0 : k], b.values[b.values.size() == 1 ? 0 : k]);
    if (!value) return std::nullopt;
    result.values.push_back(*value);
  }
  return result;
}

}  // namespace onnx_reinit
