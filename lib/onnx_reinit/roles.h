// What each constant of a model is: the role of every floating-point initializer and Constant node
// value (weight, bias, norm parameter, embedding table, RNN weight, ...), found from the ops that
// read it, with the fans its role implies. Which input of which op gives which role is the op
// table's (op_table.h).
//
// A constant may reach its reader through ops that only select, assemble or re-view elements
// (Identity, Cast, Transpose, Reshape and its kin, DequantizeLinear, Slice, Split, Concat, Gather
// with constant indices: view_trace.h), and one view may be made of several constants (the pieces
// of an LSTM weight that PyTorch Slices per gate and Concats in ONNX's gate order). The role and
// fans of the reader apply to every constant its view is made of; `elements` maps the view back to
// each one's elements, so that the structure of the role (gate blocks) can be placed in them. A
// DequantizeLinear on the way makes it a quantized weight or bias (QDQ): rewritten only by
// --requantize (requantize.h).
// Fans are computed on the shape the reader sees (see fan.h). The constants of subgraphs (If, Loop
// and Scan bodies) are searched too; a subgraph may read a constant of an enclosing graph.
// Calls of model-local functions are read as their inlined bodies (graph_index.h): a weight passed
// to a call gets the role of the op in the body that reads it (the reader is then the body node's
// copy, named "CALL/NODE"), and a Constant in a body is one tensor, "FUNCTION::OUTPUT", that every
// call reads: calls that would give it different roles or fans are warned about as any other
// readers are, and a function called more than once gets a warning that its calls share them.
//
// A constant with several readers gets one role, by priority: embedding > weight > RNN roles >
// bias > norm parameters > parameter. A tensor that is both an embedding table and a (tied) output
// projection is therefore initialized once, as an embedding; readers of one role that disagree on
// the fans are resolved in favour of the first in graph order. Every reading is kept too
// (GraphAnalysis::readings): untie.h tells which readers need different values under a policy
// (the planning warns about those, once per tensor) and gives them copies.
//
// A `parameter` is a learned tensor without a layer around it - a class token, a positional
// embedding, a layer scale: a float constant combined elementwise with an activation (Add, Mul,
// Sub, Div, Concat, Where, or an Expand whose result is), that is not a scalar (see
// IsBroadcastScalar) and not an attention mask (only 0 and values <= -1e4, such as -inf).
// Constants that another role claims there (a MatMul's bias, a decomposed LayerNorm's scale and
// bias) keep that role.
#ifndef ONNX_REINIT_ROLES_H_
#define ONNX_REINIT_ROLES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/element_map.h"
#include "onnx_reinit/fan.h"
#include "onnx_reinit/graph_index.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

enum class Role {
  kWeight,         // Conv, ConvTranspose, Gemm, MatMul weight
  kBias,           // Conv/ConvTranspose B, Gemm C, or a 1-D constant added to a MatMul's output
  kNormScale,      // BatchNormalization/LayerNormalization/InstanceNormalization/GroupNormalization
  kNormBias,       //   scale and bias, also of a LayerNorm (or RMSNorm scale) decomposed into ReduceMean/Pow/...
  kNormMean,       // BatchNormalization running mean
  kNormVar,        // BatchNormalization running variance
  kEmbedding,      // the table read by Gather (axis 0, computed indices)
  kRnnWeight,      // LSTM/GRU/RNN W [dirs, gates*H, input]
  kRnnRecurrence,  // LSTM/GRU/RNN R [dirs, gates*H, H]
  kRnnBias,        // LSTM/GRU/RNN B [dirs, 2*gates*H]
  kParameter,      // a learned tensor combined elementwise with an activation (see above)
  kQuantized,      // an integer weight or bias behind DequantizeLinear (QDQ), or read by an op that
                   // reads integers (op_table.h: QOperator and block-quantized inputs, e.g.
                   // QLinearConv, MatMulNBits): rewritten only by --requantize
  kOther,          // anything else: left unchanged, with a reason
};

absl::string_view RoleName(Role role);  // "weight", "bias", "norm_scale", ..., "other"
std::optional<Role> ParseRole(absl::string_view name);

// The gate layout of an LSTM (gates i, o, f, c), GRU (z, r, h) or RNN (one gate) tensor.
struct RnnLayout {
  int gates = 1;
  int64_t hidden_size = 0;
  int64_t directions = 1;
};

// One of the parts of a tensor that are each their own layer (the Q, K and V blocks of a fused
// attention weight: op_table.h): its extent along TensorUse::parts_axis of the view, and its fans.
struct TensorPart {
  int64_t begin = 0, size = 0;
  Fans fans;
};

// One constant and what it is.
struct TensorUse {
  onnx::TensorProto* tensor = nullptr;  // points into the analyzed model
  std::string name;                     // initializer name, or the Constant node's output
  TensorSource source = TensorSource::kInitializer;
  Role role = Role::kOther;
  const onnx::NodeProto* reader = nullptr;      // the reader that gave the role (or the first reader)
  int input_index = -1;                         // that reader's input slot
  std::vector<const onnx::NodeProto*> readers;  // every node that reads it, in graph order
  std::string via;                  // the ops between tensor and reader: "Transpose", "Slice -> Concat -> Unsqueeze"
  std::vector<int64_t> view_shape;  // the shape the reader sees
  // Which element of which stored tensor each element of the reader's view is (element_map.h),
  // when known; this tensor is elements->sources[map_source]. Null for a tensor built by hand.
  std::shared_ptr<const ElementMap> elements;
  int map_source = 0;
  // Weights and embeddings: their fans. RNN weights: the fans of one gate block, (input, H) for W
  // and (H, H) for R. Biases: fan_in is that of the weight they belong to, 0 when unknown.
  std::optional<Fans> fans;
  int64_t groups = 1;            // Conv weights: the group attribute
  std::optional<RnnLayout> rnn;  // RNN roles
  // Weights and biases made of parts (more than one): each part's extent and fans; `fans` are the
  // first part's. A scheme is drawn per part when the parts' fans give different distributions.
  std::vector<TensorPart> parts;
  int parts_axis = 0;  // of view_shape, >= 0
  // kNormScale: the w of an offset scale x * (1 + w) (Gemma's RMSNorm: graph_patterns.h), whose
  // default is 0, so that the effective scale is 1.
  bool offset_scale = false;
  bool overridable = false;  // also a graph input: a default that a runtime may replace
  // kOther: known not to be learned - a scalar of an op (an epsilon, an exponent), an RNN initial
  // state, an attention mask, a quantization parameter. No rule and no selection changes it.
  bool fixed = false;
  // kOther, not fixed: read by an op the op table does not know (op_table.h), so nobody judged it.
  // An op: rule for its op reaches it; --strict refuses it unless a rule covers it.
  bool unknown_op = false;
  // kQuantized: the DequantizeLinear between tensor and reader (QDQ); null for the QOperator ops,
  // which read the integers themselves. `fans` are those of the reader's weight (for a bias: its
  // fan_in), as for a float weight.
  const onnx::NodeProto* dequantize = nullptr;
  std::string reason;  // kOther and kQuantized: why it is left unchanged
};

// Whether a tensor of this shape is a scalar: one value, of any rank ([], [1], [1, 1, 1]). Such
// constants parametrize their ops (an epsilon, an exponent); they are never `parameter`, and a
// scalar without a role is fixed. A vector of a few values ([C, 1, 1]) may be learned: it is not.
bool IsBroadcastScalar(absl::Span<const int64_t> shape);

struct GraphAnalysis {
  // Every floating-point constant, and every quantized weight, each once, in the graph order of
  // its first reader (constants that no node reads last, in declaration order).
  std::vector<TensorUse> tensors;
  // Every reading of a constant (a reader's input that reaches it), with the role that reader
  // alone gives, in graph order.
  std::vector<TensorUse> readings;
  std::vector<std::string> warnings;  // tied tensors, disagreeing fans, layouts that fit no rule
  // Readings that give a learned role (weight, bias, norm, embedding, RNN, parameter) to a constant
  // of a data type this build does not know (FLOAT8*, INT4, ...: see IsKnownDataType). Apart from
  // `tensors`, which holds only what onnx-reinit can read; PlanReinitialization refuses those it
  // would rewrite.
  std::vector<TensorUse> unreadable;
  // The index the analysis read: the readers inside function bodies point into it.
  std::shared_ptr<const GraphIndex> index;
};

struct AnalysisOptions {
  // ConvTranspose W [C, M/group, k...]: false reads fans as PyTorch does (fan_in = M/group * rf,
  // fan_out = C * rf); true uses the input-channel convention (fan_in = C/group * rf,
  // fan_out = M/group * rf).
  bool convtranspose_input_channel_fans = false;
};

// A constant of a model: an initializer or a Constant node's value, in any graph.
struct GraphConstant {
  onnx::TensorProto* tensor = nullptr;  // points into the model passed to ListConstants
  std::string name;
  TensorSource source = TensorSource::kInitializer;
};

// Every constant of the model's graph and subgraphs, of any data type, in declaration order.
std::vector<GraphConstant> ListConstants(onnx::ModelProto& model);

// Analyzes the model's graph and its subgraphs. The pointers in the result stay valid while
// `model` is alive and its graphs' initializer and node lists are not resized. Values are read (to
// tell attention masks from parameters) from `payloads` for the tensors it holds.
GraphAnalysis AnalyzeGraph(onnx::ModelProto& model, const AnalysisOptions& options = {},
                           const DetachedPayloads& payloads = DetachedPayloads());

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_ROLES_H_
