// A model's graphs flattened for lookups: the constants (initializers and Constant node values),
// the producer of every value and every node, of the main graph and all subgraphs (If, Loop and
// Scan bodies, down to kMaxSubgraphDepth: limits.h) at once. ONNX names are unique across them,
// and a subgraph may read the names of the graphs that enclose it, so one name space serves all.
#ifndef ONNX_REINIT_GRAPH_INDEX_H_
#define ONNX_REINIT_GRAPH_INDEX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"

namespace onnx_reinit {

enum class TensorSource { kInitializer, kConstantNode };

struct Constant {
  onnx::TensorProto* tensor;
  TensorSource source;
};

bool IsDefaultDomain(const onnx::NodeProto& node);
const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, absl::string_view name);
int64_t IntAttribute(const onnx::NodeProto& node, absl::string_view name, int64_t fallback);

class GraphIndex {
 public:
  // Pointers into `model`, valid while its graphs' initializer and node lists are not resized.
  explicit GraphIndex(onnx::ModelProto& model);

  const std::vector<const onnx::NodeProto*>& nodes() const { return nodes_; }
  const std::vector<std::string>& constant_order() const { return constant_order_; }
  const std::vector<std::string>& sparse_initializers() const { return sparse_; }
  bool IsGraphInput(const std::string& name) const { return graph_inputs_.count(name) > 0; }

  // The version of `domain` ("" and "ai.onnx" are one) the model imports, or -1 when it does not.
  int64_t OpsetVersion(absl::string_view domain) const;

  const Constant* FindConstant(const std::string& name) const;
  const onnx::NodeProto* Producer(const std::string& name) const;
  // The values of an INT64 or INT32 constant (a Reshape shape, Slice starts, Gather indices), or
  // nullopt (also when its stored values do not match its shape, or are external).
  std::optional<std::vector<int64_t>> ConstantInts(const std::string& name) const;

 private:
  void Add(onnx::GraphProto& graph, int depth);
  void AddConstant(const std::string& name, onnx::TensorProto* tensor, TensorSource source);

  std::unordered_map<std::string, Constant> constants_;
  std::unordered_map<std::string, const onnx::NodeProto*> producers_;
  std::vector<const onnx::NodeProto*> nodes_;
  std::vector<std::string> constant_order_;
  std::vector<std::string> sparse_;
  std::unordered_set<std::string> graph_inputs_;
  std::unordered_map<std::string, int64_t> opsets_;  // domain ("" for ai.onnx) -> version
};

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_GRAPH_INDEX_H_
