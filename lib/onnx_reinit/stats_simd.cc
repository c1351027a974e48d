// The vectorized kernels declared in stats.h (stats_internal): the moments of a batch of float32
// or float64 values - the sum, min, max and zero count, then the sum of squared deviations from
// the batch mean, accumulated in float64 - and histogram counts.
//
// Compiled once per x86 target with Highway, like rng_simd.cc, and chosen at run time. The
// accumulation order is fixed and the same on every target: value k of the batch goes to logical
// lane k % 16 (one AVX-512 vector of 8 doubles holds lanes 0-7, an AVX2 one 0-3, ...), the 16
// lanes are added in a fixed tree, and the tail of fewer than 16 values is added after, in order.
// Only correctly rounded IEEE adds, subtracts and multiplies (no FMA; this file is compiled with
// -ffp-contract=off), so every target gives the same bits (stats_test checks each one).

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "onnx_reinit/stats_simd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "onnx_reinit/simd_load-inl.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "onnx_reinit/stats.h"

HWY_BEFORE_NAMESPACE();
namespace onnx_reinit {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace si = stats_internal;

using DD = hn::ScalableTag<double>;
using VD = hn::Vec<DD>;
constexpr int64_t kLanes = si::kMomentLanes;
constexpr int64_t kPrefetchBytes = 4096;

// The 16 logical lanes of `v` (kVectors vectors), added in a fixed tree.
template <int kVectors>
HWY_INLINE double SumLanes(const VD (&v)[kVectors]) {
  const DD dd;
  HWY_ALIGN double lanes[kLanes];
  for (int j = 0; j < kVectors; ++j) hn::Store(v[j], dd, lanes + j * hn::Lanes(dd));
  for (int width = kLanes / 2; width >= 1; width /= 2) {
    for (int j = 0; j < width; ++j) lanes[j] = lanes[j] + lanes[j + width];
  }
  return lanes[0];
}

template <typename T>
bool BatchMomentsImpl(const T* HWY_RESTRICT values, int64_t n, si::BatchMoments* out) {
  const DD dd;
  constexpr int kVectors = static_cast<int>(kLanes / hn::MaxLanes(dd));
  static_assert(kVectors * hn::MaxLanes(dd) == kLanes, "16 lanes in whole vectors");
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  const int64_t body = n - n % kLanes;
  const VD zero = hn::Zero(dd), one = hn::Set(dd, 1.0);
  VD sum[kVectors], low[kVectors], high[kVectors], zeros[kVectors];
  for (int j = 0; j < kVectors; ++j) {
    sum[j] = zeros[j] = zero;
    low[j] = hn::Set(dd, HUGE_VAL);
    high[j] = hn::Set(dd, -HUGE_VAL);
  }
  for (int64_t k = 0; k < body; k += kLanes) {
    // The values come from a mapped file, mostly not yet in any cache: reading ahead across page
    // boundaries (where the hardware prefetcher stops) keeps the memory busy (1.5x on this VM).
    __builtin_prefetch(reinterpret_cast<const char*>(values + k) + kPrefetchBytes);
    for (int j = 0; j < kVectors; ++j) {
      const VD x = LoadAsDouble(values + k + j * N);
      sum[j] = hn::Add(sum[j], x);
      low[j] = hn::Min(low[j], x);
      high[j] = hn::Max(high[j], x);
      zeros[j] = hn::Add(zeros[j], hn::IfThenElseZero(hn::Eq(x, zero), one));
    }
  }
  double total = SumLanes(sum);
  double min = HUGE_VAL, max = -HUGE_VAL;
  for (int j = 0; j < kVectors; ++j) {
    min = std::min(min, hn::GetLane(hn::MinOfLanes(dd, low[j])));
    max = std::max(max, hn::GetLane(hn::MaxOfLanes(dd, high[j])));
  }
  double zero_count = SumLanes(zeros);
  for (int64_t k = body; k < n; ++k) {
    const double x = ScalarAsDouble(values + k);
    total += x;
    min = std::min(min, x);
    max = std::max(max, x);
    zero_count += x == 0;
  }
  // A NaN or an infinity makes the sum NaN or infinite; finite values cannot overflow it (the
  // caller passes float64 batches whose values are below DBL_MAX / n).
  if (!std::isfinite(total)) return false;
  const double mean = total / static_cast<double>(n);
  const VD vmean = hn::Set(dd, mean);
  VD squares[kVectors];
  for (int j = 0; j < kVectors; ++j) squares[j] = zero;
  for (int64_t k = 0; k < body; k += kLanes) {
    for (int j = 0; j < kVectors; ++j) {
      const VD deviation = hn::Sub(LoadAsDouble(values + k + j * N), vmean);
      squares[j] = hn::Add(squares[j], hn::Mul(deviation, deviation));
    }
  }
  double m2 = SumLanes(squares);
  for (int64_t k = body; k < n; ++k) {
    const double deviation = ScalarAsDouble(values + k) - mean;
    m2 += deviation * deviation;
  }
  out->mean = mean;
  out->m2 = m2;
  out->min = min;
  out->max = max;
  out->zeros = static_cast<int64_t>(zero_count);
  return true;
}

// Bin k of value x: (x - low) * scale truncated, at most bins - 1 (as ComputeHistograms defines
// it); the lane computation is exact per value, so any vector width counts the same.
template <typename T>
void HistogramImpl(const T* HWY_RESTRICT values, int64_t n, double low, double scale, int bins,
                   int64_t* HWY_RESTRICT counts) {
  const DD dd;
  const hn::Rebind<int32_t, DD> di;
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  const VD vlow = hn::Set(dd, low), vscale = hn::Set(dd, scale);
  const VD last = hn::Set(dd, bins - 1), overflow = hn::Set(dd, bins), finite_max = hn::Set(dd, DBL_MAX);
  // Bin numbers for a block of values first, then the counting: kCopies interleaved histograms,
  // so that runs of values in one bin do not wait on each other's increments. Slot `bins` of each
  // counts NaN and Inf, which are dropped.
  constexpr int kCopies = 8;
  constexpr int64_t kBlock = 1024;
  const int64_t stride = bins + 1;
  std::vector<int64_t> copies(kCopies * stride, 0);
  HWY_ALIGN int32_t index[kBlock];
  static_assert(kCopies % hn::MaxLanes(dd) == 0, "whole vectors per round of copies");
  const int64_t body = n - n % kCopies;
  for (int64_t block = 0; block < body; block += kBlock) {
    const int64_t block_end = std::min(body, block + kBlock);
    for (int64_t k = block; k < block_end; k += N) {
      __builtin_prefetch(reinterpret_cast<const char*>(values + k) + kPrefetchBytes);
      const VD x = LoadAsDouble(values + k);
      const VD bin = hn::Min(hn::Mul(hn::Sub(x, vlow), vscale), last);
      const VD safe = hn::IfThenElse(hn::Le(hn::Abs(x), finite_max), bin, overflow);
      // Floor first: DemoteTo truncates on x86 but rounds on some targets (SCALAR).
      hn::Store(hn::DemoteTo(di, hn::Floor(safe)), di, index + (k - block));
    }
    const int64_t count = block_end - block;  // a multiple of kCopies
    for (int64_t j = 0; j < count; j += kCopies) {
      for (int c = 0; c < kCopies; ++c) ++copies[c * stride + index[j + c]];
    }
  }
  for (int64_t k = body; k < n; ++k) {
    const double x = ScalarAsDouble(values + k);
    if (std::abs(x) <= DBL_MAX) ++copies[std::min(static_cast<int>((x - low) * scale), bins - 1)];
  }
  for (int c = 0; c < kCopies; ++c) {
    for (int b = 0; b < bins; ++b) counts[b] += copies[c * (bins + 1) + b];
  }
}

void HistogramFloatImpl(const float* HWY_RESTRICT values, int64_t n, double low, double scale,
                        int bins, int64_t* HWY_RESTRICT counts) {
  HistogramImpl(values, n, low, scale, bins, counts);
}
void HistogramDoubleImpl(const double* HWY_RESTRICT values, int64_t n, double low, double scale,
                         int bins, int64_t* HWY_RESTRICT counts) {
  HistogramImpl(values, n, low, scale, bins, counts);
}

bool BatchMomentsFloatImpl(const float* HWY_RESTRICT values, int64_t n, si::BatchMoments* out) {
  return BatchMomentsImpl(values, n, out);
}
bool BatchMomentsDoubleImpl(const double* HWY_RESTRICT values, int64_t n, si::BatchMoments* out) {
  return BatchMomentsImpl(values, n, out);
}

}  // namespace HWY_NAMESPACE
}  // namespace onnx_reinit
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace onnx_reinit::stats_internal {

HWY_EXPORT(BatchMomentsFloatImpl);
HWY_EXPORT(BatchMomentsDoubleImpl);
HWY_EXPORT(HistogramFloatImpl);
HWY_EXPORT(HistogramDoubleImpl);

bool BatchMomentsOf(const float* values, int64_t n, BatchMoments* out) {
  return n > 0 && HWY_DYNAMIC_DISPATCH(BatchMomentsFloatImpl)(values, n, out);
}
bool BatchMomentsOf(const double* values, int64_t n, BatchMoments* out) {
  return n > 0 && HWY_DYNAMIC_DISPATCH(BatchMomentsDoubleImpl)(values, n, out);
}

void AddToHistogram(const float* values, int64_t n, double low, double scale, int bins,
                    int64_t* counts) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(HistogramFloatImpl)(values, n, low, scale, bins, counts);
}
void AddToHistogram(const double* values, int64_t n, double low, double scale, int bins,
                    int64_t* counts) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(HistogramDoubleImpl)(values, n, low, scale, bins, counts);
}

}  // namespace onnx_reinit::stats_internal
#endif  // HWY_ONCE
