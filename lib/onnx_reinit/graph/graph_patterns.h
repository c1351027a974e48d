// Shapes of the graph around a constant's reader that give the constant its role where the op
// reading it alone cannot: norms that exporters write as several ops, and offset scales. The
// classifier (roles.cc) asks these for the elementwise ops (Mul, Add) whose inputs would otherwise
// be parameters or have no role.
#ifndef ONNX_REINIT_GRAPH_GRAPH_PATTERNS_H_
#define ONNX_REINIT_GRAPH_GRAPH_PATTERNS_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/graph_index.h"
#include "onnx_reinit/graph/view_trace.h"

namespace onnx_reinit {

class GraphPatterns {
 public:
  GraphPatterns(const GraphIndex& index, ViewTracer& tracer) : index_(index), tracer_(tracer) {}

  // Mul(constant, y), y a normalized activation computed in pieces: the norm's scale. y is
  //   Div(x - mean, Sqrt(...))                      a LayerNorm below opset 17
  //   Div(x, Sqrt(...)), Mul(x, Reciprocal(Sqrt(...))), Mul(x, Div(c, Sqrt(...)))
  //                                                 an RMSNorm (PyTorch writes x * rsqrt(...);
  //                                                 torch 1.13's exporter rsqrt as Div(1, Sqrt))
  //   Reshape(InstanceNormalization(...))           PyTorch's GroupNorm below opset 18: x is
  //                                                 reshaped to [N, groups, -1], normalized by an
  //                                                 InstanceNormalization of ones and zeros, and
  //                                                 reshaped back before the [C, 1, 1] scale
  bool IsDecomposedNormScale(const onnx::NodeProto& mul) const;

  // Input `i` of an Add is the bias of a norm: the other input is such a decomposed scale's Mul,
  // or the output of a norm op without a bias input of its own (ORT's split LayerNorm:
  // Sub -> SimplifiedLayerNormalization -> Add).
  bool IsNormBias(const onnx::NodeProto& add, int i) const;

  // Input `i` of an Add is w in w + c or c + w, c a constant that `all_ones` says holds only ones,
  // and the sum multiplies something computed: the offset scale of Gemma's RMSNorm, x * (1 + w),
  // whose untrained value is w = 0.
  bool IsOffsetScale(const onnx::NodeProto& add, int i,
                     const std::function<bool(const std::string& value)>& all_ones) const;

 private:
  // The producer of `value` when it is an `op` node with at least one input, or null.
  const onnx::NodeProto* ProducedBy(const std::string& value, absl::string_view op) const;
  bool IsConstant(const std::string& value) const { return tracer_.Trace(value) != nullptr; }

  const GraphIndex& index_;
  ViewTracer& tracer_;
};

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_GRAPH_GRAPH_PATTERNS_H_
