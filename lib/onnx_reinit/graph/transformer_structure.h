// The transformer blocks of a graph, found from the graph's shape rather than from names, for the
// presets that initialize a layer by where it sits (init/preset.h).
//
// A residual Add is an Add(stream, branch) whose branch operand is computed from the stream
// operand and ends in a linear projection (a weight the reader sees as 2-D: MatMul, Gemm, a fused
// attention op), perhaps plus a bias. The branch is the nodes on the paths from stream to branch.
// A branch holding a Softmax or an attention op (OpSpec::attention) is an attention sublayer: its
// last projection is the attention output, and the projections before it are q, k and v, told
// apart by where they lead - the left operand of the score MatMul (whose output reaches the
// Softmax) is q, the right one k, the MatMul of the Softmax's output with the other operand v; a
// projection that leads to more than one of them, or a weight read by an attention op, is a packed
// q|k|v. Any other branch with a projection before its last is an MLP: its last projection is the
// down projection, the others are up (and gate) projections. An attention residual followed by an
// MLP residual is a block. Residual Adds that fit no block (a lone MLP residual, two attention
// sublayers in a row) make the structure doubtful: `doubt` says why, and presets apply no
// structural rule then.
//
// A positional table is a parameter (roles.h) added to an activation that an embedding Gather
// produced: a position embedding whose lookup the exporter folded into a constant.
#ifndef ONNX_REINIT_GRAPH_TRANSFORMER_STRUCTURE_H_
#define ONNX_REINIT_GRAPH_TRANSFORMER_STRUCTURE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/roles.h"

namespace onnx_reinit {

enum class Projection { kQuery, kKey, kValue, kPackedQkv, kAttentionOutput, kMlpUp, kMlpDown };

absl::string_view ProjectionName(Projection projection);  // "q", "k", "v", "qkv", "attention output", ...

struct TransformerBlock {
  const onnx::NodeProto* attention_residual = nullptr;  // the residual Add of the attention sublayer
  const onnx::NodeProto* mlp_residual = nullptr;        // of the MLP sublayer
};

// Where a weight sits: its projection and its block (index into TransformerStructure::blocks).
struct ProjectionSite {
  Projection projection = Projection::kMlpUp;
  int block = 0;
};

struct TransformerStructure {
  std::vector<const onnx::NodeProto*> residual_adds;  // in graph order
  std::vector<TransformerBlock> blocks;               // in graph order
  std::map<std::string, ProjectionSite> projections;  // by weight tensor name
  std::vector<std::string> positional_tables;         // parameters that are folded position tables
  std::string doubt;                                  // empty when the blocks were read with confidence; else why not

  // How many projections of this kind were found.
  int Count(Projection projection) const;
};

// Reads the structure of `analysis`'s graph (the main graph and inlined function bodies).
TransformerStructure FindTransformerStructure(const GraphAnalysis& analysis);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_GRAPH_TRANSFORMER_STRUCTURE_H_
