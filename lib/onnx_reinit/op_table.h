// What onnx-reinit knows about ops: one declarative table, a row per op (domain, op type, opset
// range), naming each input that holds learned values, its role, the layout its fans are read
// from (fan.h), its parts (a fused QKV weight, RNN gates) and how its values are stored. Roles
// (roles.h), fans (fan.h) and placement read this table; adding an op is one row here and a test.
// `onnx-reinit ops` prints it, and the list of supported ops in docs/ops.md is checked against
// OpTableMarkdown() by a test.
#ifndef ONNX_REINIT_OP_TABLE_H_
#define ONNX_REINIT_OP_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/fan.h"        // FanRule
#include "onnx_reinit/report.pb.h"  // OpTableListing
#include "onnx_reinit/roles.h"      // Role

namespace onnx_reinit {

// How an input's values are stored.
enum class ValueStorage {
  kFloat,           // floating-point values (also when a DequantizeLinear makes them: QDQ)
  kQdq,             // integers read dequantized by the op that reads DequantizeLinear's output
  kQOperator,       // integers the op reads itself, with its own scale and zero point inputs
  kBlockQuantized,  // n-bit integers packed in blocks, each block with a scale and a zero point
};

absl::string_view StorageName(ValueStorage storage);  // "float", "qdq", "qoperator", "block_quantized"

// How the role of an input is decided beyond its row. Most inputs have the row's role outright;
// the others need a look at the graph around the op.
enum class Match {
  kDirect,               // the row's role
  kGatherTable,          // an embedding table when the indices are computed and axis is 0
  kRecurrent,            // an RNN tensor: gates and hidden_size from the row's parts and the op
  kElementwise,          // a `parameter` when combined with an activation (roles.h)
  kAddOperand,           // a MatMul's bias or a decomposed norm's bias, else as kElementwise
  kDecomposedNormScale,  // a decomposed LayerNorm/RMSNorm's scale, else as kElementwise
  kExpanded,             // a `parameter` when the Expand's result is combined with an activation
  kPassedOn,             // passed on to the reader of the op's output, which gives the role
};

// A tensor made of parts along one axis, each with its own fans: the Q, K and V blocks of a fused
// attention weight, the gate blocks of an RNN weight.
struct PartRule {
  int axis = 0;                           // of the tensor as the reader sees it; < 0 from the end
  int count = 1;                          // 1: the tensor is one part
  const char* sizes_attribute = nullptr;  // an INTS attribute giving the parts' sizes, when present
  const char* names = "";                 // the parts in order, for `onnx-reinit ops`: "q, k, v"
};

// Where a quantized input's scale and zero point are (ValueStorage::kQOperator, kBlockQuantized:
// there `axis` is the one the blocks run along; kQdq: DequantizeLinear's own, `axis` the default of
// its axis attribute), and where an int32 bias finds the activation's scale.
struct QuantSlots {
  int scale = -1;       // the op's input holding the scale; -1 none
  int zero_point = -1;  // the op's input holding the zero point; -1 none
  int axis = 0;         // the weight's axis of per-axis scales; < 0 from the end
  // When this attribute is 1 the per-axis scales run along the other of the last two axes (QGemm's
  // transB: B [N, K] has its column scales along axis -2).
  const char* axis_swap_attribute = nullptr;
  // A QOperator op's input holding the scale of the activation this input is multiplied with (the
  // weight's) or added in steps of (an int32 bias's scale is it times the weight's): a scale
  // calibrated on the old weights, unlike the dynamic ops' activation scales; -1 none.
  int activation_scale = -1;
  // For a float op's bias that may be int32 read through DequantizeLinear (QDQ: Conv's B, Gemm's
  // C): the op's input whose DequantizeLinear holds the activation's scale; -1 none.
  int dequantized_activation = -1;
};

// One input of an op and what it holds.
struct InputSpec {
  int index = 0;          // the input slot; kAnyInput for every input of the op
  const char* name = "";  // the input's name in the op's spec
  Role role = Role::kOther;
  Match match = Match::kDirect;
  FanRule fans;  // weights and embeddings: their layout; biases: whose fan_in
  PartRule parts;
  ValueStorage storage = ValueStorage::kFloat;
  QuantSlots quant;  // ValueStorage::kQOperator and kBlockQuantized
  // A weight only while this other input is computed (a MatMul of two constants is folding
  // material, not a layer); kAnyOtherInput: while some other input is; -1 always.
  int unless_constant = -1;
  // Role::kOther: the input holds a fixed value, never learned (an RNN's initial state, a
  // quantization parameter, a cos/sin cache); this says what it is. Null: no role, not fixed.
  const char* fixed = nullptr;
  const char* note = "";  // what else the input is, for `onnx-reinit ops` ("LSTM peephole weights")
};

inline constexpr int kAnyInput = -1;
inline constexpr int kAnyOtherInput = -2;  // InputSpec::unless_constant
inline constexpr int64_t kLatestOpset = 1 << 30;

struct OpSpec {
  const char* domain = "";  // "" for ai.onnx
  const char* op_type = "";
  int64_t since = 1;             // the first opset of the domain the row applies to
  int64_t until = kLatestOpset;  // the last
  std::vector<InputSpec> inputs;
  // Inputs the row does not list: fixed quantization parameters (the QOperator ops) rather than
  // inputs without a role.
  bool unlisted_are_quantization_parameters = false;
  // The op computes attention, softmax(q k^T) v, itself (transformer_structure.h reads a branch
  // that holds one as an attention sublayer).
  bool attention = false;
  // The op adds inputs 0 and 1 - a residual stream and a branch - before normalizing the sum
  // (ONNX Runtime's SkipLayerNormalization fuses the residual Add): transformer_structure.h reads
  // it as a residual Add.
  bool residual_sum = false;

  // The spec of input `index` (or of kAnyInput), or null.
  const InputSpec* Input(int index) const;
  // Whether the op reads integers itself (some input is kQOperator or kBlockQuantized).
  bool ReadsIntegers() const;
};

// Every row, in the order `onnx-reinit ops` prints them.
absl::Span<const OpSpec> OpTable();

// The row for an op of `domain` ("" and "ai.onnx" are the same) in opset `version` of that
// domain, or null. A negative version (the model imports no such domain, or it is not known)
// matches the op's last row.
const OpSpec* FindOp(absl::string_view domain, absl::string_view op_type, int64_t version = -1);

// The table as a Markdown list, one line per op: what docs/ops.md's list of supported ops holds.
std::string OpTableMarkdown();

// The table with one entry per input, as `onnx-reinit ops` prints it.
proto::OpTableListing DescribeOpTable();

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_OP_TABLE_H_
