#include "onnx_reinit/weights.h"

#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {
namespace {

struct ConstantTensor {
  onnx::TensorProto* tensor;
  TensorSource source;
};

bool IsDefaultDomain(const onnx::NodeProto& node) {
  return node.domain().empty() || node.domain() == "ai.onnx";
}

// The constants of a graph by name, and the Identity edges that alias them.
class ConstantIndex {
 public:
  explicit ConstantIndex(onnx::GraphProto& graph) {
    for (onnx::TensorProto& initializer : *graph.mutable_initializer()) {
      constants_.emplace(initializer.name(), ConstantTensor{&initializer, TensorSource::kInitializer});
      order_.push_back(initializer.name());
    }
    for (onnx::NodeProto& node : *graph.mutable_node()) {
      if (!IsDefaultDomain(node) || node.output_size() != 1) continue;
      if (node.op_type() == "Identity" && node.input_size() == 1) {
        identity_edges_.emplace(node.output(0), node.input(0));
      }
      if (node.op_type() != "Constant") continue;
      for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
        if (attribute.name() == "value" && attribute.has_t()) {
          constants_.emplace(node.output(0),
                             ConstantTensor{attribute.mutable_t(), TensorSource::kConstantNode});
          order_.push_back(node.output(0));
        }
      }
    }
  }

  // The stored constant that `name` aliases through Identity nodes, or null. A cycle is a broken
  // graph: the step limit turns it into "not a constant" rather than a hang.
  const std::string* Resolve(const std::string& name) const {
    if (name.empty()) return nullptr;  // an omitted optional input
    const std::string* current = &name;
    for (size_t step = 0; step <= identity_edges_.size(); ++step) {
      if (constants_.count(*current)) return current;
      auto edge = identity_edges_.find(*current);
      if (edge == identity_edges_.end()) return nullptr;
      current = &edge->second;
    }
    return nullptr;
  }

  const ConstantTensor& at(const std::string& name) const { return constants_.at(name); }
  // Constant names in declaration order: initializers, then Constant nodes.
  const std::vector<std::string>& order() const { return order_; }

 private:
  std::unordered_map<std::string, ConstantTensor> constants_;
  std::unordered_map<std::string, std::string> identity_edges_;
  std::vector<std::string> order_;
};

std::string ShapeText(const onnx::TensorProto& tensor) {
  return absl::StrCat("[", absl::StrJoin(tensor.dims(), ", "), "]");
}

std::string DescribeConsumer(const onnx::NodeProto& node, int input_index) {
  return absl::StrFormat("%s '%s' input %d", node.op_type(), node.name(), input_index);
}

}  // namespace

std::vector<GraphConstant> ListConstants(onnx::GraphProto& graph) {
  const ConstantIndex index(graph);
  std::vector<GraphConstant> listed;
  std::unordered_set<std::string> seen;
  auto add = [&](const std::string& name, const onnx::NodeProto* consumer, int input_index) {
    const ConstantTensor& constant = index.at(name);
    if (!seen.insert(name).second) return;
    listed.push_back(GraphConstant{constant.tensor, name, constant.source, consumer, input_index});
  };
  for (const onnx::NodeProto& node : graph.node()) {
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.op_type() == "Identity") break;  // aliases, not readers
      if (const std::string* source = index.Resolve(node.input(i))) add(*source, &node, i);
    }
  }
  for (const std::string& name : index.order()) add(name, nullptr, -1);
  return listed;
}

WeightScan FindWeights(onnx::GraphProto& graph) {
  const ConstantIndex index(graph);
  WeightScan scan;
  std::unordered_map<std::string, size_t> index_of_weight;
  for (const onnx::NodeProto& node : graph.node()) {
    std::vector<const std::string*> sources(node.input_size());
    for (int i = 0; i < node.input_size(); ++i) {
      sources[i] = index.Resolve(node.input(i));
    }
    auto is_constant = [&](int i) { return i < node.input_size() && sources[i] != nullptr; };
    for (int i = 0; i < node.input_size(); ++i) {
      if (!IsWeightInput(node, i, is_constant)) continue;
      const ConstantTensor& constant = index.at(*sources[i]);
      if (!FloatTypeOf(constant.tensor->data_type())) continue;
      const std::string& name = *sources[i];
      auto fans = FansForWeight(node, i, constant.tensor->dims());
      if (!fans.ok()) {
        scan.warnings.push_back(absl::StrFormat("'%s' %s left unchanged: %s", name,
                                                ShapeText(*constant.tensor),
                                                fans.status().message()));
        continue;
      }
      auto [known, inserted] = index_of_weight.emplace(name, scan.weights.size());
      if (inserted) {
        scan.weights.push_back(
            Weight{constant.tensor, name, constant.source, &node, i, *fans});
        continue;
      }
      const Weight& first = scan.weights[known->second];
      if (!(first.fans == *fans)) {
        scan.warnings.push_back(absl::StrFormat(
            "'%s' is also used by %s with fan_in %d, fan_out %d; using the fans of its first "
            "consumer, %s (fan_in %d, fan_out %d)",
            name, DescribeConsumer(node, i), fans->fan_in, fans->fan_out,
            DescribeConsumer(*first.consumer, first.input_index), first.fans.fan_in,
            first.fans.fan_out));
      }
    }
  }
  return scan;
}

}  // namespace onnx_reinit
