// The row kernel of TopSingularValues (spectral.h): one pass over rows of a matrix computing
// w += (a·v - shift) a. Compiled per x86 target with Highway and chosen at run time, like
// stats_simd.cc: the dot products sum in 16 logical lanes (value k of a row to lane k % 16, the
// lanes added in a fixed tree, the tail after), the update of w is lane-wise, and there is no FMA
// (-ffp-contract=off), so every target gives the same bits.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "onnx_reinit/numerics/spectral_simd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "onnx_reinit/numerics/simd_load-inl.h"

#include <cstdint>

#include "onnx_reinit/numerics/spectral.h"

HWY_BEFORE_NAMESPACE();
namespace onnx_reinit {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DD = hn::ScalableTag<double>;
using VD = hn::Vec<DD>;
constexpr int64_t kLanes = 16;
constexpr int64_t kPrefetchBytes = 4096;

// The dot products of kRows rows with v, each exactly as one row alone would sum it (lane k % 16,
// fixed tree, tail after): the rows share the loads of v.
template <int kRows, typename T>
HWY_INLINE void Dots(const T* HWY_RESTRICT a, int64_t cols, const double* HWY_RESTRICT v, double (&out)[kRows]) {
  const DD dd;
  constexpr int kVectors = static_cast<int>(kLanes / hn::MaxLanes(dd));
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  VD sum[kRows][kVectors];
  for (int r = 0; r < kRows; ++r) {
    for (int j = 0; j < kVectors; ++j) sum[r][j] = hn::Zero(dd);
  }
  const int64_t body = cols - cols % kLanes;
  for (int64_t k = 0; k < body; k += kLanes) {
    for (int r = 0; r < kRows; ++r) {
      __builtin_prefetch(reinterpret_cast<const char*>(a + r * cols + k) + kPrefetchBytes);
    }
    for (int j = 0; j < kVectors; ++j) {
      const VD vj = hn::LoadU(dd, v + k + j * N);
      for (int r = 0; r < kRows; ++r) {
        sum[r][j] = hn::Add(sum[r][j], hn::Mul(LoadAsDouble(a + r * cols + k + j * N), vj));
      }
    }
  }
  for (int r = 0; r < kRows; ++r) {
    HWY_ALIGN double lanes[kLanes];
    for (int j = 0; j < kVectors; ++j) hn::Store(sum[r][j], dd, lanes + j * N);
    for (int width = kLanes / 2; width >= 1; width /= 2) {
      for (int j = 0; j < width; ++j) lanes[j] = lanes[j] + lanes[j + width];
    }
    out[r] = lanes[0];
    for (int64_t k = body; k < cols; ++k) out[r] += ScalarAsDouble(a + r * cols + k) * v[k];
  }
}

// kRows rows at a time: w = (((w + t0 a0) + t1 a1) + ...), the same sums as row by row, with one
// load and store of w (and of v above) per kRows rows: for long rows, w and v live in L2, and their
// traffic, not the matrix's, would bound the pass.
template <int kRows, typename T>
HWY_INLINE void AccumulateBlock(const T* HWY_RESTRICT a, int64_t cols, const double* HWY_RESTRICT v, double shift,
                                double* HWY_RESTRICT w, double* HWY_RESTRICT t_sum) {
  const DD dd;
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  double t[kRows];
  Dots<kRows>(a, cols, v, t);
  VD vt[kRows];
  for (int r = 0; r < kRows; ++r) {
    t[r] -= shift;
    *t_sum += t[r];
    vt[r] = hn::Set(dd, t[r]);
  }
  const int64_t body = cols - cols % N;
  for (int64_t k = 0; k < body; k += N) {  // the rows are in the cache now
    VD acc = hn::LoadU(dd, w + k);
    for (int r = 0; r < kRows; ++r) acc = hn::Add(acc, hn::Mul(vt[r], LoadAsDouble(a + r * cols + k)));
    hn::StoreU(acc, dd, w + k);
  }
  for (int64_t k = body; k < cols; ++k) {
    for (int r = 0; r < kRows; ++r) w[k] += t[r] * ScalarAsDouble(a + r * cols + k);
  }
}

template <typename T>
void AccumulateRowsImpl(const T* HWY_RESTRICT rows, int64_t num_rows, int64_t cols, const double* HWY_RESTRICT v,
                        double shift, double* HWY_RESTRICT w, double* HWY_RESTRICT t_sum) {
  constexpr int kBlockRows = 4;
  int64_t r = 0;
  for (; r + kBlockRows <= num_rows; r += kBlockRows) {
    AccumulateBlock<kBlockRows>(rows + r * cols, cols, v, shift, w, t_sum);
  }
  for (; r < num_rows; ++r) AccumulateBlock<1>(rows + r * cols, cols, v, shift, w, t_sum);
}

void AccumulateFloatRows(const float* HWY_RESTRICT rows, int64_t num_rows, int64_t cols, const double* HWY_RESTRICT v,
                         double shift, double* HWY_RESTRICT w, double* HWY_RESTRICT t_sum) {
  AccumulateRowsImpl(rows, num_rows, cols, v, shift, w, t_sum);
}
void AccumulateDoubleRows(const double* HWY_RESTRICT rows, int64_t num_rows, int64_t cols, const double* HWY_RESTRICT v,
                          double shift, double* HWY_RESTRICT w, double* HWY_RESTRICT t_sum) {
  AccumulateRowsImpl(rows, num_rows, cols, v, shift, w, t_sum);
}

}  // namespace HWY_NAMESPACE
}  // namespace onnx_reinit
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace onnx_reinit::spectral_internal {

HWY_EXPORT(AccumulateFloatRows);
HWY_EXPORT(AccumulateDoubleRows);

void AccumulateRows(const float* rows, int64_t num_rows, int64_t cols, const double* v, double shift, double* w,
                    double* t_sum) {
  HWY_DYNAMIC_DISPATCH(AccumulateFloatRows)(rows, num_rows, cols, v, shift, w, t_sum);
}
void AccumulateRows(const double* rows, int64_t num_rows, int64_t cols, const double* v, double shift, double* w,
                    double* t_sum) {
  HWY_DYNAMIC_DISPATCH(AccumulateDoubleRows)(rows, num_rows, cols, v, shift, w, t_sum);
}

}  // namespace onnx_reinit::spectral_internal
#endif  // HWY_ONCE
