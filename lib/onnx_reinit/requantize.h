// --requantize: fresh values for quantized weights, written as integers with new scales.
//
// Three layouts hold integer weights (roles.h marks them Role::kQuantized):
//   QDQ        int8/uint8 constant -> DequantizeLinear(x, scale, zero_point, axis) [-> Transpose,
//              Reshape, ...] -> Conv, ConvTranspose, Gemm or MatMul; an int32 bias behind its own
//              DequantizeLinear (scale x_scale * w_scale, zero point 0), as ONNX Runtime's quantizer
//              writes them.
//   QOperator  QLinearConv (w 3, w_scale 4, w_zero_point 5, int32 B 8 with scale x_scale (1) *
//              w_scale), QLinearMatMul (b 3, b_scale 4, b_zero_point 5); ConvInteger (w 1) and
//              MatMulInteger (b 1) carry no weight scale and are left unchanged (see below);
//              com.microsoft's DynamicQuantizeMatMul and MatMulIntegerToFloat as QLinearMatMul. The
//              op table (op_table.h) holds the slots.
//   Blockwise  n-bit integers packed in blocks with a scale (and zero point) each: MatMulNBits,
//              GatherBlockQuantized (blockwise_tensor.h). Their float values are drawn, quantized
//              in the model's convention (blockwise.h) and written row chunk by row chunk by
//              WriteBlockwise, also in external data; the steps below are for the other two.
//
// A weight is requantized in three steps:
//   1. Float values w are drawn exactly as for a float weight of the same name and shape read by the
//      op after DequantizeLinear (or by the float op a QOperator op stands for): the policy and
//      rules apply (rules see the role weight or bias; role:quantized matches both), the fans are
//      those of the shape that op sees (policy.h, fill.h).
//   2. Per scale group - the whole tensor, or each slice along the model's `axis` - with the group's
//      zero point zp (kept) and the type's range [qmin, qmax]:
//        levels = min(zp - qmin, qmax - zp)     127 for int8 with zp 0, 127 for uint8 with zp 128
//        scale  = max|w| / levels               rounded to the scale tensor's type
//        q      = round_half_even(w / scale) + zp, clamped to [zp - levels, zp + levels]
//      so the dequantized values (q - zp) * scale are symmetric about 0 and the largest |w| maps to
//      exactly `levels`. A group of zeros keeps its old scale. A zero point at the edge of the range
//      (uint8 zp 0) has no room for negative values: that weight is left unchanged, with the reason.
//   3. The weight's bias, when it is int32 (QLinearConv B, or a QDQ bias of the same Conv/Gemm), is
//      drawn by the bias policy (zeros by default, so its integers become 0) and written as
//      round(b / (x_scale * w_scale)) with the new w_scale; a QDQ bias's scale tensor is set to
//      x_scale * w_scale (x_scale: the scale of the DequantizeLinear that feeds the op's input 0).
// Integers keep their dtype, shape and storage field (raw_data or int32_data); scales keep theirs.
// Activation scales are not touched: they were calibrated on the old weights (a warning says so).
//
// Left unchanged, with the reason (and one warning naming them): ConvInteger / MatMulInteger
// weights (no scale in the op: the model rescales the int32 result later, by constants this tool
// cannot tie to the weight, so no integers could be given a target float distribution); a scale
// that another node also reads or that is a graph input (rewriting it would change the other
// reader, or a runtime may replace it); a weight read by several nodes; int4 and other packed or
// wider types; blocked quantization (block_size); QDQ and QOperator tensors in external data.
#ifndef ONNX_REINIT_REQUANTIZE_H_
#define ONNX_REINIT_REQUANTIZE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/blockwise_tensor.h"
#include "onnx_reinit/policy.h"
#include "onnx_reinit/report.pb.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

// New values for one tensor of the model, in its own type: integers for integer tensors, scales
// for float ones.
struct TensorWrite {
  onnx::TensorProto* tensor = nullptr;
  std::vector<double> values;
};

struct Requantization {
  std::vector<proto::RequantizedTensor> records;  // the weights and biases requantized
  std::vector<proto::SkippedTensor> skipped;      // quantized tensors left unchanged, and why
  std::vector<std::string> warnings;
  std::vector<TensorWrite> writes;      // nothing is written until ApplyWrites
  std::vector<BlockwiseJob> blockwise;  // computed and written by WriteBlockwise
};

struct RequantizeOptions {
  const Policy* policy = nullptr;
  uint64_t seed = 0;
  int threads = 1;
  std::function<bool(const TensorUse& use)> select;  // empty selects all
};

// Whether `rule` applies to the quantized tensor `use`, which is drawn as the float weight or bias
// it stands for (a role:quantized rule matches both).
bool MatchesQuantized(const Rule& rule, const TensorUse& use);

// Plans the requantization of the Role::kQuantized tensors of `analysis`. Reads the analyzed model
// (through `payloads` where they hold a tensor's bytes) and changes nothing.
// InvalidArgument when the policy cannot apply to a weight (as PlanTensor) or a tensor is malformed.
absl::StatusOr<Requantization> PlanRequantization(const GraphAnalysis& analysis, const RequantizeOptions& options,
                                                  const DetachedPayloads& payloads);

// Stores each write's values in its tensor, in the tensor's storage field. The tensors must hold
// their values themselves (not in a detached payload nor external data).
void ApplyWrites(const std::vector<TensorWrite>& writes);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_REQUANTIZE_H_
