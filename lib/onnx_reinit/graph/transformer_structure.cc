#include "onnx_reinit/graph/transformer_structure.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_format.h"
#include "onnx_reinit/graph/view_trace.h"
#include "onnx_reinit/graph_index.h"
#include "onnx_reinit/op_table.h"

namespace onnx_reinit {
namespace {

using NodeSet = std::unordered_set<const onnx::NodeProto*>;

// A residual Add and what its branch is.
struct Residual {
  const onnx::NodeProto* add = nullptr;
  const onnx::NodeProto* last = nullptr;  // the branch's last projection
  NodeSet branch;                         // the nodes on the paths from stream to branch
  bool attention = false;
  std::vector<std::string> slots;  // attention: the values q, k and v are (see AttentionSlots)
  bool cross = false;              // attention whose k is not computed from the stream
};

// The op between a projection and the head split on q's way to the scores: views and scalings.
bool PassesQueryOn(const onnx::NodeProto& node) {
  static const std::set<std::string> kOps = {"Transpose", "Identity", "Mul", "Div", "Squeeze", "Unsqueeze"};
  return IsDefaultDomain(node) && kOps.count(node.op_type()) > 0;
}

class Finder {
 public:
  explicit Finder(const GraphAnalysis& analysis)
      : analysis_(analysis), index_(*analysis.index), tracer_(*analysis.index) {
    for (const TensorUse& use : analysis.readings) {
      if (use.reader == nullptr) continue;
      constant_inputs_.insert({use.reader, use.input_index});
      if (use.role == Role::kWeight && use.view_shape.size() == 2) linear_[use.reader] = &use;
      if (use.role == Role::kBias) bias_inputs_.insert({use.reader, use.input_index});
      if (use.role == Role::kEmbedding) embedding_tables_[use.reader] = use.name;
    }
    for (const onnx::NodeProto* node : index_.nodes()) {
      for (const std::string& input : node->input()) consumers_[input].push_back(node);
    }
  }

  TransformerStructure Find() {
    TransformerStructure structure;
    std::vector<Residual> residuals;
    for (const onnx::NodeProto* node : index_.nodes()) {
      std::optional<Residual> residual = ReadResidual(*node);
      if (residual) residuals.push_back(std::move(*residual));
    }
    const Residual* attention = nullptr;  // the open block's attention, waiting for its MLP
    const Residual* cross = nullptr;      // and its cross-attention
    auto doubt = [&](std::string why) {
      if (structure.doubt.empty()) structure.doubt = std::move(why);
    };
    for (const Residual& residual : residuals) {
      structure.residual_adds.push_back(residual.add);
      if (residual.attention && attention != nullptr && residual.cross && cross == nullptr) {
        cross = &residual;
      } else if (residual.attention) {
        if (attention != nullptr) {
          doubt(absl::StrFormat("two self-attention sublayers in a row (%s, then %s)", DescribeNode(*attention->add),
                                DescribeNode(*residual.add)));
        }
        attention = &residual;
        cross = nullptr;
      } else if (attention == nullptr) {
        doubt(
            absl::StrFormat("the MLP sublayer of %s has no attention sublayer before it", DescribeNode(*residual.add)));
      } else {
        const int block = static_cast<int>(structure.blocks.size());
        structure.blocks.push_back(TransformerBlock{attention->add, cross ? cross->add : nullptr, residual.add});
        AddAttentionProjections(*attention, block, structure);
        if (cross != nullptr) AddAttentionProjections(*cross, block, structure);
        AddMlpProjections(residual, block, structure);
        attention = cross = nullptr;
      }
    }
    if (attention != nullptr) {
      doubt(
          absl::StrFormat("the attention sublayer of %s has no MLP sublayer after it", DescribeNode(*attention->add)));
    }
    if (residuals.empty()) {
      structure.doubt = "no residual Add whose branch ends in a linear projection";
    }
    FindPositionalTables(structure);
    FindLmHeads(structure);
    return structure;
  }

 private:
  bool IsConstantInput(const onnx::NodeProto& node, int k) const {
    return constant_inputs_.count({&node, k}) > 0 || index_.FindConstant(node.input(k)) != nullptr;
  }

  bool IsAttentionOp(const onnx::NodeProto& node) const {
    const OpSpec* spec = FindOp(node.domain(), node.op_type(), index_.OpsetVersion(node));
    return spec != nullptr && spec->attention;
  }

  // The linear projection that computes `value`, perhaps plus a bias, perhaps re-viewed (PyTorch's
  // MultiheadAttention reshapes and transposes its out_proj Gemm's output back); null if none.
  const onnx::NodeProto* LastProjection(const std::string& value) const {
    const onnx::NodeProto* producer = index_.Producer(value);
    while (producer != nullptr && producer->input_size() >= 1 && IsDefaultDomain(*producer)) {
      int next = -1;
      if (producer->op_type() == "Add" && producer->input_size() == 2) {
        next = bias_inputs_.count({producer, 1}) ? 0 : bias_inputs_.count({producer, 0}) ? 1 : -1;
      } else if (producer->op_type() == "Reshape" || producer->op_type() == "Transpose" ||
                 producer->op_type() == "Identity" || producer->op_type() == "Squeeze" ||
                 producer->op_type() == "Unsqueeze") {
        next = 0;
      }
      if (next < 0) break;
      producer = index_.Producer(producer->input(next));
    }
    return producer != nullptr && linear_.count(producer) ? producer : nullptr;
  }

  // The nodes on the paths from value `from` to value `to`: those reached walking back from `to`
  // without passing `from`, that `from` reaches. Empty when `to` is not computed from `from`.
  NodeSet PathNodes(const std::string& from, const std::string& to) const {
    NodeSet before;
    std::vector<std::string> values = {to};
    std::unordered_set<std::string> seen = {to};
    bool reached = false;
    while (!values.empty()) {
      const std::string value = std::move(values.back());
      values.pop_back();
      if (value == from) {
        reached = true;
        continue;
      }
      const onnx::NodeProto* producer = index_.Producer(value);
      if (producer == nullptr || !before.insert(producer).second) continue;
      for (const std::string& input : producer->input()) {
        if (!input.empty() && seen.insert(input).second) values.push_back(input);
      }
    }
    if (!reached) return {};
    NodeSet path;
    std::vector<const onnx::NodeProto*> nodes;
    auto visit_readers = [&](const std::string& value) {
      auto it = consumers_.find(value);
      if (it == consumers_.end()) return;
      for (const onnx::NodeProto* reader : it->second) {
        if (before.count(reader) && path.insert(reader).second) nodes.push_back(reader);
      }
    };
    visit_readers(from);
    while (!nodes.empty()) {
      const onnx::NodeProto* node = nodes.back();
      nodes.pop_back();
      for (const std::string& output : node->output()) visit_readers(output);
    }
    return path;
  }

  // An Add of two values, or an op that adds its first two inputs before normalizing (op table).
  bool IsResidualSum(const onnx::NodeProto& node) const {
    if (node.op_type() == "Add" && IsDefaultDomain(node)) return node.input_size() == 2;
    const OpSpec* spec = FindOp(node.domain(), node.op_type(), index_.OpsetVersion(node));
    return spec != nullptr && spec->residual_sum && node.input_size() >= 2;
  }

  std::optional<Residual> ReadResidual(const onnx::NodeProto& add) const {
    if (!IsResidualSum(add)) return std::nullopt;
    if (IsConstantInput(add, 0) || IsConstantInput(add, 1)) return std::nullopt;
    for (int k = 0; k < 2; ++k) {
      const onnx::NodeProto* last = LastProjection(add.input(k));
      if (last == nullptr) continue;
      NodeSet branch = PathNodes(add.input(1 - k), add.input(k));
      if (branch.empty()) continue;
      Residual residual;
      residual.add = &add;
      residual.last = last;
      residual.branch = std::move(branch);
      bool projections_before = false;
      for (const onnx::NodeProto* node : residual.branch) {
        if ((node->op_type() == "Softmax" && IsDefaultDomain(*node)) || IsAttentionOp(*node)) residual.attention = true;
        if (node != last && linear_.count(node)) projections_before = true;
      }
      if (residual.attention) {
        residual.slots = AttentionSlots(residual);
        // k read from a projection of something other than the stream (the encoder's output)
        residual.cross = residual.slots.size() == 3 && Ancestors(residual.slots[1], residual.branch).empty() &&
                         LastProjection(residual.slots[1]) != nullptr;
      }
      if (residual.attention || projections_before) return residual;
    }
    return std::nullopt;
  }

  // The nodes of `within` that `value` is computed from (walking back), or that `node` reaches
  // (walking forward), the start included.
  NodeSet Ancestors(const std::string& value, const NodeSet& within) const {
    NodeSet found;
    std::vector<std::string> values = {value};
    while (!values.empty()) {
      const onnx::NodeProto* producer = index_.Producer(values.back());
      values.pop_back();
      if (producer == nullptr || !within.count(producer) || !found.insert(producer).second) continue;
      for (const std::string& input : producer->input()) values.push_back(input);
    }
    return found;
  }
  NodeSet Descendants(const onnx::NodeProto& node, const NodeSet& within) const {
    NodeSet found = {&node};
    std::vector<const onnx::NodeProto*> nodes = {&node};
    while (!nodes.empty()) {
      const onnx::NodeProto* current = nodes.back();
      nodes.pop_back();
      for (const std::string& output : current->output()) {
        auto it = consumers_.find(output);
        if (it == consumers_.end()) continue;
        for (const onnx::NodeProto* reader : it->second) {
          if (within.count(reader) && found.insert(reader).second) nodes.push_back(reader);
        }
      }
    }
    return found;
  }

  bool IsActivationMatMul(const onnx::NodeProto& node) const {
    return (node.op_type() == "MatMul" || node.op_type() == "FusedMatMul") && node.input_size() == 2 &&
           !IsConstantInput(node, 0) && !IsConstantInput(node, 1);
  }

  // The values that q, k and v are (in that order) in an attention branch: an attention op's
  // first three inputs, or the operands of the score MatMul and the v operand of the MatMul after
  // the Softmax. Empty when the branch has neither.
  std::vector<std::string> AttentionSlots(const Residual& residual) const {
    for (const onnx::NodeProto* node : residual.branch) {
      if (IsAttentionOp(*node) && node->input_size() >= 3) return {node->input(0), node->input(1), node->input(2)};
    }
    const onnx::NodeProto* softmax = nullptr;
    for (const onnx::NodeProto* node : residual.branch) {
      if (node->op_type() == "Softmax") softmax = node;
    }
    if (softmax == nullptr) return {};
    const NodeSet before = Ancestors(softmax->input(0), residual.branch);
    const NodeSet after = Descendants(*softmax, residual.branch);
    const onnx::NodeProto *scores = nullptr, *weighted = nullptr;
    for (const onnx::NodeProto* node : residual.branch) {
      if (!IsActivationMatMul(*node)) continue;
      if (before.count(node)) scores = node;
      if (after.count(node)) weighted = node;
    }
    if (scores == nullptr || weighted == nullptr) return {};
    const onnx::NodeProto* left = index_.Producer(weighted->input(0));
    const int v = left != nullptr && after.count(left) ? 1 : 0;
    return {scores->input(0), scores->input(1), weighted->input(v)};
  }

  // A site of `block` for weight-reading node `node`, with its input width.
  ProjectionSite Site(const onnx::NodeProto& node, Projection projection, int block) const {
    const TensorUse& weight = *linear_.at(&node);
    return ProjectionSite{projection, block, false, weight.fans ? weight.fans->fan_in : 0};
  }

  // The attention's output, q, k and v projections: those in the branch by the slots they lead to
  // (more than one: packed), and for a cross-attention the k and v projections outside the branch.
  void AddAttentionProjections(const Residual& residual, int block, TransformerStructure& structure) {
    std::vector<std::pair<const onnx::NodeProto*, Projection>> found = {{residual.last, Projection::kAttentionOutput}};
    std::vector<NodeSet> feeding;
    for (const std::string& slot : residual.slots) feeding.push_back(Ancestors(slot, residual.branch));
    static constexpr Projection kBySlot[] = {Projection::kQuery, Projection::kKey, Projection::kValue};
    for (const onnx::NodeProto* node : residual.branch) {
      if (node == residual.last || !linear_.count(node)) continue;
      std::vector<int> reached;
      for (size_t s = 0; s < feeding.size(); ++s) {
        if (feeding[s].count(node)) reached.push_back(static_cast<int>(s));
      }
      if (IsAttentionOp(*node) || reached.size() > 1) {
        found.push_back({node, Projection::kPackedQkv});
      } else if (reached.size() == 1) {
        found.push_back({node, kBySlot[reached.front()]});
      }
    }
    for (int s = 1; residual.cross && s < 3; ++s) {
      if (const onnx::NodeProto* outside = LastProjection(residual.slots[s])) found.push_back({outside, kBySlot[s]});
    }
    const auto [heads, head_size] = HeadSplit(residual, found);
    int64_t d_model = 0;
    for (const auto& [node, projection] : found) {
      ProjectionSite site = Site(*node, projection, block);
      site.cross_attention = residual.cross;
      site.heads = heads;
      site.head_size = head_size;
      if (projection == Projection::kQuery) d_model = site.fan_in;
      structure.projections[linear_.at(node)->name] = site;
    }
    for (const std::string& table : PositionBiases(residual)) structure.position_biases.emplace(table, d_model);
  }

  // The [n_heads, head_size] of the Reshape that splits q's projection into heads on its way to
  // the scores, when its target shape's last two entries are constant and their product is q's
  // width; {0, 0} otherwise.
  std::pair<int64_t, int64_t> HeadSplit(const Residual& residual,
                                        const std::vector<std::pair<const onnx::NodeProto*, Projection>>& found) {
    int64_t width = 0;
    for (const auto& [node, projection] : found) {
      const TensorUse& weight = *linear_.at(node);
      if (projection == Projection::kQuery && weight.fans) width = weight.fans->fan_out;
    }
    if (residual.slots.empty() || width == 0) return {0, 0};
    const onnx::NodeProto* node = index_.Producer(residual.slots[0]);
    for (int step = 0; node != nullptr && PassesQueryOn(*node) && step < 8; ++step) {
      node = index_.Producer(node->input(0));
    }
    if (node == nullptr || !IsDefaultDomain(*node) || node->op_type() != "Reshape" || node->input_size() < 2) {
      return {0, 0};
    }
    const std::vector<int64_t> tail = ShapeTail(node->input(1));
    if (tail.size() < 2 || tail[0] <= 0 || tail[1] <= 0 || tail[0] * tail[1] != width) return {0, 0};
    return {tail[0], tail[1]};
  }

  // The last two entries of a Reshape's target shape: the whole shape when constants fix it, else
  // the last two inputs of the Concat that assembles it (the leading ones may be computed).
  std::vector<int64_t> ShapeTail(const std::string& shape) {
    std::optional<std::vector<int64_t>> whole = tracer_.ConstantInts(shape);
    if (whole && whole->size() >= 2) return {(*whole)[whole->size() - 2], whole->back()};
    const onnx::NodeProto* concat = index_.Producer(shape);
    if (concat == nullptr || concat->op_type() != "Concat" || concat->input_size() < 2) return {};
    std::vector<int64_t> tail;
    for (int k = concat->input_size() - 2; k < concat->input_size(); ++k) {
      std::optional<std::vector<int64_t>> part = tracer_.ConstantInts(concat->input(k));
      if (!part || part->size() != 1) return {};
      tail.push_back(part->front());
    }
    return tail;
  }

  // The embedding tables looked up on the way to the scores' Softmax without a projection between:
  // relative position biases. Shapes only pass sizes on, and the score MatMul leads to q and k.
  std::vector<std::string> PositionBiases(const Residual& residual) const {
    std::vector<std::string> tables;
    for (const onnx::NodeProto* softmax : residual.branch) {
      if (softmax->op_type() != "Softmax" || !IsDefaultDomain(*softmax)) continue;
      std::vector<std::string> values = {softmax->input(0)};
      NodeSet seen;
      while (!values.empty()) {
        const onnx::NodeProto* producer = index_.Producer(values.back());
        values.pop_back();
        if (producer == nullptr || !seen.insert(producer).second) continue;
        if (auto table = embedding_tables_.find(producer); table != embedding_tables_.end()) {
          tables.push_back(table->second);
          continue;
        }
        if (linear_.count(producer) || IsActivationMatMul(*producer) || producer->op_type() == "Shape") continue;
        for (const std::string& input : producer->input()) {
          if (!input.empty()) values.push_back(input);
        }
      }
    }
    return tables;
  }

  void AddMlpProjections(const Residual& residual, int block, TransformerStructure& structure) const {
    for (const onnx::NodeProto* node : residual.branch) {
      auto weight = linear_.find(node);
      if (weight == linear_.end()) continue;
      structure.projections[weight->second->name] =
          Site(*node, node == residual.last ? Projection::kMlpDown : Projection::kMlpUp, block);
    }
  }

  // Whether `value` is an embedding Gather's output, or an Add of one (a sum of embeddings).
  bool IsEmbeddingSum(const std::string& value, int depth = 0) const {
    const onnx::NodeProto* producer = index_.Producer(value);
    if (producer == nullptr || depth > 4) return false;
    if (embedding_tables_.count(producer)) return true;
    if (producer->op_type() != "Add") return false;
    return std::any_of(producer->input().begin(), producer->input().end(),
                       [&](const std::string& input) { return IsEmbeddingSum(input, depth + 1); });
  }

  void FindPositionalTables(TransformerStructure& structure) const {
    for (const TensorUse& use : analysis_.tensors) {
      if (use.role != Role::kParameter || use.reader == nullptr || use.reader->op_type() != "Add" ||
          use.reader->input_size() != 2 || use.input_index < 0 || use.input_index > 1) {
        continue;
      }
      if (IsEmbeddingSum(use.reader->input(1 - use.input_index))) structure.positional_tables.push_back(use.name);
    }
  }

  // Weights outside the blocks whose [in, out] is an embedding table's [width, rows].
  void FindLmHeads(TransformerStructure& structure) const {
    std::set<std::pair<int64_t, int64_t>> tables;
    for (const TensorUse& use : analysis_.readings) {
      if (use.role == Role::kEmbedding && use.view_shape.size() == 2)
        tables.insert({use.view_shape[1], use.view_shape[0]});
    }
    std::set<std::string> found;
    for (const auto& [reader, weight] : linear_) {
      if (!weight->fans || structure.projections.count(weight->name) || found.count(weight->name)) continue;
      if (!tables.count({weight->fans->fan_in, weight->fans->fan_out})) continue;
      found.insert(weight->name);
    }
    structure.lm_heads.assign(found.begin(), found.end());
  }

  const GraphAnalysis& analysis_;
  const GraphIndex& index_;
  std::set<std::pair<const onnx::NodeProto*, int>> constant_inputs_, bias_inputs_;
  std::unordered_map<const onnx::NodeProto*, const TensorUse*> linear_;       // reader -> its 2-D weight
  std::unordered_map<const onnx::NodeProto*, std::string> embedding_tables_;  // embedding reader -> its table
  ViewTracer tracer_;
  std::unordered_map<std::string, std::vector<const onnx::NodeProto*>> consumers_;
};

}  // namespace

absl::string_view ProjectionName(Projection projection) {
  switch (projection) {
    case Projection::kQuery: return "q";
    case Projection::kKey: return "k";
    case Projection::kValue: return "v";
    case Projection::kPackedQkv: return "qkv";
    case Projection::kAttentionOutput: return "attention output";
    case Projection::kMlpUp: return "mlp up";
    case Projection::kMlpDown: return "mlp down";
  }
  return "";
}

int TransformerStructure::Count(Projection projection) const {
  return static_cast<int>(std::count_if(projections.begin(), projections.end(),
                                        [&](const auto& entry) { return entry.second.projection == projection; }));
}

TransformerStructure FindTransformerStructure(const GraphAnalysis& analysis) {
  if (analysis.index == nullptr) {
    TransformerStructure structure;
    structure.doubt = "the graph was not indexed";
    return structure;
  }
  return Finder(analysis).Find();
}

}  // namespace onnx_reinit
