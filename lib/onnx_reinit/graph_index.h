// A model's graphs flattened for lookups: the constants (initializers and Constant node values),
// the producer of every value and every node, of the main graph and all subgraphs (If, Loop and
// Scan bodies, down to kMaxSubgraphDepth: limits.h) at once. ONNX names are unique across them,
// and a subgraph may read the names of the graphs that enclose it, so one name space serves all.
//
// Model-local functions (ModelProto.functions, IR >= 8) are inlined: a node whose domain and op
// type name a function stands for a copy of the function's body, so that a weight passed to the
// call reaches the op inside that reads it. The copy binds the body's formal inputs and outputs to
// the call's actual names (an omitted optional input to ""), gives the body's other values names of
// their own per call ("CALL/value", CALL the call node's name, or the function's when it has
// none), resolves attribute references (`ref_attr_name`) to the call's attributes (one the call does
// not set is dropped: the op's default applies), and inlines nested calls the same way. The copies
// are nodes of the index, named "CALL/NODE", not of the model. A Constant node in a body is one
// tensor that every call shares: it is indexed once, as "FUNCTION::OUTPUT" (TensorSource
// kFunctionConstant; the domain is prepended, "DOMAIN.FUNCTION::OUTPUT", when two functions share
// a name, and "#2", "#3", ... appended when a graph already uses the name), and points into the
// function's body, where it is rewritten. The body's ops are read in the opsets the function
// imports (OpsetVersion). A tensor-valued attribute of a call in a graph is a
// tensor of that call, "CALL.ATTRIBUTE" (kCallAttribute): a body Constant whose value refers to it
// reads it. (PyTorch's export_modules_as_functions also stores each module's parameters there, as
// copies no body op reads: they are indexed, and read by no node.)
// Calls not followed (recursion, nesting deeper than kMaxFunctionNesting, more than
// kMaxInlinedNodes nodes) and subgraphs inside bodies are named in warnings().
#ifndef ONNX_REINIT_GRAPH_INDEX_H_
#define ONNX_REINIT_GRAPH_INDEX_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"

namespace onnx_reinit {

enum class TensorSource { kInitializer, kConstantNode, kFunctionConstant, kCallAttribute };

// "initializer", "constant_node", "function_constant", "call_attribute" (the report's `source`).
absl::string_view SourceName(TensorSource source);

struct Constant {
  onnx::TensorProto* tensor;
  TensorSource source;
  // kFunctionConstant: the function whose body holds it; kCallAttribute: the function called
  const onnx::FunctionProto* function = nullptr;
};

// A node input: the node and the input's slot.
using Consumer = std::pair<const onnx::NodeProto*, int>;

bool IsDefaultDomain(const onnx::NodeProto& node);
// Every name used anywhere in `graph` and its subgraphs: values, initializers, nodes.
void CollectNames(const onnx::GraphProto& graph, std::unordered_set<std::string>& names);
const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, absl::string_view name);
int64_t IntAttribute(const onnx::NodeProto& node, absl::string_view name, int64_t fallback);
// "Conv '/conv/Conv'", or the op type alone for a node without a name: for messages.
std::string DescribeNode(const onnx::NodeProto& node);

class GraphIndex {
 public:
  // Pointers into `model`, valid while its graphs' initializer and node lists are not resized.
  explicit GraphIndex(onnx::ModelProto& model);
  GraphIndex(const GraphIndex&) = delete;  // nodes() points into the index itself
  GraphIndex& operator=(const GraphIndex&) = delete;

  const std::vector<const onnx::NodeProto*>& nodes() const { return nodes_; }
  const std::vector<std::string>& constant_order() const { return constant_order_; }
  const std::vector<std::string>& sparse_initializers() const { return sparse_; }
  bool IsGraphInput(const std::string& name) const { return graph_inputs_.count(name) > 0; }

  // The version of `node`'s domain ("" and "ai.onnx" are one) that its op is read in: the one its
  // function imports when it is inlined from a function body that imports the domain, else the
  // one the model imports; -1 when neither does.
  int64_t OpsetVersion(const onnx::NodeProto& node) const;

  const Constant* FindConstant(const std::string& name) const;
  const onnx::NodeProto* Producer(const std::string& name) const;
  // The node inputs of nodes() that read value `name`, in the order of nodes(). Built on the first
  // call (thread-safe), which costs one pass over the nodes.
  const std::vector<Consumer>& Consumers(const std::string& name) const;
  // The values of an INT64 or INT32 constant (a Reshape shape, Slice starts, Gather indices), or
  // nullopt (also when its stored values do not match its shape, or are external).
  std::optional<std::vector<int64_t>> ConstantInts(const std::string& name) const;

  // The function whose body `node` is a copy of, or null for a node of the model's graphs.
  const onnx::FunctionProto* FunctionOf(const onnx::NodeProto* node) const;
  // How many times `function`'s body is inlined (its calls, nested ones included).
  int Calls(const onnx::FunctionProto* function) const;
  // Function calls and subgraphs of function bodies that are not followed.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  void Add(onnx::GraphProto& graph, int depth);
  void AddConstant(const std::string& name, onnx::TensorProto* tensor, TensorSource source,
                   const onnx::FunctionProto* function = nullptr);
  void IndexFunctions(onnx::ModelProto& model);
  onnx::FunctionProto* FindFunction(const onnx::NodeProto& node) const;
  // `tensor_attributes`: the call's tensor-valued attributes -> the constants they are indexed as.
  void Inline(onnx::FunctionProto& function, const onnx::NodeProto& call, const std::string& label,
              const std::unordered_map<std::string, std::string>& tensor_attributes, int nesting);
  std::string FreshName(const std::string& wanted);

  std::unordered_map<std::string, Constant> constants_;
  std::unordered_map<std::string, const onnx::NodeProto*> producers_;
  std::vector<const onnx::NodeProto*> nodes_;
  std::vector<std::string> constant_order_;
  std::vector<std::string> sparse_;
  std::unordered_set<std::string> graph_inputs_;
  std::unordered_map<std::string, int64_t> opsets_;  // domain ("" for ai.onnx) -> version

  // Model-local functions by (domain, name), and the name each body Constant is indexed under.
  std::map<std::pair<std::string, std::string>, onnx::FunctionProto*> functions_;
  std::map<std::pair<const onnx::FunctionProto*, std::string>, std::string> function_constants_;
  std::deque<onnx::NodeProto> inlined_;  // the copies of function bodies (stable addresses)
  std::unordered_map<const onnx::NodeProto*, const onnx::FunctionProto*> function_of_;
  std::unordered_map<const onnx::FunctionProto*, int> calls_;
  std::vector<const onnx::FunctionProto*> expanding_;  // the calls being inlined, outermost first
  std::unordered_set<std::string> taken_;              // the graphs' names and those given to inlined values
  std::vector<std::string> warnings_;

  mutable std::once_flag consumers_built_;
  mutable std::unordered_map<std::string, std::vector<Consumer>> consumers_;
};

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_GRAPH_INDEX_H_
