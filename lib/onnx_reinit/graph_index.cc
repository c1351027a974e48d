#include "onnx_reinit/graph_index.h"

#include <algorithm>
#include <cstring>

#include "onnx_reinit/checked_math.h"
#include "onnx_reinit/limits.h"

namespace onnx_reinit {

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

namespace {
absl::string_view NormalDomain(absl::string_view domain) { return domain == "ai.onnx" ? "" : domain; }
}  // namespace

GraphIndex::GraphIndex(onnx::ModelProto& model) {
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    opsets_[std::string(NormalDomain(opset.domain()))] = opset.version();
  }
  for (const onnx::ValueInfoProto& input : model.graph().input()) graph_inputs_.insert(input.name());
  // mutable_graph() would give a model without a graph an empty one: a dry run must change nothing.
  if (model.has_graph()) Add(*model.mutable_graph(), 0);
}

int64_t GraphIndex::OpsetVersion(absl::string_view domain) const {
  auto it = opsets_.find(std::string(NormalDomain(domain)));
  return it == opsets_.end() ? -1 : it->second;
}

const Constant* GraphIndex::FindConstant(const std::string& name) const {
  auto it = constants_.find(name);
  return it == constants_.end() ? nullptr : &it->second;
}

const onnx::NodeProto* GraphIndex::Producer(const std::string& name) const {
  auto it = producers_.find(name);
  return it == producers_.end() ? nullptr : it->second;
}

std::optional<std::vector<int64_t>> GraphIndex::ConstantInts(const std::string& name) const {
  const Constant* constant = FindConstant(name);
  if (constant == nullptr) return std::nullopt;
  const onnx::TensorProto& tensor = *constant->tensor;
  const std::optional<int64_t> count = ShapeProduct(tensor.dims());
  if (!count || tensor.data_location() == onnx::TensorProto::EXTERNAL) return std::nullopt;
  // The sizes are compared before anything is allocated: the dims may claim any count.
  const size_t n = static_cast<size_t>(*count);
  const int64_t width = tensor.data_type() == onnx::TensorProto::INT64 ? 8 : 4;
  if (tensor.has_raw_data() && static_cast<int64_t>(tensor.raw_data().size()) != *count * width) {
    return std::nullopt;
  }
  if (tensor.data_type() == onnx::TensorProto::INT64) {
    if (tensor.has_raw_data()) {
      std::vector<int64_t> values(n);
      std::memcpy(values.data(), tensor.raw_data().data(), n * 8);
      return values;
    }
    if (tensor.int64_data_size() != *count) return std::nullopt;
    return std::vector<int64_t>(tensor.int64_data().begin(), tensor.int64_data().end());
  }
  if (tensor.data_type() == onnx::TensorProto::INT32) {
    if (tensor.has_raw_data()) {
      std::vector<int32_t> values(n);
      std::memcpy(values.data(), tensor.raw_data().data(), n * 4);
      return std::vector<int64_t>(values.begin(), values.end());
    }
    if (tensor.int32_data_size() != *count) return std::nullopt;
    return std::vector<int64_t>(tensor.int32_data().begin(), tensor.int32_data().end());
  }
  return std::nullopt;
}

void GraphIndex::Add(onnx::GraphProto& graph, int depth) {
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
    if (depth == kMaxSubgraphDepth) continue;  // deeper subgraphs (which ValidateModel refuses) are not searched
    for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
      if (attribute.has_g()) Add(*attribute.mutable_g(), depth + 1);
      for (onnx::GraphProto& subgraph : *attribute.mutable_graphs()) Add(subgraph, depth + 1);
    }
  }
}

void GraphIndex::AddConstant(const std::string& name, onnx::TensorProto* tensor, TensorSource source) {
  if (constants_.emplace(name, Constant{tensor, source}).second) constant_order_.push_back(name);
}

}  // namespace onnx_reinit
