// Per-tensor statistics: moments and histograms of tensor values, and the `stats` report of a model.
//
// Numbers are accumulated in float64 on the values as stored (after float16/bfloat16 rounding).
// Each tensor is cut into fixed chunks, and chunks into batches of 4096 values; a batch's moments
// come from two passes over it (sum, min, max and zeros, then squared deviations from the batch
// mean: exact enough, and it vectorizes, unlike Welford's per-value division) in a SIMD kernel with
// a fixed order of additions, and batches and chunks are merged with the pairwise formula of Chan,
// Golub and LeVeque ("Algorithms for computing the sample variance", 1983) in a fixed order - so
// the numbers are identical for any thread count and on every instruction set.
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

// Online moments of a stream of values. NaN and Inf are counted but kept out of mean, std, min and
// max. Thread-compatible.
class MomentAccumulator {
 public:
  // Welford's online update (B. P. Welford, Technometrics 4(3), 1962).
  void Add(double x);
  // Adds values[0 .. n) (any alignment) as one batch: two-pass moments, then a merge. A batch
  // with NaN or Inf (or a float64 sum that overflows) takes the per-value path.
  void AddBatch(const float* values, int64_t n);
  void AddBatch(const double* values, int64_t n);
  // Folds in the moments of values that follow this accumulator's values.
  void Merge(const MomentAccumulator& later);
  // The population moments; min and max are 0 when there is no finite value.
  proto::Moments ToProto() const;

 private:
  template <typename T>
  void AddBatchOf(const T* values, int64_t n);

  int64_t finite_ = 0;
  double mean_ = 0, m2_ = 0;
  double min_ = 0, max_ = 0;
  int64_t zeros_ = 0, nan_ = 0, inf_ = 0;
};

namespace stats_internal {  // the SIMD kernels of AddBatch and ComputeHistograms (stats_simd.cc)

constexpr int kMomentLanes = 16;  // accumulators, whatever the vector width

struct BatchMoments {
  double mean, m2, min, max;
  int64_t zeros;
};
// The moments of values[0 .. n), n > 0: false when the sum is not finite (a NaN or Inf among them).
bool BatchMomentsOf(const float* values, int64_t n, BatchMoments* out);
bool BatchMomentsOf(const double* values, int64_t n, BatchMoments* out);
// Adds values[0 .. n) to counts[0 .. bins): the finite value x to bin
// min(int((x - low) * scale), bins - 1), for x >= low.
void AddToHistogram(const float* values, int64_t n, double low, double scale, int bins, int64_t* counts);
void AddToHistogram(const double* values, int64_t n, double low, double scale, int bins, int64_t* counts);

}  // namespace stats_internal

// The moments of each tensor, computed on up to `threads` threads (0: all cores).
std::vector<proto::Moments> ComputeMoments(const std::vector<TensorValues>& tensors, int threads);

// `bins` equal-width bins per tensor between its finite min and max (from `moments`).
std::vector<proto::Histogram> ComputeHistograms(const std::vector<TensorValues>& tensors,
                                                const std::vector<proto::Moments>& moments,
                                                int bins, int threads);

// The std and mean of an elementwise distribution: a uniform U(a, b) has std (b - a) / sqrt(12), a
// truncated normal the moments of the truncated law, a constant std 0. 0 for the structured kinds
// (orthogonal, identity, dirac), whose moments depend on the shape.
double DistributionStd(const proto::Distribution& distribution);
double DistributionMean(const proto::Distribution& distribution);

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

// Counts `tensor` into `totals`, keeping bytes_per_dtype sorted by dtype name.
void AddToTotals(const TensorValues& tensor, proto::Totals& totals);

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
absl::StatusOr<proto::StatsReport> ComputeModelStats(
    onnx::ModelProto& model, const StatsOptions& options,
    const DetachedPayloads& payloads = DetachedPayloads());

// ComputeModelStats of the model file at `path` (mapped, not loaded), with its path and size in the
// report; errors name the file.
absl::StatusOr<proto::StatsReport> StatsFile(const std::string& path, const StatsOptions& options);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_STATS_H_
