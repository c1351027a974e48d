#include "onnx_reinit/model/validate.h"

#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "onnx_reinit/base/checked_math.h"
#include "onnx_reinit/base/limits.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {
namespace {

using AttributeType = onnx::AttributeProto::AttributeType;

// The attributes that roles.cc and fan.cc read, with the type they must have. A wrong type would be
// read as the default (0, empty) and silently give other roles or fans.
struct AttributeRule {
  absl::string_view op;  // compared with every node's op type
  absl::string_view attribute;
  AttributeType type;
};
constexpr AttributeRule kRoleAttributes[] = {
    {"Gemm", "transA", onnx::AttributeProto::INT},
    {"Gemm", "transB", onnx::AttributeProto::INT},
    {"Conv", "group", onnx::AttributeProto::INT},
    {"ConvTranspose", "group", onnx::AttributeProto::INT},
    {"LSTM", "hidden_size", onnx::AttributeProto::INT},
    {"GRU", "hidden_size", onnx::AttributeProto::INT},
    {"RNN", "hidden_size", onnx::AttributeProto::INT},
    {"LSTM", "direction", onnx::AttributeProto::STRING},
    {"GRU", "direction", onnx::AttributeProto::STRING},
    {"RNN", "direction", onnx::AttributeProto::STRING},
    {"GRU", "linear_before_reset", onnx::AttributeProto::INT},
    {"Gather", "axis", onnx::AttributeProto::INT},
    {"Flatten", "axis", onnx::AttributeProto::INT},
    {"Transpose", "perm", onnx::AttributeProto::INTS},
    {"Squeeze", "axes", onnx::AttributeProto::INTS},
    {"Unsqueeze", "axes", onnx::AttributeProto::INTS},
    {"Reshape", "allowzero", onnx::AttributeProto::INT},
    {"Cast", "to", onnx::AttributeProto::INT},
    {"Constant", "value", onnx::AttributeProto::TENSOR},
};

bool IsDefaultDomain(const onnx::NodeProto& node) { return node.domain().empty() || node.domain() == "ai.onnx"; }

std::string NodeLabel(const onnx::NodeProto& node) {
  if (!node.name().empty()) return absl::StrFormat("node '%s' (%s)", node.name(), node.op_type());
  if (node.output_size() > 0) return absl::StrFormat("%s node with output '%s'", node.op_type(), node.output(0));
  return absl::StrFormat("a %s node", node.op_type());
}

absl::string_view TypeName(AttributeType type) { return onnx::AttributeProto::AttributeType_Name(type); }

// The kinds of value `attribute` holds, by the fields that are set.
std::vector<AttributeType> KindsHeld(const onnx::AttributeProto& a) {
  std::vector<AttributeType> kinds;
  const std::pair<bool, AttributeType> fields[] = {
      {a.has_f(), onnx::AttributeProto::FLOAT},
      {a.has_i(), onnx::AttributeProto::INT},
      {a.has_s(), onnx::AttributeProto::STRING},
      {a.has_t(), onnx::AttributeProto::TENSOR},
      {a.has_g(), onnx::AttributeProto::GRAPH},
      {a.has_sparse_tensor(), onnx::AttributeProto::SPARSE_TENSOR},
      {a.has_tp(), onnx::AttributeProto::TYPE_PROTO},
      {a.floats_size() > 0, onnx::AttributeProto::FLOATS},
      {a.ints_size() > 0, onnx::AttributeProto::INTS},
      {a.strings_size() > 0, onnx::AttributeProto::STRINGS},
      {a.tensors_size() > 0, onnx::AttributeProto::TENSORS},
      {a.graphs_size() > 0, onnx::AttributeProto::GRAPHS},
      {a.sparse_tensors_size() > 0, onnx::AttributeProto::SPARSE_TENSORS},
      {a.type_protos_size() > 0, onnx::AttributeProto::TYPE_PROTOS},
  };
  for (const auto& [set, kind] : fields) {
    if (set) kinds.push_back(kind);
  }
  return kinds;
}

absl::Status CheckAttribute(const onnx::NodeProto& node, const onnx::AttributeProto& attribute,
                            AttributeType expected) {
  auto wrong = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: attribute '%s' must be %s, but %s", NodeLabel(node),
                                                      attribute.name(), TypeName(expected), problem));
  };
  const AttributeType declared = attribute.type();
  if (declared != onnx::AttributeProto::UNDEFINED && declared != expected) {
    return wrong(absl::StrFormat("is declared %s", TypeName(declared)));
  }
  const std::vector<AttributeType> held = KindsHeld(attribute);
  for (AttributeType kind : held) {
    if (kind != expected) return wrong(absl::StrFormat("holds a %s value", TypeName(kind)));
  }
  if (declared == onnx::AttributeProto::UNDEFINED && held.empty()) return wrong("has neither a type nor a value");
  return absl::OkStatus();
}

absl::Status CheckRoleAttributes(const onnx::NodeProto& node) {
  if (!IsDefaultDomain(node)) return absl::OkStatus();
  for (const AttributeRule& rule : kRoleAttributes) {
    if (node.op_type() != rule.op) continue;
    for (const onnx::AttributeProto& attribute : node.attribute()) {
      if (attribute.name() == rule.attribute) {
        ONNX_REINIT_RETURN_IF_ERROR(CheckAttribute(node, attribute, rule.type));
      }
    }
  }
  return absl::OkStatus();
}

bool HasTypedValues(const onnx::TensorProto& t) {
  return t.float_data_size() > 0 || t.int32_data_size() > 0 || t.string_data_size() > 0 || t.int64_data_size() > 0 ||
         t.double_data_size() > 0 || t.uint64_data_size() > 0;
}

// A constant's metadata: where its values are, its type and its shape.
absl::Status CheckConstant(const onnx::TensorProto& tensor, const std::string& name) {
  auto bad = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrFormat("tensor '%s' %s", name, problem));
  };
  if (tensor.has_raw_data() && HasTypedValues(tensor)) {
    return bad(
        "holds values both in raw_data and in a typed field (float_data, int32_data, ...): "
        "which ones are meant is ambiguous");
  }
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL && (tensor.has_raw_data() || HasTypedValues(tensor))) {
    return bad("holds values both in an external data file and in the model: which ones are meant is ambiguous");
  }
  // Data types newer than this build are tolerated here: PlanReinitialization refuses them only on
  // the tensors it would rewrite.
  if (tensor.data_type() == onnx::TensorProto::UNDEFINED) return bad("has data type UNDEFINED");
  return ElementCountOf(tensor.dims(), name).status();
}

// The name of a Constant node's value tensor and the tensor, when the node is one.
const onnx::TensorProto* ConstantValue(const onnx::NodeProto& node) {
  if (node.op_type() != "Constant" || !IsDefaultDomain(node) || node.output_size() != 1) return nullptr;
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.name() == "value" && attribute.has_t()) return &attribute.t();
  }
  return nullptr;
}

// Depth-first search for a cycle among `graph`'s nodes (edges from each node to the producers of its
// inputs in the same graph), without recursion: graphs can hold millions of nodes.
absl::Status CheckAcyclic(const onnx::GraphProto& graph) {
  std::unordered_map<std::string_view, int> producer;
  for (int n = 0; n < graph.node_size(); ++n) {
    for (const std::string& output : graph.node(n).output()) {
      if (!output.empty()) producer.emplace(output, n);
    }
  }
  enum : char { kUnvisited, kOnPath, kDone };
  std::vector<char> state(graph.node_size(), kUnvisited);
  std::vector<std::pair<int, int>> path;  // (node, next input to follow)
  for (int start = 0; start < graph.node_size(); ++start) {
    if (state[start] != kUnvisited) continue;
    path.emplace_back(start, 0);
    state[start] = kOnPath;
    while (!path.empty()) {
      const int node = path.back().first;
      const onnx::NodeProto& current = graph.node(node);
      const int next = path.back().second++;
      if (next == current.input_size()) {
        state[node] = kDone;
        path.pop_back();
        continue;
      }
      auto found = producer.find(current.input(next));
      if (found == producer.end() || state[found->second] == kDone) continue;
      if (state[found->second] == kOnPath) {
        return absl::InvalidArgumentError(absl::StrFormat("%s depends on its own output (a cycle in the graph)",
                                                          NodeLabel(graph.node(found->second))));
      }
      state[found->second] = kOnPath;
      path.emplace_back(found->second, 0);
    }
  }
  return absl::OkStatus();
}

// Walks a graph and its subgraphs, with the names defined by the enclosing graphs.
class Validator {
 public:
  absl::Status Graph(const onnx::GraphProto& graph, int depth) {
    std::vector<std::string_view> added;  // this graph's names, forgotten when it is done
    auto define = [&](const std::string& name, Definition what) -> absl::Status {
      if (name.empty()) return absl::OkStatus();
      auto [it, inserted] = defined_.emplace(name, what);
      if (!inserted) {
        return absl::InvalidArgumentError(
            absl::StrFormat("'%s' is defined twice: as %s and as %s", name, it->second.Describe(), what.Describe()));
      }
      added.push_back(name);
      return absl::OkStatus();
    };
    absl::Status status = DefineNames(graph, depth, define);
    if (status.ok()) status = CheckAcyclic(graph);
    if (status.ok()) status = Subgraphs(graph, depth);
    for (std::string_view name : added) defined_.erase(name);
    return status;
  }

 private:
  // What defines a name, described only for an error: a model has a name per value.
  struct Definition {
    const char* kind;  // "a graph input", "an initializer"; nullptr for a node's output
    bool in_subgraph = false;
    const onnx::NodeProto* node = nullptr;

    std::string Describe() const {
      if (node != nullptr) return absl::StrCat("the output of ", NodeLabel(*node));
      return absl::StrCat(kind, in_subgraph ? " of a subgraph" : "");
    }
  };

  template <typename Define>
  absl::Status DefineNames(const onnx::GraphProto& graph, int depth, Define& define) {
    const bool nested = depth > 0;
    std::unordered_set<std::string_view> inputs, initializers;
    for (const onnx::ValueInfoProto& input : graph.input()) {
      ONNX_REINIT_RETURN_IF_ERROR(define(input.name(), Definition{"a graph input", nested}));
      inputs.insert(input.name());
    }
    auto define_initializer = [&](const std::string& name) -> absl::Status {
      if (!initializers.insert(name).second) {
        return absl::InvalidArgumentError(absl::StrFormat("two initializers are named '%s'", name));
      }
      // An initializer that is also a graph input is a default the runtime may override.
      if (inputs.count(name)) return absl::OkStatus();
      return define(name, Definition{"an initializer", nested});
    };
    for (const onnx::TensorProto& initializer : graph.initializer()) {
      ONNX_REINIT_RETURN_IF_ERROR(define_initializer(initializer.name()));
      ONNX_REINIT_RETURN_IF_ERROR(CheckConstant(initializer, initializer.name()));
    }
    for (const onnx::SparseTensorProto& sparse : graph.sparse_initializer()) {
      ONNX_REINIT_RETURN_IF_ERROR(define_initializer(sparse.values().name()));
    }
    for (const onnx::NodeProto& node : graph.node()) {
      for (const std::string& output : node.output()) {
        ONNX_REINIT_RETURN_IF_ERROR(define(output, Definition{nullptr, nested, &node}));
      }
      ONNX_REINIT_RETURN_IF_ERROR(CheckRoleAttributes(node));
      if (const onnx::TensorProto* value = ConstantValue(node)) {
        ONNX_REINIT_RETURN_IF_ERROR(CheckConstant(*value, node.output(0)));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Subgraphs(const onnx::GraphProto& graph, int depth) {
    for (const onnx::NodeProto& node : graph.node()) {
      for (const onnx::AttributeProto& attribute : node.attribute()) {
        const bool nested = attribute.has_g() || attribute.graphs_size() > 0;
        if (nested && depth == kMaxSubgraphDepth) {
          return absl::InvalidArgumentError(
              absl::StrFormat("%s: subgraphs nested more than %d deep", NodeLabel(node), kMaxSubgraphDepth));
        }
        if (attribute.has_g()) ONNX_REINIT_RETURN_IF_ERROR(Graph(attribute.g(), depth + 1));
        for (const onnx::GraphProto& subgraph : attribute.graphs()) {
          ONNX_REINIT_RETURN_IF_ERROR(Graph(subgraph, depth + 1));
        }
      }
    }
    return absl::OkStatus();
  }

  // Names of the graphs being walked (views into the model, which outlives the walk).
  std::unordered_map<std::string_view, Definition> defined_;
};

// Model-local functions: one per domain and name (a call must name one body), and the body's
// attributes and constants as a graph's.
absl::Status CheckFunctions(const onnx::ModelProto& model) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const onnx::FunctionProto& function : model.functions()) {
    if (!seen.emplace(function.domain(), function.name()).second) {
      return absl::InvalidArgumentError(absl::StrFormat("two model-local functions are named '%s' in domain '%s'",
                                                        function.name(), function.domain()));
    }
    for (const onnx::NodeProto& node : function.node()) {
      absl::Status status = CheckRoleAttributes(node);
      if (const onnx::TensorProto* value = ConstantValue(node); status.ok() && value != nullptr) {
        status = CheckConstant(*value, node.output(0));
      }
      if (!status.ok()) return WithContext(status, absl::StrFormat("function '%s'", function.name()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateModel(const onnx::ModelProto& model) {
  ONNX_REINIT_RETURN_IF_ERROR(Validator().Graph(model.graph(), 0));
  return CheckFunctions(model);
}

}  // namespace onnx_reinit
