#include "onnx_reinit/numerics/rng.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace onnx_reinit {
namespace {

using rng_internal::kPhiloxM0;
using rng_internal::kPhiloxM1;
using rng_internal::kPhiloxW0;
using rng_internal::kPhiloxW1;

inline void MulHiLo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}

inline PhiloxBlock PhiloxRound(const PhiloxBlock& c, const std::array<uint32_t, 2>& k) {
  uint32_t hi0, lo0, hi1, lo1;
  MulHiLo(kPhiloxM0, c[0], hi0, lo0);
  MulHiLo(kPhiloxM1, c[2], hi1, lo1);
  return {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
}

}  // namespace

PhiloxBlock Philox4x32_10(PhiloxBlock counter, std::array<uint32_t, 2> key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kPhiloxW0;
      key[1] += kPhiloxW1;
    }
    counter = PhiloxRound(counter, key);
  }
  return counter;
}

uint64_t StreamIdForName(absl::string_view name) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a offset basis
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 0x100000001b3ull;  // FNV prime
  }
  // SplitMix64 finalizer (Steele, Lea, Flood, "Fast splittable pseudorandom number generators").
  hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ull;
  hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebull;
  return hash ^ (hash >> 31);
}

PhiloxBlock RandomBlock(uint64_t seed, uint64_t stream, uint64_t block) {
  const PhiloxBlock counter = {static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                               static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)};
  return Philox4x32_10(counter, {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
}

std::array<double, 2> BoxMuller(double u1, double u2) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = kTwoPi * u2;
  return {radius * std::cos(angle), radius * std::sin(angle)};
}

// The scalar references of the float-grade transforms. rng_simd.cc performs the same operations in
// the same order on vectors (this file and that one are compiled with -ffp-contract=off): keep them
// in step.

namespace {

inline float FloatFromBits(int32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

inline int32_t BitsFromFloat(float value) {
  int32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

// (w >> 8) | 1: UnitOpen23(w) = m * 2^-24, m odd in [1, 2^24).
inline int32_t UnitNumerator(uint32_t word) { return static_cast<int32_t>((word >> 8) | 1u); }

}  // namespace

float LogUnitFloat(uint32_t word) {
  using namespace rng_internal;
  const float u = static_cast<float>(UnitNumerator(word)) * 0x1p-24f;
  const int32_t bits = BitsFromFloat(u);
  const int32_t e = (bits - kLogReduceOffset) >> 23;  // arithmetic shift: floor
  const float x = FloatFromBits(bits - static_cast<int32_t>(static_cast<uint32_t>(e) << 23));
  const float s = (x - 1.0f) / (x + 1.0f);
  const float z = s * s;
  float p = kLogC[3];
  for (int k = 2; k >= 1; --k) p = p * z + kLogC[k];
  p = p * z;
  const float log_x = (s + s) + s * p;
  const float ef = static_cast<float>(e);
  return ef * kLn2Hi + (log_x + ef * kLn2Lo);
}

std::array<float, 2> CosSinTwoPiUnitFloat(uint32_t word) {
  using namespace rng_internal;
  const int32_t m = UnitNumerator(word);
  const int32_t n = (m + (1 << 21)) >> 22;  // the nearest quarter turn, 0..4
  const float f = static_cast<float>(m - (n << 22)) * 0x1p-24f;
  const float z = f * f;
  float s = kSinC[3];
  for (int k = 2; k >= 0; --k) s = s * z + kSinC[k];
  s = s * f;
  float c = kCosC[4];
  for (int k = 3; k >= 0; --k) c = c * z + kCosC[k];
  const int32_t q = n & 3;
  const float cos_abs = (q & 1) == 0 ? c : s;
  const float sin_abs = (q & 1) == 0 ? s : c;
  // Signs by flipping the sign bit, as the vector code does: cos < 0 for q = 1, 2; sin < 0 for q = 2, 3.
  const int32_t cos_sign = static_cast<int32_t>(static_cast<uint32_t>((q + 1) & 2) << 30);
  const int32_t sin_sign = static_cast<int32_t>(static_cast<uint32_t>(q & 2) << 30);
  return {FloatFromBits(BitsFromFloat(cos_abs) ^ cos_sign), FloatFromBits(BitsFromFloat(sin_abs) ^ sin_sign)};
}

std::array<float, 2> BoxMullerWords(uint32_t w1, uint32_t w2) {
  const float radius = std::sqrt(LogUnitFloat(w1) * -2.0f);
  const std::array<float, 2> cos_sin = CosSinTwoPiUnitFloat(w2);
  return {radius * cos_sin[0], radius * cos_sin[1]};
}

double NormalCdf(double x) { return 0.5 * std::erfc(-x * 0.70710678118654752440); }

namespace {

// Horner evaluation of c[0] + c[1] x + ... + c[7] x^7.
inline double Poly7(const double (&c)[8], double x) {
  double sum = c[7];
  for (int k = 6; k >= 0; --k) sum = sum * x + c[k];
  return sum;
}

// AS 241 PPND16 coefficients (Wichura 1988), for |p - 0.5| <= 0.425 (a/b), for
// r = sqrt(-log(min(p, 1 - p))) <= 5 (c/d), and beyond (e/f).
constexpr double kA[8] = {3.3871328727963666080e0,  1.3314166789178437745e+2, 1.9715909503065514427e+3,
                          1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
                          3.3430575583588128105e+4, 2.5090809287301226727e+3};
constexpr double kB[8] = {1.0,
                          4.2313330701600911252e+1,
                          6.8718700749205790830e+2,
                          5.3941960214247511077e+3,
                          2.1213794301586595867e+4,
                          3.9307895800092710610e+4,
                          2.8729085735721942674e+4,
                          5.2264952788528545610e+3};
constexpr double kC[8] = {1.42343711074968357734e0,  4.63033784615654529590e0, 5.76949722146069140550e0,
                          3.64784832476320460504e0,  1.27045825245236838258e0, 2.41780725177450611770e-1,
                          2.27238449892691845833e-2, 7.74545014278341407640e-4};
constexpr double kD[8] = {1.0,
                          2.05319162663775882187e0,
                          1.67638483018380384940e0,
                          6.89767334985100004550e-1,
                          1.48103976427480074590e-1,
                          1.51986665636164571966e-2,
                          5.47593808499534494600e-4,
                          1.05075007164441684324e-9};
constexpr double kE[8] = {6.65790464350110377720e0,  5.46378491116411436990e0,  1.78482653991729133580e0,
                          2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
                          2.71155556874348757815e-5, 2.01033439929228813265e-7};
constexpr double kF[8] = {1.0,
                          5.99832206555887937690e-1,
                          1.36929880922735805310e-1,
                          1.48753612908506148525e-2,
                          7.86869131145613259100e-4,
                          1.84631831751005468180e-5,
                          1.42151175831644588870e-7,
                          2.04426310338993978564e-15};

}  // namespace

double NormalQuantile(double p) {
  if (std::isnan(p)) return p;
  if (p <= 0) return -INFINITY;
  if (p >= 1) return INFINITY;
  const double q = p - 0.5;
  if (std::abs(q) <= 0.425) {
    const double r = 0.180625 - q * q;
    return q * Poly7(kA, r) / Poly7(kB, r);
  }
  // The tail, from the smaller of p and 1 - p (1 - p is exact for p > 0.5).
  const double r = std::sqrt(-std::log(q < 0 ? p : 1.0 - p));
  const double x = r <= 5.0 ? Poly7(kC, r - 1.6) / Poly7(kD, r - 1.6) : Poly7(kE, r - 5.0) / Poly7(kF, r - 5.0);
  return q < 0 ? -x : x;
}

TruncatedMoments TruncatedNormalMoments(double mean, double std, double low, double high) {
  constexpr double kInvSqrtTwoPi = 0.39894228040143267794;
  const double alpha = (low - mean) / std, beta = (high - mean) / std;
  auto density = [&](double x) { return std::isinf(x) ? 0.0 : kInvSqrtTwoPi * std::exp(-0.5 * x * x); };
  auto times_density = [&](double x) { return std::isinf(x) ? 0.0 : x * density(x); };
  // Z from the tail nearer to the interval, so that it keeps its digits far from the mean.
  const double z = alpha > 0 ? NormalCdf(-alpha) - NormalCdf(-beta) : NormalCdf(beta) - NormalCdf(alpha);
  const double shift = (density(alpha) - density(beta)) / z;
  const double variance = 1 + (times_density(alpha) - times_density(beta)) / z - shift * shift;
  return {mean + std * shift, std * std::sqrt(std::max(variance, 0.0))};
}

}  // namespace onnx_reinit
