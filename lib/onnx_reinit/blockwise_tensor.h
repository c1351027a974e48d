// The blockwise-quantized weights of a model (MatMulNBits B, GatherBlockQuantized data: the op
// table's ValueStorage::kBlockQuantized inputs) bound to their bytes, for what reads and writes
// them: `stats` and `verify` read them dequantized, --requantize draws float values for them and
// writes their packed integers, scales and zero points (blockwise.h has the formats).
//
// The float tensor such a weight stands for is [rows, cols] in the stored order: MatMulNBits'
// [N, K] (PyTorch's Linear weight [out, in]), GatherBlockQuantized's [vocabulary, dim]. It is
// drawn in that order, row chunk by row chunk, so that a weight of any size is written through
// a few MiB of memory, and the same bytes come out for any thread count.
#ifndef ONNX_REINIT_BLOCKWISE_TENSOR_H_
#define ONNX_REINIT_BLOCKWISE_TENSOR_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/blockwise.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/report.pb.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

struct BlockwiseTensor {
  BlockLayout layout;
  BlockConvention convention = BlockConvention::kSymmetric;
  Role float_role = Role::kWeight;            // of the float tensor it stands for: weight, or embedding
  std::string scales_name, zero_points_name;  // zero_points_name empty: the default zero point
  char* packed = nullptr;                     // the packed integers' bytes: raw_data or a detached payload
  std::optional<TensorValues> scales;         // rows * blocks values
  char* zero_points = nullptr;                // packed uint8 zero points, or null
  bool detached = false;                      // all its bytes are detached payloads (none in a TensorProto)
};

// Whether `use` is a blockwise-quantized weight (its reader's op table row says so).
bool IsBlockwise(const TensorUse& use);

// Binds `use` (IsBlockwise) to its tensors, found by name through `constant`; their bytes are read
// from `payloads` where it holds them. ErrorKind::kUnsupported, saying why, for the forms this version
// does not read: a g_idx, int4/uint4 data, float zero points, integers in int32_data, tensors in
// external data without a payload, shapes that do not fit the op's attributes.
absl::StatusOr<BlockwiseTensor> BindBlockwise(const TensorUse& use,
                                              const std::function<onnx::TensorProto*(const std::string&)>& constant,
                                              const DetachedPayloads& payloads);
// The same, with the tensors found in the graph's index (GraphAnalysis::index).
absl::StatusOr<BlockwiseTensor> BindBlockwise(const TensorUse& use, const GraphIndex& index,
                                              const DetachedPayloads& payloads);

// The moments of the dequantized values (q - zp) * scale, in a fixed order of row chunks: the same
// for any thread count.
proto::Moments DequantizedMoments(const BlockwiseTensor& tensor, int threads);

// New values for a blockwise weight: `draw` gives the float values of its [rows, cols] matrix
// (a FillJob over a tensor of that shape and the scales' type, whose values are never stored).
struct BlockwiseJob {
  BlockwiseTensor tensor;
  FillJob draw;
  int record = -1;  // its entry in the report's requantized tensors
};

// The float tensor [rows, cols] of the scales' type that `tensor` stands for, without values: for
// PlanTensor, and for BlockwiseJob::draw (whose TensorValues is bound to no storage).
onnx::TensorProto FloatStandIn(const BlockwiseTensor& tensor, int32_t scale_data_type);
absl::StatusOr<TensorValues> UnstoredValues(const onnx::TensorProto& stand_in, const std::string& name);

// Stores `size` bytes at `address`, a place inside a tensor's values (its raw_data, typed field or
// detached payload): in memory, or at the same place of a file that mirrors a mapping.
using ByteSink = std::function<absl::Status(char* address, const void* bytes, int64_t size)>;

// Draws, quantizes and stores each job's packed integers, scales and zero points through `sink`,
// chunks of rows computed on `threads` threads. Returns the moments of each job's new dequantized
// values.
absl::StatusOr<std::vector<proto::Moments>> WriteBlockwise(const std::vector<BlockwiseJob>& jobs, uint64_t seed,
                                                           int threads, const ByteSink& sink);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_BLOCKWISE_TENSOR_H_
