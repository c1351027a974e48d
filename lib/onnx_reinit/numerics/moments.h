// Moments and histograms of tensors' values, and the moments of the distributions they are drawn
// from: the numbers that stats, verify and the re-initialization's report share.
//
// Numbers are accumulated in float64 on the values as stored (after float16/bfloat16 rounding).
// Each tensor is cut into fixed chunks, and chunks into batches of 4096 values; a batch's moments
// come from two passes over it (sum, min, max and zeros, then squared deviations from the batch
// mean: exact enough, and it vectorizes, unlike Welford's per-value division) in a SIMD kernel with
// a fixed order of additions, and batches and chunks are merged with the pairwise formula of Chan,
// Golub and LeVeque ("Algorithms for computing the sample variance", 1983) in a fixed order - so
// the numbers are identical for any thread count and on every instruction set.
#ifndef ONNX_REINIT_NUMERICS_MOMENTS_H_
#define ONNX_REINIT_NUMERICS_MOMENTS_H_

#include <cstdint>
#include <vector>

#include "onnx_reinit/report.pb.h"
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

namespace stats_internal {  // the SIMD kernels of AddBatch and ComputeHistograms (moments_simd.cc)

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
                                                const std::vector<proto::Moments>& moments, int bins, int threads);

// The std and mean of an elementwise distribution: a uniform U(a, b) has std (b - a) / sqrt(12), a
// truncated normal the moments of the truncated law, a constant std 0. 0 for the structured kinds
// (orthogonal, identity, dirac), whose moments depend on the shape.
double DistributionStd(const proto::Distribution& distribution);
double DistributionMean(const proto::Distribution& distribution);

// Counts `tensor` into `totals`, keeping bytes_per_dtype sorted by dtype name.
void AddToTotals(const TensorValues& tensor, proto::Totals& totals);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_NUMERICS_MOMENTS_H_
