// Fan-in / fan-out of a weight, from the op that consumes it (never from the tensor's rank alone:
// a rank-2 tensor is [out, in] for Gemm with transB=1 but [in, out] for MatMul).
//
// Rules, with rf the product of the kernel's spatial dims k1..kn:
//   Conv W           [M, C/group, k1..kn]   fan_in = C/group * rf    fan_out = M * rf
//   ConvTranspose W  [C, M/group, k1..kn]   fan_in = M/group * rf    fan_out = C * rf
//                    (PyTorch's convention: it reads size(1) as fan_in for ConvTranspose too)
//   Gemm B           [K, N], or [N, K] with transB=1                 fan_in = K, fan_out = N
//   Gemm A           [M, K], or [K, M] with transA=1                 fan_in = K, fan_out = M
//   MatMul B         [..., K, N] (leading dims batch; [K] is K x 1)  fan_in = K, fan_out = N
//   MatMul A         [..., M, K] (when B is not constant)            fan_in = K, fan_out = M
// The integer weights of the QOperator ops follow the rule of their float op: QLinearConv w (3) and
// ConvInteger w (1) as Conv W; QLinearMatMul b (3) and MatMulInteger b (1) as MatMul B.
// Which rule an op's input follows is a column of the op table (op_table.h).
// These equal torch.nn.init's fans for the equivalent PyTorch module's weight (nn.Linear exports as
// Gemm with transB=1, or as MatMul with its weight transposed to [in, out]).
#ifndef ONNX_REINIT_FAN_H_
#define ONNX_REINIT_FAN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/scheme.h"  // Fans

namespace onnx_reinit {

// How an op's input is laid out, for its fans (a column of the op table, op_table.h).
struct FanRule {
  enum class Kind {
    kNone,              // no fans of its own (norm parameters, fixed tables)
    kConv,              // [M, C/group, k1..kn]: fan_in = C/group * rf, fan_out = M * rf
    kConvTranspose,     // [C, M/group, k1..kn]: fan_in = M/group * rf, fan_out = C * rf (torch)
    kConvChannelsLast,  // [M, k1..kn, C/group] (NhwcConv): fan_in = C/group * rf, fan_out = M * rf
    kMatrix,            // fan_in and fan_out along two axes counted from the end
    kTable,             // an embedding table [vocabulary, dim]: fan_in = dim, fan_out = vocabulary
    kRecurrent,         // an RNN W or R: one gate block's fans (roles.h)
    kBiasOf,            // a bias: fan_in of the weight at `weight_input` or, when that is -1, of the
                        // weight of the layer that computes another input; 0 when unknown
    kEinsum,            // an operand of a two-operand Einsum, by its `equation`: fan_in = product of
                        // its dims whose labels are contracted away, fan_out = of those that reach
                        // the output (the layer's math, not Keras's shape-only fans)
    kBlockMatrix,       // MatMulNBits B [N, blocks, blob] (blockwise.h): fan_in = attribute K, fan_out = N
    kPackedTable,       // a table of `bits`-bit values packed in uint8 [vocabulary, dim * bits / 8]:
                        // fan_in = dim, fan_out = vocabulary
  };
  Kind kind = Kind::kNone;
  int in_axis = 0, out_axis = 0;              // kMatrix: -1 the last axis, -2 the one before
  const char* transpose_attribute = nullptr;  // kMatrix: when this attribute is 1 the axes swap
  int rank = 0;                               // kMatrix: the rank it must have; 0 any rank >= 1
                                              // (leading dims batch; a vector [K] is K x 1)
  int weight_input = -1;                      // kBiasOf; -1: the layer computing another input
};

// The rule as `onnx-reinit ops` prints it: "[K, N] (transB: [N, K])", "fan_in of input 1".
std::string DescribeFanRule(const FanRule& rule);

// The fans of `shape` at input `input_index` of `node` by `rule` (kConv, kConvTranspose,
// kConvChannelsLast, kMatrix, kTable). Fails with InvalidArgument when the shape does not fit the layout.
absl::StatusOr<Fans> FansByRule(const FanRule& rule, const onnx::NodeProto& node, int input_index,
                                absl::Span<const int64_t> shape);

// Whether input `input_index` of `node` holds a weight, given which inputs are constant (an
// initializer or Constant node value, possibly through Identity). Only constant inputs qualify.
bool IsWeightInput(const onnx::NodeProto& node, int input_index, const std::function<bool(int)>& input_is_constant);

// The fans of the weight with `shape` at input `input_index` of `node`, which must be a weight input.
// Fails with InvalidArgument when the shape does not fit the op's layout (e.g. a rank-2 Conv W).
absl::StatusOr<Fans> FansForWeight(const onnx::NodeProto& node, int input_index, absl::Span<const int64_t> shape);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_FAN_H_
