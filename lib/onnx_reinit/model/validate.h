// The checks a model must pass before onnx-reinit reads roles from it or writes anything: the
// defects that would make re-initialization ambiguous (which of two tensors named 'w' is the
// weight? raw_data or float_data?) or unbounded (a cycle, endless nesting). Everything else the ONNX
// checker would reject is tolerated, as before: the model is processed and the output gets a warning.
//
// Refused, each as one line naming the tensor or node and the problem:
//   - subgraphs (If/Loop/Scan bodies) nested deeper than kMaxSubgraphDepth (limits.h)
//   - a name defined twice in a graph or the graphs enclosing it: by two initializers, by an
//     initializer and a node output (a Constant's output included), by two node outputs, or by a
//     subgraph redefining an outer name (an initializer may share its name with a graph input of
//     the same graph: that marks it overridable)
//   - a cycle among the nodes of a graph (e.g. two Identity nodes feeding each other)
//   - a constant (initializer or Constant node value) with:
//       raw_data together with a typed value field (float_data, int32_data, ...), or external data
//       together with raw_data;
//       data type UNDEFINED (a data type newer than this build, e.g. FLOAT8E4M3FN or INT4, is
//       refused by PlanReinitialization, and only on a tensor it would rewrite);
//       a negative dim, or more than kMaxElementCount elements (checked_math.h)
//   - an attribute of the wrong type on an op whose attributes decide roles or fans (the table in
//     validate.cc: Gemm transA/transB, Conv group, LSTM/GRU/RNN hidden_size, direction,
//     linear_before_reset, layout, Gather/Flatten axis, Transpose perm, Squeeze/Unsqueeze axes,
//     Reshape allowzero, Cast to, Constant value), judged by AttributeProto.type and by the field
//     that holds the value.
//   - two model-local functions of the same domain and name; in a function's body, the attribute
//     and constant defects above
#ifndef ONNX_REINIT_MODEL_VALIDATE_H_
#define ONNX_REINIT_MODEL_VALIDATE_H_

#include "absl/status/status.h"
#include "onnx/onnx_pb.h"

namespace onnx_reinit {

// OK, or InvalidArgument with the first problem found. Reads the model's structure only (no tensor
// values), so it costs little next to reading the file. LoadModel and MappedModel::Open run it on
// every model file (their errors add the file name), and Reinitialize, PlanReinitialization,
// ComputeModelStats, VerifyModel and DiffModels on the models they are given.
absl::Status ValidateModel(const onnx::ModelProto& model);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_MODEL_VALIDATE_H_
