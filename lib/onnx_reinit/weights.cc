#include "onnx_reinit/weights.h"

#include <unordered_map>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {
namespace {

struct ConstantTensor {
  onnx::TensorProto* tensor;
  TensorSource source;
};

std::unordered_map<std::string, ConstantTensor> CollectConstants(onnx::GraphProto& graph) {
  std::unordered_map<std::string, ConstantTensor> constants;
  for (onnx::TensorProto& initializer : *graph.mutable_initializer()) {
    constants.emplace(initializer.name(), ConstantTensor{&initializer, TensorSource::kInitializer});
  }
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    if (node.op_type() != "Constant" || node.output_size() != 1) continue;
    if (!node.domain().empty() && node.domain() != "ai.onnx") continue;
    for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
      if (attribute.name() == "value" && attribute.has_t()) {
        constants.emplace(node.output(0),
                          ConstantTensor{attribute.mutable_t(), TensorSource::kConstantNode});
      }
    }
  }
  return constants;
}

// Maps each Identity output to its input, so that names can be traced back to what they alias.
std::unordered_map<std::string, std::string> CollectIdentityEdges(const onnx::GraphProto& graph) {
  std::unordered_map<std::string, std::string> edges;
  for (const onnx::NodeProto& node : graph.node()) {
    if (node.op_type() == "Identity" && node.input_size() == 1 && node.output_size() == 1 &&
        (node.domain().empty() || node.domain() == "ai.onnx")) {
      edges.emplace(node.output(0), node.input(0));
    }
  }
  return edges;
}

std::string ShapeText(const onnx::TensorProto& tensor) {
  return absl::StrCat("[", absl::StrJoin(tensor.dims(), ", "), "]");
}

std::string DescribeConsumer(const onnx::NodeProto& node, int input_index) {
  return absl::StrFormat("%s '%s' input %d", node.op_type(), node.name(), input_index);
}

}  // namespace

WeightScan FindWeights(onnx::GraphProto& graph) {
  const std::unordered_map<std::string, ConstantTensor> constants = CollectConstants(graph);
  const std::unordered_map<std::string, std::string> identity_edges = CollectIdentityEdges(graph);

  // Follows Identity edges back to a stored tensor's name. A cycle is a broken graph: the step limit
  // turns it into "not a constant" rather than a hang.
  auto resolve = [&](const std::string& name) -> const std::string* {
    const std::string* current = &name;
    for (size_t step = 0; step <= identity_edges.size(); ++step) {
      if (constants.count(*current)) return current;
      auto edge = identity_edges.find(*current);
      if (edge == identity_edges.end()) return nullptr;
      current = &edge->second;
    }
    return nullptr;
  };

  WeightScan scan;
  std::unordered_map<std::string, size_t> index_of_weight;
  for (const onnx::NodeProto& node : graph.node()) {
    std::vector<const std::string*> sources(node.input_size());
    for (int i = 0; i < node.input_size(); ++i) {
      if (!node.input(i).empty()) sources[i] = resolve(node.input(i));
    }
    auto is_constant = [&](int i) { return i < node.input_size() && sources[i] != nullptr; };
    for (int i = 0; i < node.input_size(); ++i) {
      if (!IsWeightInput(node, i, is_constant)) continue;
      const ConstantTensor& constant = constants.at(*sources[i]);
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
