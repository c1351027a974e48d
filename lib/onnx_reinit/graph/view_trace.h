// Follows what an op reads back to the stored constants it is made of, through the ops that select,
// assemble or re-view elements without computing, and maps each element of the view to its source
// element (element_map.h).
//
// Followed ops (default domain), when every data input is itself made of constants:
//   Identity, Cast to a float type     the same elements
//   Transpose                          axes permuted by `perm` (absent: reversed)
//   Reshape, Flatten, Squeeze,         the same elements, another shape; the shape must be known
//   Unsqueeze                          from constants (Reshape's shape, the axes input or attribute)
//   DequantizeLinear (input 0)         the same elements, dequantized: the source is marked
//   Slice (input 0)                    constant starts/ends/axes/steps (inputs, or the attributes
//                                      of opset < 10)
//   Split (input 0)                    each output: constant sizes (the input, or the attribute of
//                                      opset < 13), `num_outputs` (opset 18: chunks of
//                                      ceil(dim / n), the last one smaller), or equal parts
//   Concat                             all inputs made of constants
//   Gather (input 0)                   with constant indices
// Integer parameters count as constant also when the exporter computes them from constant shapes
// (PyTorch's chunk: Shape -> Gather -> Add -> Div -> Mul): Shape of a traced view, and Gather,
// Add, Sub, Mul, Div, Concat, Squeeze, Unsqueeze, Identity and Cast over such integers, are
// evaluated.
//
// A view whose parameters are not constant, or whose elements cannot be mapped exactly, still
// names its sources, with the reason (`why`); it is never guessed. A view more than
// kMaxViewChainDepth ops (limits.h) from a source is not followed.
#ifndef ONNX_REINIT_GRAPH_VIEW_TRACE_H_
#define ONNX_REINIT_GRAPH_VIEW_TRACE_H_

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_reinit/element_map.h"
#include "onnx_reinit/graph_index.h"

namespace onnx_reinit {

struct TracedView {
  // Sources always; the shape and the pieces when `why` is empty.
  ElementMap map;
  // Per source: the DequantizeLinear on its path nearest to it, or null.
  std::vector<const onnx::NodeProto*> dequantize;
  std::string why;  // why the view's elements are not known
  int depth = 0;    // ops on the longest path from a source (views deeper than
                    // kMaxViewChainDepth, limits.h, are not followed)

  bool exact() const { return why.empty(); }
  // The ops from source `k` to the reader, Identity left out: "Slice -> Concat -> Unsqueeze".
  std::string Path(int k) const;
};

class ViewTracer {
 public:
  explicit ViewTracer(const GraphIndex& index) : index_(index) {}

  // The view of value `name`, or nullptr when it is not made of constants through followed ops
  // (an activation, a graph input, a cycle). The result lives as long as the tracer.
  const TracedView* Trace(const std::string& name);

  // Whether `node` only passes the constants of input `i` on (so it is not their reader).
  bool PassesOn(const onnx::NodeProto& node, int i);

  // The values of integer tensor `name` when constants fix them (the integer parameters above, e.g.
  // a Reshape's target shape), or nullopt.
  std::optional<std::vector<int64_t>> ConstantInts(const std::string& name);

 private:
  // An integer tensor known from constants: its values and dims.
  struct Ints {
    std::vector<int64_t> values;
    std::vector<int64_t> dims;
  };

  std::optional<Ints> IntsOf(const std::string& name, int depth);
  std::optional<Ints> ConstantIntsOf(const std::string& name) const;
  std::optional<Ints> ShapeOf(const onnx::NodeProto& node, int depth);
  static std::optional<Ints> FoldInts(const onnx::NodeProto& node, const std::vector<Ints>& in);
  static std::optional<Ints> Broadcast(const std::string& op, const Ints& a, const Ints& b);
  enum class ViewOp;
  static ViewOp ViewOpOf(const onnx::NodeProto& node);

  std::unique_ptr<TracedView> Follow(const onnx::NodeProto& node, int output, int depth);
  std::unique_ptr<TracedView> FollowConcat(const onnx::NodeProto& node, int depth);
  absl::StatusOr<ElementMap> MapElements(ViewOp op, const onnx::NodeProto& node, const ElementMap& in, int output,
                                         int depth);
  absl::StatusOr<ElementMap> SliceView(const onnx::NodeProto& node, const ElementMap& in, int depth);
  absl::StatusOr<ElementMap> SplitView(const onnx::NodeProto& node, const ElementMap& in, int output, int depth);
  std::optional<Ints> InputInts(const onnx::NodeProto& node, int i, int depth);
  const TracedView* TraceAt(const std::string& name, int depth);

  const GraphIndex& index_;
  std::unordered_map<std::string, std::unique_ptr<TracedView>> cache_;  // null: not constant
  // Results of a search cut by the recursion bound: they may differ from another start's.
  std::vector<std::unique_ptr<TracedView>> uncached_;
  bool truncated_ = false;
};

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_GRAPH_VIEW_TRACE_H_
