// Per-target SIMD helpers shared by the statistics kernels (stats_simd.cc, spectral_simd.cc):
// included once per Highway target, hence the toggling guard (Highway's -inl.h convention).
#if defined(ONNX_REINIT_NUMERICS_SIMD_LOAD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ONNX_REINIT_NUMERICS_SIMD_LOAD_INL_H_
#undef ONNX_REINIT_NUMERICS_SIMD_LOAD_INL_H_
#else
#define ONNX_REINIT_NUMERICS_SIMD_LOAD_INL_H_
#endif

#include <cstring>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace onnx_reinit {
namespace HWY_NAMESPACE {

// A vector of doubles from float32 or float64 values at p (any alignment); the conversion is exact.
template <typename T>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<hwy::HWY_NAMESPACE::ScalableTag<double>> LoadAsDouble(const T* HWY_RESTRICT p) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::ScalableTag<double> dd;
  if constexpr (sizeof(T) == 4) {
    return hn::PromoteTo(dd, hn::LoadU(hn::Rebind<float, decltype(dd)>(), p));
  } else {
    return hn::LoadU(dd, p);
  }
}

// One float32 or float64 value at p as a double. The values are often read in place from a
// tensor's raw_data, which need not be aligned for T: a plain p[0] would be undefined behaviour.
template <typename T>
HWY_INLINE double ScalarAsDouble(const T* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return static_cast<double>(value);
}

}  // namespace HWY_NAMESPACE
}  // namespace onnx_reinit
HWY_AFTER_NAMESPACE();

#endif  // ONNX_REINIT_NUMERICS_SIMD_LOAD_INL_H_
