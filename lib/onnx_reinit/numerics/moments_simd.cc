// The vectorized kernels declared in stats.h (stats_internal): the moments of a batch of float32
// or float64 values - the sum, min, max and zero count, then the sum of squared deviations from
// the batch mean, accumulated in float64 - and histogram counts (by the bin number of each value,
// computed in float64 as ComputeHistograms defines it, so that every target counts the same).
//
// Compiled once per x86 target with Highway, like rng_simd.cc, and chosen at run time. The
// accumulation order is fixed and the same on every target: value k of the batch goes to logical
// lane k % 16 (one AVX-512 vector of 8 doubles holds lanes 0-7, an AVX2 one 0-3, ...), the 16
// lanes are added in a fixed tree, and the tail of fewer than 16 values is added after, in order.
// Only correctly rounded IEEE adds, subtracts and multiplies (no FMA; this file is compiled with
// -ffp-contract=off), so every target gives the same bits (stats_test checks each one).

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "onnx_reinit/numerics/moments_simd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "onnx_reinit/numerics/simd_load-inl.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "onnx_reinit/numerics/moments.h"

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
// it); the lane computation is exact per value, so any vector width counts the same. The floor
// comes first: DemoteTo truncates on x86 but rounds on some targets (SCALAR). Meaningless for NaN
// and Inf, which the callers drop.
HWY_INLINE VD Bin(const VD x, const VD low, const VD scale, const VD last) {
  return hn::Floor(hn::Min(hn::Mul(hn::Sub(x, low), scale), last));
}

// Bin() for one value, with its result where the position is NaN - (x - low) overflows to inf
// when a float64 tensor spans -DBL_MAX..DBL_MAX, and the scale is then 0 - or past the last bin:
// the last bin, as x86's min returns its second operand when one is NaN. (Converting NaN to int
// is undefined, and gave an index of INT_MIN.)
inline int ScalarBin(double x, double low, double scale, int bins) {
  const double position = (x - low) * scale;
  return position < bins - 1 ? static_cast<int>(position) : bins - 1;
}

// Up to 32 bins on AVX-512, counted without a store per value: every 64-bit lane holds one
// kFieldBits-bit counter per bin (4 bits for up to 16 bins, 2 for up to 32; a value adds
// 1 << (kFieldBits * bin)), emptied before it can overflow into 4-bit counters (with 2-bit ones,
// even and odd bins apart), those into 8-bit ones, and those into counts. With 8 doubles per
// vector that is 1.6x (16 bins) and 1.4x (32 bins) the speed of one increment per value; with 4
// or fewer it is slower beyond 16 bins and little faster below, so those targets increment.
template <int kFieldBits, typename T>
void PackedHistogram(const T* HWY_RESTRICT values, int64_t n, double low, double scale, int bins,
                     int64_t* HWY_RESTRICT counts) {
  static_assert(kFieldBits == 4 || kFieldBits == 2, "4- or 2-bit counters");
  constexpr int kNibbleSets = 4 / kFieldBits;              // 2-bit fields: even, odd bins
  constexpr int kVectorsPerField = (1 << kFieldBits) - 1;  // before a field can overflow
  constexpr int kFieldsPerNibble = 15 / kVectorsPerField;  // 4-bit counters hold 15
  constexpr int kNibblesPerByte = 17;                      // 8-bit counters hold 17 x 15
  const DD dd;
  const hn::RebindToUnsigned<DD> du;
  using VU = hn::Vec<decltype(du)>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  const VD vlow = hn::Set(dd, low), vscale = hn::Set(dd, scale), last = hn::Set(dd, bins - 1);
  const VD magic = hn::Set(dd, 0x1p52);
  const VU one = hn::Set(du, 1), field = hn::Set(du, 64 / kFieldBits - 1);
  const VU low_pairs = hn::Set(du, 0x3333333333333333ull), low_nibbles = hn::Set(du, 0x0F0F0F0F0F0F0F0Full);
  HWY_ALIGN uint64_t bytes[2 * kNibbleSets * hn::MaxLanes(du)];
  const int64_t body = n - n % N;
  int64_t k = 0;
  while (k < body) {
    VU byte_counts[2 * kNibbleSets];
    for (VU& v : byte_counts) v = hn::Zero(du);
    for (int round = 0; round < kNibblesPerByte && k < body; ++round) {
      VU nibbles[kNibbleSets];
      for (VU& v : nibbles) v = hn::Zero(du);
      for (int f = 0; f < kFieldsPerNibble && k < body; ++f) {
        VU fields = hn::Zero(du);
        for (const int64_t end = std::min(body, k + kVectorsPerField * N); k < end; k += N) {
          __builtin_prefetch(reinterpret_cast<const char*>(values + k) + kPrefetchBytes);
          const VD x = LoadAsDouble(values + k);
          // bin + 2^52: its bits read 0x4330000000000000 + bin
          const VU bits = hn::BitCast(du, hn::Add(Bin(x, vlow, vscale, last), magic));
          const VU one_hot = one << hn::ShiftLeft<kFieldBits / 2>(hn::And(bits, field));
          fields = hn::Add(fields, hn::IfThenElseZero(hn::RebindMask(du, hn::IsFinite(x)), one_hot));
        }
        if constexpr (kNibbleSets == 1) {
          nibbles[0] = hn::Add(nibbles[0], fields);
        } else {
          nibbles[0] = hn::Add(nibbles[0], hn::And(fields, low_pairs));
          nibbles[1] = hn::Add(nibbles[1], hn::And(hn::ShiftRight<2>(fields), low_pairs));
        }
      }
      for (int p = 0; p < kNibbleSets; ++p) {
        byte_counts[2 * p] = hn::Add(byte_counts[2 * p], hn::And(nibbles[p], low_nibbles));
        byte_counts[2 * p + 1] = hn::Add(byte_counts[2 * p + 1], hn::And(hn::ShiftRight<4>(nibbles[p]), low_nibbles));
      }
    }
    for (int c = 0; c < 2 * kNibbleSets; ++c) hn::Store(byte_counts[c], du, bytes + c * N);
    // Byte j of byte_counts[2p + q] counts field 2j + q of nibble set p: bin (2j + q) * sets + p.
    for (int p = 0; p < kNibbleSets; ++p) {
      for (int q = 0; q < 2; ++q) {
        for (int64_t lane = 0; lane < N; ++lane) {
          const uint64_t word = bytes[(2 * p + q) * N + lane];
          for (int j = 0; j < 8; ++j) {
            const int bin = (2 * j + q) * kNibbleSets + p;
            if (bin < bins) counts[bin] += static_cast<int64_t>((word >> (8 * j)) & 0xFF);
          }
        }
      }
    }
  }
  for (; k < n; ++k) {
    const double x = ScalarAsDouble(values + k);
    if (std::abs(x) <= DBL_MAX) ++counts[ScalarBin(x, low, scale, bins)];
  }
}

// Any number of bins: bin numbers for a block of values first, then the counting, into kCopies
// interleaved histograms, so that runs of values in one bin do not wait on each other's increments.
template <typename T>
void ScatteredHistogram(const T* HWY_RESTRICT values, int64_t n, double low, double scale, int bins,
                        int64_t* HWY_RESTRICT counts) {
  const DD dd;
  const hn::Rebind<int32_t, DD> di;
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  const VD vlow = hn::Set(dd, low), vscale = hn::Set(dd, scale);
  const VD last = hn::Set(dd, bins - 1), dropped = hn::Set(dd, bins);
  // Slot `bins` of each copy counts NaN and Inf, which are dropped.
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
      const VD bin = hn::IfThenElse(hn::IsFinite(x), Bin(x, vlow, vscale, last), dropped);
      hn::Store(hn::DemoteTo(di, bin), di, index + (k - block));
    }
    const int64_t count = block_end - block;  // a multiple of kCopies
    for (int64_t j = 0; j < count; j += kCopies) {
      for (int c = 0; c < kCopies; ++c) ++copies[c * stride + index[j + c]];
    }
  }
  for (int64_t k = body; k < n; ++k) {
    const double x = ScalarAsDouble(values + k);
    if (std::abs(x) <= DBL_MAX) ++copies[ScalarBin(x, low, scale, bins)];
  }
  for (int c = 0; c < kCopies; ++c) {
    for (int b = 0; b < bins; ++b) counts[b] += copies[c * stride + b];
  }
}

template <typename T>
void HistogramImpl(const T* HWY_RESTRICT values, int64_t n, double low, double scale, int bins,
                   int64_t* HWY_RESTRICT counts) {
  if (hn::MaxLanes(DD()) >= 8 && bins <= 16) {
    PackedHistogram<4>(values, n, low, scale, bins, counts);
  } else if (hn::MaxLanes(DD()) >= 8 && bins <= 32) {
    PackedHistogram<2>(values, n, low, scale, bins, counts);
  } else {
    ScatteredHistogram(values, n, low, scale, bins, counts);
  }
}

void HistogramFloatImpl(const float* HWY_RESTRICT values, int64_t n, double low, double scale, int bins,
                        int64_t* HWY_RESTRICT counts) {
  HistogramImpl(values, n, low, scale, bins, counts);
}
void HistogramDoubleImpl(const double* HWY_RESTRICT values, int64_t n, double low, double scale, int bins,
                         int64_t* HWY_RESTRICT counts) {
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

void AddToHistogram(const float* values, int64_t n, double low, double scale, int bins, int64_t* counts) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(HistogramFloatImpl)(values, n, low, scale, bins, counts);
}
void AddToHistogram(const double* values, int64_t n, double low, double scale, int bins, int64_t* counts) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(HistogramDoubleImpl)(values, n, low, scale, bins, counts);
}

}  // namespace onnx_reinit::stats_internal
#endif  // HWY_ONCE
