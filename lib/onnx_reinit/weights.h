// Finds the weights of a graph: the floating-point constants that an op consumes as a weight, with
// the fans that op implies.
//
// A constant is a graph initializer or the `value` of a Constant node. A weight may reach its op
// through a chain of Identity nodes (PyTorch's exporter routes shared initializers that way); the
// chain is followed back to the stored tensor. A tensor used by several ops is one weight: the first
// consumer in graph order decides its fans, and a warning names any consumer that disagrees.
#ifndef ONNX_REINIT_WEIGHTS_H_
#define ONNX_REINIT_WEIGHTS_H_

#include <string>
#include <vector>

#include "onnx/onnx_pb.h"
#include "onnx_reinit/fan.h"

namespace onnx_reinit {

enum class TensorSource { kInitializer, kConstantNode };

struct Weight {
  onnx::TensorProto* tensor = nullptr;  // points into the graph passed to FindWeights
  std::string name;                     // initializer name, or the Constant node's output
  TensorSource source = TensorSource::kInitializer;
  const onnx::NodeProto* consumer = nullptr;  // first consumer in graph order
  int input_index = 0;
  Fans fans;
};

struct WeightScan {
  std::vector<Weight> weights;        // in the graph order of their first consumer
  std::vector<std::string> warnings;  // disagreeing consumers, layouts that fit no rule
};

// A constant of a graph (initializer or Constant node value) and the first node that reads it.
struct GraphConstant {
  onnx::TensorProto* tensor = nullptr;  // points into the graph passed to ListConstants
  std::string name;
  TensorSource source = TensorSource::kInitializer;
  const onnx::NodeProto* consumer = nullptr;  // first reader in graph order, Identity followed; or null
  int input_index = -1;
};

// Every constant of the top-level graph, of any data type, in the graph order of its first reader;
// constants that no node reads come last, in declaration order.
std::vector<GraphConstant> ListConstants(onnx::GraphProto& graph);

// Scans the top-level graph. The returned pointers stay valid while `graph` is alive and its
// initializer and node lists are not resized.
WeightScan FindWeights(onnx::GraphProto& graph);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_WEIGHTS_H_
