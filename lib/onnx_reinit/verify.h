// Checks that a model's weights look freshly initialized with a scheme: a CI gate for "these weights
// were just re-initialized with he".
#ifndef ONNX_REINIT_VERIFY_H_
#define ONNX_REINIT_VERIFY_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/scheme.h"
#include "onnx_reinit/stats.pb.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

struct VerifyOptions {
  SchemeOptions scheme;
  // Allowed |std / target_std - 1|. Unset: derived per tensor from its size (StdTolerance, stats.h).
  std::optional<double> std_tolerance;
  // Also compare each weight's largest singular value with the edge of a fresh i.i.d. matrix of
  // its shape and target std (spectral.h): trained weights rescaled to the scheme's std pass the
  // moments but not this. Orthogonal weights must have every singular value equal to the gain:
  // the largest, and the mean of their squares (from the Frobenius norm).
  bool spectral = false;
  int threads = 0;
  // Instead of the scheme: each tensor's own distribution, by name (a preset's: PresetTargetsOf,
  // options.h). Every tensor named here is checked, whatever its role (embeddings, biases, norms
  // too); a weight without an entry is unjudged. `targets_source` names them in the report
  // ("preset gpt2").
  std::optional<std::map<std::string, proto::Distribution>> targets;
  std::string targets_source;
};

// One finding per tensor with the weight role (roles.h) - with `targets`, per tensor named there - in graph order; the
// other learned tensors are listed in `unjudged` with the reason, and `passed` is false when no weight was checked. A
// weight fails when its std is out of tolerance, its mean is more than 6 standard errors (target_std / sqrt(n)) from
// the target mean, it holds NaN or Inf, or - for constant schemes - any value differs from the constant; with
// `spectral`, also when its largest singular value exceeds the limit.
// Tensors with an entry in `payloads` are read from there (see MappedModel).
absl::StatusOr<proto::VerifyReport> VerifyModel(onnx::ModelProto& model, const VerifyOptions& options,
                                                const DetachedPayloads& payloads = DetachedPayloads());

// VerifyModel of the model file at `path` (mapped, not loaded), with its path in the report; errors
// name the file.
absl::StatusOr<proto::VerifyReport> VerifyFile(const std::string& path, const VerifyOptions& options);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_VERIFY_H_
