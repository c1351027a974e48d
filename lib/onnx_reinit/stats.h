// The `stats` report of a model: each floating-point tensor's moments, role and (on request)
// histogram, target std, singular values and hash. The numbers are identical for any thread count
// and on every instruction set.
#ifndef ONNX_REINIT_STATS_H_
#define ONNX_REINIT_STATS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/scheme.h"
#include "onnx_reinit/stats.pb.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

// verify's allowed |std / target_std - 1| for n values drawn from `distribution`: `fixed` when
// given, else 6 standard errors of the sample std (1/sqrt(2n) relative for a normal draw,
// 0.447/sqrt(n) for a uniform one), never under 5%. A fresh tensor exceeds it with probability
// under 2e-9.
double StdTolerance(const proto::Distribution& distribution, int64_t n, std::optional<double> fixed);

// The SHA-256 (64 hex digits) of `tensor`'s values in raw_data's layout: the stored bytes of a
// raw_data, float_data or double_data tensor; 2 little-endian bytes per value of a float16 or
// bfloat16 tensor held in int32_data.
std::string ValuesSha256(const TensorValues& tensor);
// A digest of a set of tensors: the SHA-256 of the lines "<sha256>  <name>\n" (sha256sum's format),
// sorted, for each (name, sha256) pair - independent of the order the tensors are listed in.
std::string TensorsDigest(std::vector<std::pair<std::string, std::string>> hashes);

struct StatsOptions {
  int threads = 0;                      // 0: all cores
  std::optional<SchemeOptions> scheme;  // adds target_std, std_ratio and std_tolerance to the weights
  std::optional<double> std_tolerance;  // verify's --tolerance: the std_tolerance of every weight
  int histogram_bins = 0;               // 0: no histograms
  // Adds top_singular_value and spectral_ratio to the weights of rank >= 2 (spectral.h).
  bool spectral = false;
  // Adds each tensor's sha256 and the report's tensors_sha256.
  bool hash = false;
};

// One row per floating-point constant (initializers and Constant node values, subgraphs included),
// in the graph order of its first reader, with its role (roles.h) and totals; constants of data
// types newer than this build's ONNX library are listed in `unread`. target_std is set
// for weights, as the scheme would draw them. InvalidArgument for a tensor whose
// payload does not match its shape; Unimplemented for external data.
// Tensors with an entry in `payloads` are read from there (see MappedModel).
absl::StatusOr<proto::StatsReport> ComputeModelStats(onnx::ModelProto& model, const StatsOptions& options,
                                                     const DetachedPayloads& payloads = DetachedPayloads());

// ComputeModelStats of the model file at `path` (mapped, not loaded), with its path and size in the
// report; errors name the file.
absl::StatusOr<proto::StatsReport> StatsFile(const std::string& path, const StatsOptions& options);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_STATS_H_
