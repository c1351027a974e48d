// Compares the constants (initializers and Constant node values) of two models by name.
#ifndef ONNX_REINIT_DIFF_H_
#define ONNX_REINIT_DIFF_H_

#include <string>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/stats.pb.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

// Lists each tensor whose dtype, shape or values differ, and those present in one model only.
// Tensors are compared by the SHA-256 of their stored bytes first (in raw_data's layout for float
// tensors, so float_data and raw_data holding the same values are identical), and those whose
// hashes differ by value: as numbers for floating-point tensors (NaN equals NaN; other bytes with
// the same values, such as -0 and 0, are a BYTES change), by their bytes for other types.
// Differing float tensors carry the moments of both sides.
// Tensors with an entry in `payloads_a` / `payloads_b` are read from there (see MappedModel).
absl::StatusOr<proto::DiffReport> DiffModels(onnx::ModelProto& a, const DetachedPayloads& payloads_a,
                                             onnx::ModelProto& b, const DetachedPayloads& payloads_b, int threads);

// DiffModels of the model files `path_a` and `path_b` (mapped, not loaded), with their paths in the
// report; errors name the file, or "A vs B" for what concerns both.
absl::StatusOr<proto::DiffReport> DiffFiles(const std::string& path_a, const std::string& path_b, int threads);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_DIFF_H_
