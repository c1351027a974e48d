#include "onnx_reinit/graph_index.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/base/checked_math.h"
#include "onnx_reinit/base/limits.h"

namespace onnx_reinit {
namespace {

std::string FunctionText(const onnx::FunctionProto& function) {
  return function.domain().empty() ? function.name() : absl::StrCat(function.domain(), ".", function.name());
}

// Attribute references of a body node's copy resolved to the call's attributes; one the call does
// not set is dropped, so that the op's default applies.
void ResolveAttributeReferences(const onnx::NodeProto& call, onnx::NodeProto& node) {
  auto& attributes = *node.mutable_attribute();
  for (int a = 0; a < attributes.size();) {
    onnx::AttributeProto& attribute = attributes[a];
    if (attribute.ref_attr_name().empty()) {
      ++a;
    } else if (const onnx::AttributeProto* given = FindAttribute(call, attribute.ref_attr_name())) {
      const std::string name = attribute.name();
      attribute = *given;
      attribute.set_name(name);
      ++a;
    } else {
      attributes.DeleteSubrange(a, 1);
    }
  }
}

// The constant a body Constant node refers to when its value is an attribute of the call
// (`ref_attr_name`) that holds a tensor, or null.
const std::string* AttributeTensor(const onnx::NodeProto& node,
                                   const std::unordered_map<std::string, std::string>& tensor_attributes) {
  if (node.op_type() != "Constant" || !IsDefaultDomain(node) || node.output_size() != 1) return nullptr;
  const onnx::AttributeProto* value = FindAttribute(node, "value");
  if (value == nullptr || value->ref_attr_name().empty()) return nullptr;
  auto it = tensor_attributes.find(value->ref_attr_name());
  return it == tensor_attributes.end() ? nullptr : &it->second;
}

// The tensor attributes a nested call passes on: those of its attributes that refer to one of the
// enclosing call's.
std::unordered_map<std::string, std::string> PassedTensorAttributes(
    const onnx::NodeProto& call, const std::unordered_map<std::string, std::string>& tensor_attributes) {
  std::unordered_map<std::string, std::string> passed;
  for (const onnx::AttributeProto& attribute : call.attribute()) {
    auto it = tensor_attributes.find(attribute.ref_attr_name());
    if (!attribute.ref_attr_name().empty() && it != tensor_attributes.end())
      passed.emplace(attribute.name(), it->second);
  }
  return passed;
}

bool HasSubgraph(const onnx::NodeProto& node) {
  return std::any_of(node.attribute().begin(), node.attribute().end(),
                     [](const onnx::AttributeProto& a) { return a.has_g() || a.graphs_size() > 0; });
}

// The tensor a Constant node holds (its `value`), or null.
onnx::TensorProto* ConstantValue(onnx::NodeProto& node) {
  if (node.op_type() != "Constant" || !IsDefaultDomain(node) || node.output_size() != 1) return nullptr;
  for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
    if (attribute.name() == "value" && attribute.has_t()) return attribute.mutable_t();
  }
  return nullptr;
}

}  // namespace

absl::string_view SourceName(TensorSource source) {
  switch (source) {
    case TensorSource::kInitializer: return "initializer";
    case TensorSource::kConstantNode: return "constant_node";
    case TensorSource::kFunctionConstant: return "function_constant";
    case TensorSource::kCallAttribute: return "call_attribute";
  }
  return "?";
}

void CollectNames(const onnx::GraphProto& graph, std::unordered_set<std::string>& names) {
  for (const onnx::TensorProto& tensor : graph.initializer()) names.insert(tensor.name());
  for (const onnx::SparseTensorProto& sparse : graph.sparse_initializer()) names.insert(sparse.values().name());
  for (const auto* infos : {&graph.input(), &graph.output(), &graph.value_info()}) {
    for (const onnx::ValueInfoProto& info : *infos) names.insert(info.name());
  }
  for (const onnx::NodeProto& node : graph.node()) {
    names.insert(node.name());
    names.insert(node.input().begin(), node.input().end());
    names.insert(node.output().begin(), node.output().end());
    for (const onnx::AttributeProto& attribute : node.attribute()) {
      if (attribute.has_g()) CollectNames(attribute.g(), names);
      for (const onnx::GraphProto& subgraph : attribute.graphs()) CollectNames(subgraph, names);
    }
  }
}

bool IsDefaultDomain(const onnx::NodeProto& node) { return node.domain().empty() || node.domain() == "ai.onnx"; }

const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, absl::string_view name) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

std::string DescribeNode(const onnx::NodeProto& node) {
  return node.name().empty() ? node.op_type() : absl::StrFormat("%s '%s'", node.op_type(), node.name());
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
  if (model.functions_size() > 0) {
    CollectNames(model.graph(), taken_);
    IndexFunctions(model);
  }
  // mutable_graph() would give a model without a graph an empty one: a dry run must change nothing.
  if (model.has_graph()) Add(*model.mutable_graph(), 0);
  // The bodies' constants come after the graphs', in the order of the functions.
  for (onnx::FunctionProto& function : *model.mutable_functions()) {
    for (onnx::NodeProto& node : *function.mutable_node()) {
      if (onnx::TensorProto* value = ConstantValue(node)) {
        AddConstant(function_constants_.at({&function, node.output(0)}), value, TensorSource::kFunctionConstant,
                    &function);
      }
    }
  }
}

const onnx::FunctionProto* GraphIndex::FunctionOf(const onnx::NodeProto* node) const {
  auto it = function_of_.find(node);
  return it == function_of_.end() ? nullptr : it->second;
}

int GraphIndex::Calls(const onnx::FunctionProto* function) const {
  auto it = calls_.find(function);
  return it == calls_.end() ? 0 : it->second;
}

int64_t GraphIndex::OpsetVersion(const onnx::NodeProto& node) const {
  const absl::string_view domain = NormalDomain(node.domain());
  if (const onnx::FunctionProto* function = FunctionOf(&node)) {
    for (const onnx::OperatorSetIdProto& opset : function->opset_import()) {
      if (NormalDomain(opset.domain()) == domain) return opset.version();
    }
  }
  auto it = opsets_.find(std::string(domain));
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

const std::vector<Consumer>& GraphIndex::Consumers(const std::string& name) const {
  std::call_once(consumers_built_, [this] {
    for (const onnx::NodeProto* node : nodes_) {
      for (int k = 0; k < node->input_size(); ++k) consumers_[node->input(k)].emplace_back(node, k);
    }
  });
  static const std::vector<Consumer> kNone;
  auto it = consumers_.find(name);
  return it == consumers_.end() ? kNone : it->second;
}

void GraphIndex::Add(onnx::GraphProto& graph, int depth) {
  for (onnx::TensorProto& initializer : *graph.mutable_initializer()) {
    AddConstant(initializer.name(), &initializer, TensorSource::kInitializer);
  }
  for (const onnx::SparseTensorProto& sparse : graph.sparse_initializer()) {
    sparse_.push_back(sparse.values().name());
  }
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    if (onnx::FunctionProto* function = FindFunction(node)) {
      const std::string label = node.name().empty() ? function->name() : node.name();
      std::unordered_map<std::string, std::string> tensor_attributes;
      for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
        if (!attribute.has_t()) continue;
        const std::string name = FreshName(absl::StrCat(label, ".", attribute.name()));
        AddConstant(name, attribute.mutable_t(), TensorSource::kCallAttribute, function);
        tensor_attributes.emplace(attribute.name(), name);
      }
      Inline(*function, node, label, tensor_attributes, 0);
      continue;
    }
    nodes_.push_back(&node);
    for (const std::string& output : node.output()) producers_.emplace(output, &node);
    if (onnx::TensorProto* value = ConstantValue(node)) {
      AddConstant(node.output(0), value, TensorSource::kConstantNode);
    }
    if (depth == kMaxSubgraphDepth) continue;  // deeper subgraphs (which ValidateModel refuses) are not searched
    for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
      if (attribute.has_g()) Add(*attribute.mutable_g(), depth + 1);
      for (onnx::GraphProto& subgraph : *attribute.mutable_graphs()) Add(subgraph, depth + 1);
    }
  }
}

void GraphIndex::AddConstant(const std::string& name, onnx::TensorProto* tensor, TensorSource source,
                             const onnx::FunctionProto* function) {
  if (constants_.emplace(name, Constant{tensor, source, function}).second) constant_order_.push_back(name);
}

void GraphIndex::IndexFunctions(onnx::ModelProto& model) {
  std::map<std::string, int> named;  // how many functions have each name
  for (const onnx::FunctionProto& function : model.functions()) ++named[function.name()];
  for (onnx::FunctionProto& function : *model.mutable_functions()) {
    // ValidateModel refuses two functions of one domain and name.
    functions_.emplace(std::make_pair(function.domain(), function.name()), &function);
    const std::string label = named[function.name()] > 1 ? FunctionText(function) : function.name();
    for (onnx::NodeProto& node : *function.mutable_node()) {
      if (ConstantValue(node) != nullptr) {
        function_constants_.emplace(std::make_pair(&function, node.output(0)),
                                    FreshName(absl::StrCat(label, "::", node.output(0))));
      }
      if (HasSubgraph(node)) {
        warnings_.push_back(absl::StrFormat(
            "function '%s': the subgraph of its %s node '%s' is not followed; the constants in it are left "
            "unchanged",
            function.name(), node.op_type(), node.name()));
      }
    }
  }
}

onnx::FunctionProto* GraphIndex::FindFunction(const onnx::NodeProto& node) const {
  auto it = functions_.find(std::make_pair(node.domain(), node.op_type()));
  return it == functions_.end() ? nullptr : it->second;
}

std::string GraphIndex::FreshName(const std::string& wanted) {
  std::string name = wanted;
  for (int k = 2; !taken_.insert(name).second; ++k) name = absl::StrCat(wanted, "#", k);
  return name;
}

void GraphIndex::Inline(onnx::FunctionProto& function, const onnx::NodeProto& call, const std::string& label,
                        const std::unordered_map<std::string, std::string>& tensor_attributes, int nesting) {
  std::string refused;
  if (std::count(expanding_.begin(), expanding_.end(), &function) > 0) {
    refused = "calls itself";
  } else if (nesting >= kMaxFunctionNesting) {
    refused = absl::StrFormat("is called more than %d calls deep", kMaxFunctionNesting);
  } else if (inlined_.size() >= static_cast<size_t>(kMaxInlinedNodes)) {
    refused = absl::StrFormat("is called after the inlined function bodies reached %d nodes", kMaxInlinedNodes);
  }
  if (!refused.empty()) {
    warnings_.push_back(
        absl::StrFormat("function '%s' %s: its call '%s' is not followed, and the weights it "
                        "reads get no role from it",
                        function.name(), refused, label));
    return;
  }
  ++calls_[&function];
  expanding_.push_back(&function);
  std::unordered_map<std::string, std::string> names;  // a name in the body -> its name in the index
  for (int i = 0; i < function.input_size(); ++i) {
    names.emplace(function.input(i), i < call.input_size() ? call.input(i) : "");
  }
  for (int o = 0; o < function.output_size() && o < call.output_size(); ++o) {
    if (!call.output(o).empty()) names.emplace(function.output(o), call.output(o));
  }
  std::vector<std::pair<std::string, std::string>> aliases;  // (actual output, shared constant)
  for (onnx::NodeProto& node : *function.mutable_node()) {
    const std::string* constant = ConstantValue(node) != nullptr ? &function_constants_.at({&function, node.output(0)})
                                                                 : AttributeTensor(node, tensor_attributes);
    if (constant == nullptr) continue;
    auto [bound, fresh] = names.emplace(node.output(0), *constant);
    if (!fresh) aliases.emplace_back(bound->second, *constant);  // the constant is an output of the function
  }
  auto rename = [&](std::string& name) {
    if (name.empty()) return;
    auto [it, fresh] = names.emplace(name, "");
    if (fresh) it->second = FreshName(absl::StrCat(label, "/", name));
    name = it->second;
  };
  auto add = [&](onnx::NodeProto node) {
    inlined_.push_back(std::move(node));
    const onnx::NodeProto* added = &inlined_.back();
    function_of_.emplace(added, &function);
    nodes_.push_back(added);
    for (const std::string& output : added->output()) producers_.emplace(output, added);
  };
  for (const auto& [output, shared] : aliases) {
    onnx::NodeProto identity;
    identity.set_op_type("Identity");
    identity.set_name(absl::StrCat(label, "/", output));
    identity.add_input(shared);
    identity.add_output(output);
    add(std::move(identity));
  }
  for (onnx::NodeProto& body_node : *function.mutable_node()) {
    if (ConstantValue(body_node) != nullptr || AttributeTensor(body_node, tensor_attributes) != nullptr) continue;
    onnx::NodeProto node = body_node;
    for (std::string& input : *node.mutable_input()) rename(input);
    for (std::string& output : *node.mutable_output()) rename(output);
    node.set_name(absl::StrCat(label, "/", body_node.name().empty() ? body_node.op_type() : body_node.name()));
    ResolveAttributeReferences(call, node);
    if (onnx::FunctionProto* callee = FindFunction(node)) {
      Inline(*callee, node, node.name(), PassedTensorAttributes(body_node, tensor_attributes), nesting + 1);
    } else {
      add(std::move(node));
    }
  }
  expanding_.pop_back();
}

}  // namespace onnx_reinit
