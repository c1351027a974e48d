#include "onnx_reinit/init/untie.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/graph_index.h"
#include "onnx_reinit/base/limits.h"
#include "onnx_reinit/policy.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/tensor_data.h"
#include "onnx_reinit/graph/view_trace.h"

namespace onnx_reinit {
namespace {

std::string UniqueName(const std::string& base, std::unordered_set<std::string>& names) {
  std::string name = base;
  for (int k = 2; names.count(name); ++k) name = absl::StrCat(base, ".", k);
  names.insert(name);
  return name;
}

// Where a constant is stored: the graph holding the initializer, or the Constant node and its graph.
struct Owner {
  onnx::GraphProto* graph = nullptr;
  int initializer = -1;
  int node = -1;
};

bool FindOwner(onnx::GraphProto& graph, const onnx::TensorProto* tensor, Owner& owner) {
  for (int k = 0; k < graph.initializer_size(); ++k) {
    if (&graph.initializer(k) == tensor) {
      owner = Owner{&graph, k, -1};
      return true;
    }
  }
  for (int n = 0; n < graph.node_size(); ++n) {
    onnx::NodeProto& node = *graph.mutable_node(n);
    for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
      if (attribute.has_t() && &attribute.t() == tensor) {
        owner = Owner{&graph, -1, n};
        return true;
      }
      if (attribute.has_g() && FindOwner(*attribute.mutable_g(), tensor, owner)) return true;
      for (onnx::GraphProto& subgraph : *attribute.mutable_graphs()) {
        if (FindOwner(subgraph, tensor, owner)) return true;
      }
    }
  }
  return false;
}

// Adds the copy of the stored constant `use` under `name`, beside the original.
void AddCopy(onnx::ModelProto& model, const TensorUse& use, const std::string& name) {
  Owner owner;
  if (!FindOwner(*model.mutable_graph(), use.tensor, owner)) return;
  onnx::GraphProto& graph = *owner.graph;
  if (owner.initializer >= 0) {
    onnx::TensorProto& copy = *graph.add_initializer();
    copy = graph.initializer(owner.initializer);
    copy.set_name(name);
    for (int k = 0, inputs = graph.input_size(); k < inputs; ++k) {
      if (graph.input(k).name() != use.name) continue;
      onnx::ValueInfoProto& input = *graph.add_input();
      input = graph.input(k);
      input.set_name(name);
      break;
    }
    return;
  }
  onnx::NodeProto& copy = *graph.add_node();
  copy = graph.node(owner.node);
  copy.set_output(0, name);
  if (!copy.name().empty()) copy.set_name(name);
  // Right after the original, so that the graph stays topologically sorted.
  for (int k = graph.node_size() - 1; k > owner.node + 1; --k) graph.mutable_node()->SwapElements(k, k - 1);
}

// What the policy writes for one reading, as a comparable string.
std::string PlanSignature(const TensorUse& reading, const Policy& policy) {
  if (reading.fixed || reading.role == Role::kQuantized) return "unchanged";
  absl::StatusOr<TensorPlan> plan = PlanTensor(reading, policy);
  if (!plan.ok()) return "";  // joins the winner: the error, if any, comes with the winner's plan
  if (plan->regions.empty()) return "unchanged";
  std::string signature = plan->scheme;
  for (const PlannedRegion& region : plan->regions) {
    absl::StrAppend(&signature, "|", region.begin, "-", region.end, ":", region.distribution.SerializeAsString());
  }
  return signature;
}

std::string ReaderName(const onnx::NodeProto& node) { return node.name().empty() ? node.op_type() : node.name(); }

// A node input: the node and the input's slot.
using NodeInput = std::pair<const onnx::NodeProto*, int>;

// The node inputs that name `source` on the way to input `i` of `node`: that input itself, or the
// inputs of the ops that pass the source on to it (view_trace.h).
void CollectEntries(const GraphIndex& index, ViewTracer& tracer, const onnx::NodeProto& node, int i,
                    const std::string& source, int depth, std::set<NodeInput>& entries) {
  const std::string& value = node.input(i);
  if (value == source) {
    entries.insert({&node, i});
    return;
  }
  const onnx::NodeProto* producer = index.Producer(value);
  if (producer == nullptr || depth > kMaxViewChainDepth || tracer.Trace(value) == nullptr) return;
  // Only the data inputs pass elements on: every input of a Concat, input 0 of the others.
  const int data_inputs = producer->op_type() == "Concat" ? producer->input_size() : 1;
  for (int k = 0; k < data_inputs && k < producer->input_size(); ++k) {
    CollectEntries(index, tracer, *producer, k, source, depth + 1, entries);
  }
}

// Why the tensor is not split although its readers need different values, or "" when it can be:
// every element holds the same value, which is what an exporter merges. Two learned tensors are
// equal only when they are one tensor shared on purpose (tied weights).
std::string WhyTied(onnx::TensorProto& tensor, const std::string& name,
                    const DetachedPayloads& payloads = DetachedPayloads()) {
  absl::StatusOr<TensorValues> values = BindValues(tensor, name, payloads);
  if (!values.ok()) return absl::StrCat("its values cannot be read in memory: ", values.status().message());
  for (int64_t k = 1; k < values->size(); ++k) {
    if (values->Read(k) != values->Read(0)) {
      return "its values differ from element to element, so its readers share one learned tensor on purpose "
             "(tied weights), not constants the exporter merged";
    }
  }
  return "";
}

// Why the tensor cannot be untied where model-local functions are involved, or "": a constant in a
// function's body is shared by all its calls, and the nodes of inlined bodies are copies
// (graph_index.h) whose inputs cannot be rewired.
std::string WhyTiedByFunction(const GraphIndex& index, const std::string& name,
                              const std::vector<std::set<NodeInput>>& entries) {
  if (const onnx::FunctionProto* function = index.FindConstant(name)->function) {
    return absl::StrFormat("it is a constant in the body of function '%s', which all its calls share",
                           function->name());
  }
  for (const std::set<NodeInput>& group : entries) {
    for (const NodeInput& entry : group) {
      if (const onnx::FunctionProto* function = index.FunctionOf(entry.first)) {
        return absl::StrFormat("it is passed to function '%s' and read inside (by %s), whose body all its calls share",
                               function->name(), entry.first->name());
      }
    }
  }
  return "";
}

// The readings of every constant, by tensor.
std::map<const onnx::TensorProto*, std::vector<const TensorUse*>> ReadingsByTensor(const GraphAnalysis& analysis) {
  std::map<const onnx::TensorProto*, std::vector<const TensorUse*>> readings;
  for (const TensorUse& reading : analysis.readings) readings[reading.tensor].push_back(&reading);
  return readings;
}

bool MayNeedCopies(const TensorUse& use, size_t readings) {
  return readings >= 2 && use.role != Role::kOther && use.role != Role::kQuantized;
}

// "bias of Conv '/stem/Conv' (fan_in 12)", "... and 2 like it" when a group has more readers.
std::string DescribeGroup(const std::vector<const TensorUse*>& group) {
  const TensorUse& first = *group.front();
  std::string text = absl::StrFormat("%s of %s", RoleName(first.role), DescribeNode(*first.reader));
  if (first.fans && first.fans->fan_in > 0) absl::StrAppend(&text, " (fan_in ", first.fans->fan_in, ")");
  if (group.size() > 1) absl::StrAppend(&text, absl::StrFormat(" and %d like it", group.size() - 1));
  return text;
}

}  // namespace

std::vector<std::vector<const TensorUse*>> GroupByValues(const TensorUse& use,
                                                         const std::vector<const TensorUse*>& readings,
                                                         const Policy& policy) {
  std::vector<std::string> signatures;
  std::vector<std::vector<const TensorUse*>> groups;
  // The winner's signature first, so that its group keeps the tensor.
  for (const TensorUse* reading : readings) {
    if (reading->reader == use.reader && reading->input_index == use.input_index) {
      signatures.push_back(PlanSignature(*reading, policy));
      groups.emplace_back();
      break;
    }
  }
  for (const TensorUse* reading : readings) {
    std::string signature = PlanSignature(*reading, policy);
    if (signature.empty() && !signatures.empty()) signature = signatures.front();
    const size_t g = std::find(signatures.begin(), signatures.end(), signature) - signatures.begin();
    if (g == signatures.size()) {
      signatures.push_back(signature);
      groups.emplace_back();
    }
    groups[g].push_back(reading);
  }
  return groups;
}

std::vector<std::string> DisagreeingReaderWarnings(const GraphAnalysis& analysis, const Policy& policy,
                                                   const DetachedPayloads& payloads) {
  std::vector<std::string> warnings;
  auto readings = ReadingsByTensor(analysis);
  for (const TensorUse& use : analysis.tensors) {
    const std::vector<const TensorUse*>& uses = readings[use.tensor];
    if (!MayNeedCopies(use, uses.size())) continue;
    const auto groups = GroupByValues(use, uses, policy);
    if (groups.size() < 2) continue;
    std::vector<std::string> described;
    for (const auto& group : groups) described.push_back(DescribeGroup(group));
    std::string warning = absl::StrFormat(
        "'%s' is read by %d nodes that need %d different values (as %s); initialized once, as the first", use.name,
        uses.size(), groups.size(), absl::StrJoin(described, "; as "));
    if (WhyTied(*use.tensor, use.name, payloads).empty() && WhyTiedByFunction(*analysis.index, use.name, {}).empty()) {
      absl::StrAppend(&warning, " (--untie gives each its own copy)");
    }
    warnings.push_back(std::move(warning));
  }
  return warnings;
}

UntieResult UntieTensors(onnx::ModelProto& model, const ReinitOptions& options) {
  const GraphAnalysis analysis = AnalyzeGraph(model, options.analysis);
  const GraphIndex& index = *analysis.index;
  ViewTracer tracer(index);
  auto readings = ReadingsByTensor(analysis);

  UntieResult result;
  std::unordered_set<std::string> names;
  CollectNames(model.graph(), names);
  for (const TensorUse& use : analysis.tensors) {
    const std::vector<const TensorUse*>& uses = readings[use.tensor];
    if (!MayNeedCopies(use, uses.size())) continue;
    const auto groups = GroupByValues(use, uses, options.policy);
    if (groups.size() < 2) continue;

    // Each node input that names the tensor must serve one group only.
    std::vector<std::set<NodeInput>> entries(groups.size());
    std::map<NodeInput, size_t> entry_group;
    const onnx::NodeProto* shared = nullptr;
    for (size_t g = 0; g < groups.size(); ++g) {
      for (const TensorUse* reading : groups[g]) {
        CollectEntries(index, tracer, *reading->reader, reading->input_index, use.name, 0, entries[g]);
      }
      for (const NodeInput& entry : entries[g]) {
        auto [at, inserted] = entry_group.emplace(entry, g);
        if (!inserted && at->second != g && shared == nullptr) shared = entry.first;
      }
    }
    std::string why = WhyTiedByFunction(index, use.name, entries);
    if (why.empty()) why = WhyTied(*use.tensor, use.name);
    if (!why.empty()) {
      result.warnings.push_back(absl::StrFormat("'%s' stays tied: %s", use.name, why));
      continue;
    }
    if (shared != nullptr) {
      result.warnings.push_back(
          absl::StrFormat("'%s' stays tied: readers that need different values read it through the same node, %s '%s'",
                          use.name, shared->op_type(), shared->name()));
      continue;
    }

    for (size_t g = 1; g < groups.size(); ++g) {
      const Role role = groups[g].front()->role;
      proto::UntiedCopy copy;
      copy.set_source(use.name);
      copy.set_name(UniqueName(absl::StrCat(use.name, ".", RoleName(role)), names));
      copy.set_role(std::string(RoleName(role)));
      AddCopy(model, use, copy.name());
      for (const TensorUse* reading : groups[g]) copy.add_readers(ReaderName(*reading->reader));
      for (const NodeInput& entry : entries[g]) {
        // The analysis holds const views of the model's nodes; `model` itself is ours to change.
        const_cast<onnx::NodeProto*>(entry.first)->set_input(entry.second, copy.name());
      }
      result.copies.push_back(std::move(copy));
    }
  }
  return result;
}

void AddUntied(const UntieResult& untied, proto::ReinitReport& report) {
  for (const proto::UntiedCopy& copy : untied.copies) *report.add_untied() = copy;
  for (const std::string& warning : untied.warnings) report.add_warnings(warning);
}

}  // namespace onnx_reinit
