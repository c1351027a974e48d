// The vectorized batch kernels declared in rng.h: Philox4x32-10 across SIMD lanes (one block per
// lane), and the float Box-Muller transform on whole vectors.
//
// Written with Highway (hwy/highway.h) and compiled once per x86 target (AVX-512 "AVX3", AVX2,
// SSE4, SSSE3, and portable code: "SCALAR" with GCC < 12.3, else "EMU128"); the best one the CPU
// supports is chosen at run time (HWY_DYNAMIC_DISPATCH). Every target runs the same sequence of
// operations: integer ops, exact conversions (int32 -> float, float -> double) and the correctly
// rounded IEEE float +, -, *, /, sqrt, min, max, lane by lane. No FMA (MulAdd) and no approximate
// reciprocal, and this file is compiled with -ffp-contract=off, so the compiler does not fuse a
// multiply and an add either. Hence every target, and the scalar reference functions in rng.cc
// (LogUnitFloat, CosSinTwoPiUnitFloat, BoxMullerWords), give the same bits (rng_test and fill_test
// check every target this CPU has).
// Partial vectors go through a full vector on a padded copy: there is no separate tail code.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "onnx_reinit/numerics/rng_simd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "onnx_reinit/numerics/rng.h"

// The kernels pass their per-vector steps as lambdas; inlined, the vectors stay in registers.
#define ONNX_REINIT_INLINE_LAMBDA __attribute__((always_inline))

HWY_BEFORE_NAMESPACE();
namespace onnx_reinit {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace ri = rng_internal;

using DU32 = hn::ScalableTag<uint32_t>;
using DI32 = hn::ScalableTag<int32_t>;
using DF32 = hn::ScalableTag<float>;
#if HWY_TARGET != HWY_SCALAR
using DU64 = hn::Repartition<uint64_t, DU32>;
#endif
using VU32 = hn::Vec<DU32>;
using VI32 = hn::Vec<DI32>;
using VF32 = hn::Vec<DF32>;

#if HWY_TARGET == HWY_SCALAR
// One lane (the fallback below SSSE3 with GCC < 12.3, which has no u64 view of a u32 vector).
template <int kVectors>
HWY_INLINE void PhiloxVectors(uint64_t seed, uint64_t stream, uint64_t first, VU32 (&w)[kVectors][4]) {
  const DU32 du32;
  for (int v = 0; v < kVectors; ++v) {
    const PhiloxBlock block = RandomBlock(seed, stream, first + v);
    for (int k = 0; k < 4; ++k) w[v][k] = hn::Set(du32, block[k]);
  }
}
#else
using VU64 = hn::Vec<DU64>;

// Philox4x32-10 on 64-bit lanes, one block per lane: only the low 32 bits of each lane are the
// word (MulEven reads only those), the high bits are don't-care. Per round and word pair: one
// 32x32->64 multiply, one shift for the high half, two XORs; the low half needs no work at all.
// kGroups independent sets of lanes go round by round together, so that their multiplies overlap
// (one set alone is bound by the latency of multiply -> shift -> XOR).
template <int kGroups>
HWY_INLINE void Philox64(VU64 (&c)[kGroups][4], uint32_t k0, uint32_t k1) {
  const DU32 du32;
  const DU64 du64;
  const VU32 m0 = hn::BitCast(du32, hn::Set(du64, ri::kPhiloxM0));
  const VU32 m1 = hn::BitCast(du32, hn::Set(du64, ri::kPhiloxM1));
  for (int round = 0; round < 10; ++round) {
    const VU64 key0 = hn::Set(du64, k0), key1 = hn::Set(du64, k1);
    for (int g = 0; g < kGroups; ++g) {
      const VU64 p0 = hn::MulEven(hn::BitCast(du32, c[g][0]), m0);
      const VU64 p1 = hn::MulEven(hn::BitCast(du32, c[g][2]), m1);
      c[g][0] = hn::Xor(hn::Xor(hn::ShiftRight<32>(p1), c[g][1]), key0);
      c[g][1] = p1;
      c[g][2] = hn::Xor(hn::Xor(hn::ShiftRight<32>(p0), c[g][3]), key1);
      c[g][3] = p0;
    }
    k0 += ri::kPhiloxW0;
    k1 += ri::kPhiloxW1;
  }
}

// The words of blocks first .. first + kVectors * Lanes(du32) - 1 of a stream: w[v][k] lane j =
// word k of block first + v * Lanes(du32) + j. Within a vector, blocks 2 i go through one set of
// 64-bit lanes and blocks 2 i + 1 through another, so that joining them (even u32 lane from the
// first, odd from the second) keeps the block order.
template <int kVectors>
HWY_INLINE void PhiloxVectors(uint64_t seed, uint64_t stream, uint64_t first, VU32 (&w)[kVectors][4]) {
  const DU32 du32;
  const DU64 du64;
  const VU64 two_i = hn::ShiftLeft<1>(hn::Iota(du64, 0));
  VU64 c[2 * kVectors][4];
  for (int g = 0; g < 2 * kVectors; ++g) {
    // 64-bit counters (block index in word 0 | word 1): the carry into word 1 is free.
    const uint64_t base = first + static_cast<uint64_t>(g / 2) * hn::Lanes(du32) + (g % 2);
    c[g][0] = hn::Add(hn::Set(du64, base), two_i);
    c[g][1] = hn::ShiftRight<32>(c[g][0]);
    c[g][2] = hn::Set(du64, stream);  // word 2 = its low half
    c[g][3] = hn::Set(du64, stream >> 32);
  }
  Philox64<2 * kVectors>(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  for (int v = 0; v < kVectors; ++v) {
    for (int k = 0; k < 4; ++k) {
      w[v][k] = hn::OddEven(hn::BitCast(du32, hn::ShiftLeft<32>(c[2 * v + 1][k])), hn::BitCast(du32, c[2 * v][k]));
    }
  }
}

#endif

// ln(UnitOpen23(word)) (mirrors LogUnitFloat in rng.cc, which documents the method).
HWY_INLINE VF32 LogUnit(VU32 word) {
  const DU32 du32;
  const DI32 di32;
  const DF32 df;
  const VI32 m = hn::BitCast(di32, hn::Or(hn::ShiftRight<8>(word), hn::Set(du32, 1u)));
  const VF32 u = hn::Mul(hn::ConvertTo(df, m), hn::Set(df, 0x1p-24f));
  const VI32 bits = hn::BitCast(di32, u);
  const VI32 e = hn::ShiftRight<23>(hn::Sub(bits, hn::Set(di32, ri::kLogReduceOffset)));
  const VF32 x = hn::BitCast(df, hn::Sub(bits, hn::ShiftLeft<23>(e)));
  const VF32 one = hn::Set(df, 1.0f);
  const VF32 s = hn::Div(hn::Sub(x, one), hn::Add(x, one));
  const VF32 z = hn::Mul(s, s);
  VF32 p = hn::Set(df, ri::kLogC[3]);
  for (int k = 2; k >= 1; --k) p = hn::Add(hn::Mul(p, z), hn::Set(df, ri::kLogC[k]));
  p = hn::Mul(p, z);
  const VF32 log_x = hn::Add(hn::Add(s, s), hn::Mul(s, p));
  const VF32 ef = hn::ConvertTo(df, e);
  return hn::Add(hn::Mul(ef, hn::Set(df, ri::kLn2Hi)), hn::Add(log_x, hn::Mul(ef, hn::Set(df, ri::kLn2Lo))));
}

// (cos, sin)(2 pi UnitOpen23(word)) (mirrors CosSinTwoPiUnitFloat in rng.cc).
HWY_INLINE void CosSinTwoPiUnit(VU32 word, VF32& cos_out, VF32& sin_out) {
  const DU32 du32;
  const DI32 di32;
  const DF32 df;
  const VI32 m = hn::BitCast(di32, hn::Or(hn::ShiftRight<8>(word), hn::Set(du32, 1u)));
  const VI32 n = hn::ShiftRight<22>(hn::Add(m, hn::Set(di32, 1 << 21)));  // nearest quarter turn
  const VF32 f = hn::Mul(hn::ConvertTo(df, hn::Sub(m, hn::ShiftLeft<22>(n))), hn::Set(df, 0x1p-24f));
  const VF32 z = hn::Mul(f, f);
  VF32 s = hn::Set(df, ri::kSinC[3]);
  for (int k = 2; k >= 0; --k) s = hn::Add(hn::Mul(s, z), hn::Set(df, ri::kSinC[k]));
  s = hn::Mul(s, f);
  VF32 c = hn::Set(df, ri::kCosC[4]);
  for (int k = 3; k >= 0; --k) c = hn::Add(hn::Mul(c, z), hn::Set(df, ri::kCosC[k]));
  // Rotate by n quarter turns: q = 0: (c, s), 1: (-s, c), 2: (-c, -s), 3: (s, -c).
  const VI32 q = hn::And(n, hn::Set(di32, 3));
  const auto swap = hn::RebindMask(df, hn::Eq(hn::And(q, hn::Set(di32, 1)), hn::Zero(di32)));
  const VF32 cos_abs = hn::IfThenElse(swap, c, s);  // mask true: no swap
  const VF32 sin_abs = hn::IfThenElse(swap, s, c);
  const VI32 two = hn::Set(di32, 2);
  const VF32 cos_sign = hn::BitCast(df, hn::ShiftLeft<30>(hn::And(hn::Add(q, hn::Set(di32, 1)), two)));
  const VF32 sin_sign = hn::BitCast(df, hn::ShiftLeft<30>(hn::And(q, two)));
  cos_out = hn::Xor(cos_abs, cos_sign);
  sin_out = hn::Xor(sin_abs, sin_sign);
}

// Box-Muller on word vectors (mirrors BoxMullerWords in rng.cc).
HWY_INLINE void BoxMuller(VU32 w1, VU32 w2, VF32& z1, VF32& z2) {
  const DF32 df;
  const VF32 radius = hn::Sqrt(hn::Mul(LogUnit(w1), hn::Set(df, -2.0f)));
  VF32 c, s;
  CosSinTwoPiUnit(w2, c, s);
  z1 = hn::Mul(radius, c);
  z2 = hn::Mul(radius, s);
}

// Blocks per Philox call in the loops below: two vectors' worth, for overlap (see Philox64).
constexpr int kVectorsPerStep = 2;

// Runs step(first_block, w) for blocks [first_block, first_block + num_blocks) in vectors of
// Lanes(du32) blocks (w = the 4 word vectors of one), two vectors per Philox call where possible.
// The last vector may run past num_blocks: the step must then keep only the blocks it needs.
template <class Step>
HWY_INLINE void ForBlockVectors(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t num_blocks,
                                const Step& step) {
  const DU32 du32;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(du32));
  int64_t b = 0;
  for (; b + kVectorsPerStep * lanes <= num_blocks; b += kVectorsPerStep * lanes) {
    VU32 w[kVectorsPerStep][4];
    PhiloxVectors<kVectorsPerStep>(seed, stream, first_block + b, w);
    for (int v = 0; v < kVectorsPerStep; ++v) step(b + v * lanes, w[v]);
  }
  for (; b < num_blocks; b += lanes) {
    VU32 w[1][4];
    PhiloxVectors<1>(seed, stream, first_block + b, w);
    step(b, w[0]);
  }
}

void RandomWordsImpl(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t num_blocks,
                     uint32_t* HWY_RESTRICT out) {
  const DU32 du32;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(du32));
  ForBlockVectors(seed, stream, first_block, num_blocks, [&](int64_t b, const VU32(&w)[4]) ONNX_REINIT_INLINE_LAMBDA {
    if (b + lanes <= num_blocks) {
      hn::StoreInterleaved4(w[0], w[1], w[2], w[3], du32, out + 4 * b);
    } else {
      HWY_ALIGN uint32_t tail[4 * hn::MaxLanes(du32)];
      hn::StoreInterleaved4(w[0], w[1], w[2], w[3], du32, tail);
      std::memcpy(out + 4 * b, tail, sizeof(uint32_t) * 4 * (num_blocks - b));
    }
  });
}

// The interleaved standard normals of one vector of blocks.
HWY_INLINE void NormalsOfBlocks(const VU32 (&w)[4], float* HWY_RESTRICT out) {
  const DF32 df;
  VF32 z[4];
  BoxMuller(w[0], w[1], z[0], z[1]);
  BoxMuller(w[2], w[3], z[2], z[3]);
  hn::StoreInterleaved4(z[0], z[1], z[2], z[3], df, out);
}

void StandardNormalsFloatImpl(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t num_blocks,
                              float* HWY_RESTRICT out) {
  const DF32 df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  ForBlockVectors(seed, stream, first_block, num_blocks, [&](int64_t b, const VU32(&w)[4]) ONNX_REINIT_INLINE_LAMBDA {
    if (b + lanes <= num_blocks) {
      NormalsOfBlocks(w, out + 4 * b);
    } else {
      HWY_ALIGN float tail[4 * hn::MaxLanes(df)];
      NormalsOfBlocks(w, tail);
      std::memcpy(out + 4 * b, tail, sizeof(float) * 4 * (num_blocks - b));
    }
  });
}

// Runs values(w, dst) for each vector of blocks covering elements [begin, end) (4 per block):
// values writes the vector's 4 Lanes(du32) values, of type T, to the bytes at dst, which are those
// of `out` itself where the vector lies inside the range and a scratch buffer (copied from) at the
// ends. `out` need not be aligned.
template <typename T, class Values>
HWY_INLINE void ForElementRange(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, char* HWY_RESTRICT out,
                                const Values& values) {
  const DU32 du32;
  const int64_t per_vector = 4 * static_cast<int64_t>(hn::Lanes(du32));
  const int64_t first_block = begin / 4;
  const int64_t num_blocks = (end + 3) / 4 - first_block;
  ForBlockVectors(seed, stream, static_cast<uint64_t>(first_block), num_blocks,
                  [&](int64_t b, const VU32(&w)[4]) ONNX_REINIT_INLINE_LAMBDA {
                    const int64_t e0 = 4 * (first_block + b);  // the vector's first element
                    if (e0 >= begin && e0 + per_vector <= end) {
                      values(w, out + sizeof(T) * (e0 - begin));
                    } else {
                      HWY_ALIGN T scratch[4 * hn::MaxLanes(du32)];
                      values(w, reinterpret_cast<char*>(scratch));
                      const int64_t lo = std::max(begin, e0), hi = std::min(end, e0 + per_vector);
                      std::memcpy(out + sizeof(T) * (lo - begin), scratch + (lo - e0), sizeof(T) * (hi - lo));
                    }
                  });
}

using DF64 = hn::ScalableTag<double>;
using VF64 = hn::Vec<DF64>;
using DF32H = hn::Rebind<float, DF64>;  // a float vector with as many lanes as DF64
using DU32H = hn::Rebind<uint32_t, DF64>;
using DI32H = hn::Rebind<int32_t, DF64>;

// x rounded to float (nearest even), as a double.
HWY_INLINE VF64 RoundToFloat(VF64 x) {
  const DF64 df64;
  const DF32H df32h;
  return hn::PromoteTo(df64, hn::DemoteTo(df32h, x));
}

// Stores a vector's 4 x Lanes(df) float values (interleaved: block by block) at dst, as T: float
// (through an aligned block, since dst may not be aligned) or double (exactly; dst is then a
// double array's).
template <typename T>
HWY_INLINE void StoreValues(const VF32 (&v)[4], char* HWY_RESTRICT dst) {
  const DF32 df;
  HWY_ALIGN float values[4 * hn::MaxLanes(df)];
  hn::StoreInterleaved4(v[0], v[1], v[2], v[3], df, values);
  if constexpr (std::is_same_v<T, float>) {
    std::memcpy(dst, values, sizeof(float) * 4 * hn::Lanes(df));
  } else {
    const DF64 df64;
    const DF32H df32h;
    const int64_t per_vector = 4 * static_cast<int64_t>(hn::Lanes(df));
    const int64_t step = static_cast<int64_t>(hn::Lanes(df64));
    double* const doubles = reinterpret_cast<double*>(dst);  // the callers' double arrays
    for (int64_t k = 0; k < per_vector; k += step) {
      hn::StoreU(hn::PromoteTo(df64, hn::Load(df32h, values + k)), df64, doubles + k);
    }
  }
}

template <typename T>
void NormalFloat32ValuesImpl(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, float mean, float std,
                             char* HWY_RESTRICT out) {
  const DF32 df;
  const VF32 vmean = hn::Set(df, mean), vstd = hn::Set(df, std);
  ForElementRange<T>(seed, stream, begin, end, out,
                     [&](const VU32(&w)[4], char* HWY_RESTRICT dst) ONNX_REINIT_INLINE_LAMBDA {
                       VF32 z[4];
                       BoxMuller(w[0], w[1], z[0], z[1]);
                       BoxMuller(w[2], w[3], z[2], z[3]);
                       for (VF32& v : z) v = hn::Add(vmean, hn::Mul(vstd, v));
                       StoreValues<T>(z, dst);
                     });
}

template <typename T>
bool UniformFloat32ValuesImpl(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, double low, double high,
                              char* HWY_RESTRICT out) {
  const DU32 du32;
  const DI32 di32;
  const DF32 df;
  const VF32 vlow = hn::Set(df, static_cast<float>(low));
  const VF32 vwidth = hn::Set(df, static_cast<float>(high - low)), scale = hn::Set(df, 0x1p-24f);
  const VU32 one = hn::Set(du32, 1u);
  VF32 lowest = hn::Set(df, HUGE_VALF), highest = hn::Set(df, -HUGE_VALF);
  ForElementRange<T>(
      seed, stream, begin, end, out, [&](const VU32(&w)[4], char* HWY_RESTRICT dst) ONNX_REINIT_INLINE_LAMBDA {
        VF32 v[4];
        for (int k = 0; k < 4; ++k) {
          // UnitOpen23 = ((w >> 8) | 1) * 2^-24, exact in a float.
          const VF32 unit = hn::Mul(hn::ConvertTo(df, hn::BitCast(di32, hn::Or(hn::ShiftRight<8>(w[k]), one))), scale);
          v[k] = hn::Add(vlow, hn::Mul(unit, vwidth));
          lowest = hn::Min(lowest, v[k]);
          highest = hn::Max(highest, v[k]);
        }
        StoreValues<T>(v, dst);
      });
  // (The scratch vectors at the range's ends also count values outside it: at worst a false alarm.)
  const double min = hn::GetLane(hn::MinOfLanes(df, lowest)), max = hn::GetLane(hn::MaxOfLanes(df, highest));
  return min < low || max > high;
}

// HWY_EXPORT takes plain functions: one per output type.
void NormalFloat32ToDoubleImpl(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, float mean, float std,
                               double* HWY_RESTRICT out) {
  NormalFloat32ValuesImpl<double>(seed, stream, begin, end, mean, std, reinterpret_cast<char*>(out));
}
void NormalFloat32ToBytesImpl(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, float mean, float std,
                              char* HWY_RESTRICT out) {
  NormalFloat32ValuesImpl<float>(seed, stream, begin, end, mean, std, out);
}
bool UniformFloat32ToDoubleImpl(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, double low, double high,
                                double* HWY_RESTRICT out) {
  return UniformFloat32ValuesImpl<double>(seed, stream, begin, end, low, high, reinterpret_cast<char*>(out));
}
bool UniformFloat32ToBytesImpl(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, double low, double high,
                               char* HWY_RESTRICT out) {
  return UniformFloat32ValuesImpl<float>(seed, stream, begin, end, low, high, out);
}

void BoxMullerWordsBatchImpl(const uint32_t* HWY_RESTRICT words, int64_t num_pairs, float* HWY_RESTRICT out) {
  const DU32 du32;
  const DF32 df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(du32));
  for (int64_t j = 0; j < num_pairs; j += lanes) {
    const int64_t n = std::min(lanes, num_pairs - j);
    HWY_ALIGN uint32_t in[2 * hn::MaxLanes(du32)] = {};
    std::memcpy(in, words + 2 * j, sizeof(uint32_t) * 2 * n);
    VU32 w1, w2;
    hn::LoadInterleaved2(du32, in, w1, w2);
    VF32 z1, z2;
    BoxMuller(w1, w2, z1, z2);
    HWY_ALIGN float result[2 * hn::MaxLanes(df)];
    hn::StoreInterleaved2(z1, z2, df, result);
    std::memcpy(out + 2 * j, result, sizeof(float) * 2 * n);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace onnx_reinit
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <string>
#include <vector>

#include "hwy/targets.h"

namespace onnx_reinit {

HWY_EXPORT(RandomWordsImpl);
HWY_EXPORT(StandardNormalsFloatImpl);
HWY_EXPORT(BoxMullerWordsBatchImpl);
HWY_EXPORT(NormalFloat32ToDoubleImpl);
HWY_EXPORT(NormalFloat32ToBytesImpl);
HWY_EXPORT(UniformFloat32ToDoubleImpl);
HWY_EXPORT(UniformFloat32ToBytesImpl);

void NormalFloat32Values(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, float mean, float std,
                         double* out) {
  if (end <= begin) return;
  HWY_DYNAMIC_DISPATCH(NormalFloat32ToDoubleImpl)(seed, stream, begin, end, mean, std, out);
}

void NormalFloat32Bytes(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, float mean, float std, char* out) {
  if (end <= begin) return;
  HWY_DYNAMIC_DISPATCH(NormalFloat32ToBytesImpl)(seed, stream, begin, end, mean, std, out);
}

bool UniformFloat32Values(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, double low, double high,
                          double* out) {
  if (end <= begin) return false;
  return HWY_DYNAMIC_DISPATCH(UniformFloat32ToDoubleImpl)(seed, stream, begin, end, low, high, out);
}

bool UniformFloat32Bytes(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, double low, double high,
                         char* out) {
  if (end <= begin) return false;
  return HWY_DYNAMIC_DISPATCH(UniformFloat32ToBytesImpl)(seed, stream, begin, end, low, high, out);
}

void RandomWords(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t num_blocks, uint32_t* out) {
  if (num_blocks <= 0) return;
  HWY_DYNAMIC_DISPATCH(RandomWordsImpl)(seed, stream, first_block, num_blocks, out);
}

void StandardNormalsFloat(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t num_blocks, float* out) {
  if (num_blocks <= 0) return;
  HWY_DYNAMIC_DISPATCH(StandardNormalsFloatImpl)(seed, stream, first_block, num_blocks, out);
}

void BoxMullerWordsBatch(const uint32_t* words, int64_t num_pairs, float* out) {
  if (num_pairs <= 0) return;
  HWY_DYNAMIC_DISPATCH(BoxMullerWordsBatchImpl)(words, num_pairs, out);
}

std::vector<std::string> SimdTargets() {
  std::vector<std::string> names;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) names.push_back(hwy::TargetName(target));
  return names;
}

bool UseSimdTarget(const std::string& name) {
  hwy::SetSupportedTargetsForTest(0);  // back to what the CPU supports
  if (name.empty()) return true;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    if (name == hwy::TargetName(target)) {
      hwy::SetSupportedTargetsForTest(target);
      return true;
    }
  }
  return false;
}

std::string CurrentSimdTarget() {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  return targets.empty() ? "" : hwy::TargetName(targets.front());
}

}  // namespace onnx_reinit
#endif  // HWY_ONCE
