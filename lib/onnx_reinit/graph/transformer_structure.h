// The transformer blocks of a graph, found from the graph's shape rather than from names, for the
// presets that initialize a layer by where it sits (init/preset.h).
//
// A residual Add is an Add(stream, branch) whose branch operand is computed from the stream
// operand and ends in a linear projection (a weight the reader sees as 2-D: MatMul, Gemm, a fused
// attention op), perhaps plus a bias; an op that adds inputs 0 and 1 before normalizing (OpSpec::
// residual_sum: ONNX Runtime's SkipLayerNormalization, SkipSimplifiedLayerNormalization) is one too. The branch is the
// nodes on the paths from stream to branch. A branch holding a Softmax or an attention op (OpSpec::attention) is an
// attention sublayer: its last projection is the attention output, and the projections before it are q, k and v, told
// apart by where they lead - the left operand of the score MatMul (whose output reaches the
// Softmax) is q, the right one k, the MatMul of the Softmax's output with the other operand v; a
// projection that leads to more than one of them, or a weight read by an attention op, is a packed
// q|k|v. Any other branch with a projection before its last is an MLP: its last projection is the
// down projection, the others are up (and gate) projections. An attention residual followed by an
// MLP residual is a block; an encoder-decoder's decoder block has a cross-attention residual between
// them, an attention whose k and v are not computed from the stream (they read the encoder's
// output): its k and v are the projections those slots come from, outside the branch. Residual
// Adds that fit no block (a lone MLP residual, two self-attention sublayers in a row) make the
// structure doubtful: `doubt` says why, and presets apply no structural rule then.
//
// Each attention's head split is read from the graph: the Reshape between q's projection and the
// score MatMul, whose constant target shape ends in [n_heads, head_size] (checked against q's
// width). An embedding looked up on the way to an attention's scores (not through a projection)
// is a relative position bias (T5's relative_attention_bias). A weight outside the blocks that maps
// an embedding's width to its row count is an LM head (untied, or a folded copy of the tied table).
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
  const onnx::NodeProto* attention_residual = nullptr;        // the residual Add of the attention sublayer
  const onnx::NodeProto* cross_attention_residual = nullptr;  // of a decoder's cross-attention, or null
  const onnx::NodeProto* mlp_residual = nullptr;              // of the MLP sublayer
};

// Where a weight sits: its projection and its block (index into TransformerStructure::blocks), with
// the widths T5's factors read.
struct ProjectionSite {
  Projection projection = Projection::kMlpUp;
  int block = 0;
  bool cross_attention = false;  // q, k, v or output of a cross-attention
  int64_t fan_in = 0;            // the weight's input width (d_model for q, k, v and MLP up; d_ff for down)
  // Attention projections: the attention's head split, 0 when the graph does not show it.
  int64_t heads = 0;
  int64_t head_size = 0;
};

struct TransformerStructure {
  std::vector<const onnx::NodeProto*> residual_adds;  // in graph order
  std::vector<TransformerBlock> blocks;               // in graph order
  std::map<std::string, ProjectionSite> projections;  // by weight tensor name
  std::vector<std::string> positional_tables;         // parameters that are folded position tables
  // Embeddings looked up into an attention's scores, with the d_model of the first attention each feeds.
  std::map<std::string, int64_t> position_biases;
  std::vector<std::string> lm_heads;  // weights outside the blocks shaped [d_model, vocabulary] of an embedding
  std::string doubt;                  // empty when the blocks were read with confidence; else why not

  // How many projections of this kind were found.
  int Count(Projection projection) const;
};

// Reads the structure of `analysis`'s graph (the main graph and inlined function bodies).
TransformerStructure FindTransformerStructure(const GraphAnalysis& analysis);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_GRAPH_TRANSFORMER_STRUCTURE_H_
