// Counter-based random numbers: every value is a pure function of (seed, stream, counter).
//
// The generator is Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as
// 1, 2, 3", SC'11; the Random123 library). It has no state to carry between values, so any element of
// any tensor can be computed on its own: the bytes written do not depend on the thread count, on how
// the work is chunked, or on which other tensors are selected.
//
// Layout of one Philox call: key = the 64-bit seed; counter = (block index, stream id), 2 x 64 bits.
// One call yields four 32-bit words, which serve 4 consecutive float values or 2 double values.
//
// Float-grade normals (float32, float16, bfloat16 tensors) come from BoxMullerWords: Box-Muller in
// float with this library's own polynomial log and sin/cos, built only from correctly rounded IEEE
// operations, so that the batch kernels below (SIMD, chosen at run time for the CPU) and the scalar
// reference give the same bits on every machine and instruction set.
#ifndef ONNX_REINIT_NUMERICS_RNG_H_
#define ONNX_REINIT_NUMERICS_RNG_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace onnx_reinit {

using PhiloxBlock = std::array<uint32_t, 4>;

// Philox4x32 with 10 rounds. Matches Random123's philox4x32_10 known-answer vectors.
PhiloxBlock Philox4x32_10(PhiloxBlock counter, std::array<uint32_t, 2> key);

// A stable 64-bit id for a tensor name: FNV-1a followed by the SplitMix64 finalizer. Part of the
// reproducibility contract, so it never changes for a given name.
uint64_t StreamIdForName(absl::string_view name);

// The random words for block `block` of stream `stream` under `seed`.
PhiloxBlock RandomBlock(uint64_t seed, uint64_t stream, uint64_t block);

// Maps 32 random bits to a float-grade uniform in (0, 1): ((x >> 9) + 0.5) * 2^-23, exact in a float.
// Never 0 or 1, so log() in the normal transform is finite.
inline double UnitOpen23(uint32_t x) { return ((x >> 9) + 0.5) * 0x1p-23; }

// Maps 64 random bits to a double-grade uniform in (0, 1): ((x >> 12) + 0.5) * 2^-52 (52 bits, so
// that the half-step offset stays exact in a double).
inline double UnitOpen52(uint64_t x) { return ((x >> 12) + 0.5) * 0x1p-52; }

// Box-Muller: two uniforms in (0, 1) to two independent standard normals, in double precision
// with the C library's log/sin/cos (for float64 tensors).
std::array<double, 2> BoxMuller(double u1, double u2);

// The float-grade transforms, on raw Philox words; u = UnitOpen23(word) (exact in a float).
//
// LogUnitFloat(w) = ln(u): u = 2^e * x with x in [sqrt(1/2), sqrt(2)) (by exponent arithmetic);
// s = (x - 1) / (x + 1); ln x = 2 atanh(s) = 2s + s * z (2/3 + z (2/5 + z (2/7 + z 2/9))), z = s^2
// (|s| < 0.172), a near-minimax quadratic in z in place of the series' tail (2/3, 2/5, 2/7, ...);
// ln u = e * ln2_hi + (ln x + e * ln2_lo). Relative error < 1e-6 over every u (see rng_test).
float LogUnitFloat(uint32_t word);
// CosSinTwoPiUnitFloat(w) = (cos, sin)(2 pi u): u = m 2^-24 with m = (w >> 8) | 1; n = the nearest
// quarter turn round(4u), f = u - n/4 in (-1/8, 1/8) (exact, in integers); near-minimax polynomials
// of sin(2 pi f) (odd, degree 7) and cos(2 pi f) (even, degree 8), then rotated by n quarter turns.
// Absolute error < 1e-7 (see rng_test).
std::array<float, 2> CosSinTwoPiUnitFloat(uint32_t word);
// Box-Muller in float: r = sqrt(-2 LogUnitFloat(w1)); (r cos, r sin)(2 pi UnitOpen23(w2)).
std::array<float, 2> BoxMullerWords(uint32_t w1, uint32_t w2);

// Batch kernels, vectorized with Highway (rng_simd.cc) and dispatched at run time to the best
// instruction set (AVX-512, AVX2, SSE4, SSSE3 or portable code). Bit-identical on every target and
// to the scalar functions above, whatever the batch boundaries.
//
// The words of blocks first_block .. first_block + num_blocks - 1: out[4 b + k] = word k of
// RandomBlock(seed, stream, first_block + b).
void RandomWords(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t num_blocks, uint32_t* out);
// The float-grade standard normals of those blocks: out[4 b + 0, 1] = BoxMullerWords(word 0, word 1),
// out[4 b + 2, 3] = BoxMullerWords(word 2, word 3).
void StandardNormalsFloat(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t num_blocks, float* out);
// out[2 j, 2 j + 1] = BoxMullerWords(words[2 j], words[2 j + 1]) for j < num_pairs.
void BoxMullerWordsBatch(const uint32_t* words, int64_t num_pairs, float* out);
// Float32 tensor values for elements [begin, end) of a stream (element 4 b + k from word k of block
// b), into out[0 .. end - begin) (each exactly a float):
//   normal:  mean + std * z in float arithmetic (pass mean and std rounded to float), z = the
//            element's StandardNormalsFloat value;
//   uniform: low + UnitOpen23(word) * (high - low) in float arithmetic (low and high - low rounded
//            to float); returns true when some value may lie outside [low, high] (the caller then
//            moves it back inside).
void NormalFloat32Values(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, float mean, float std,
                         double* out);
bool UniformFloat32Values(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, double low, double high,
                          double* out);
// The same values stored as float32 (raw_data's little-endian encoding) at out[0 .. 4 (end - begin)),
// which need not be aligned.
void NormalFloat32Bytes(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, float mean, float std, char* out);
bool UniformFloat32Bytes(uint64_t seed, uint64_t stream, int64_t begin, int64_t end, double low, double high,
                         char* out);

// For tests and benchmarks: the instruction-set targets the kernels can run on this CPU (Highway's
// names, e.g. "AVX3", "AVX2", "EMU128"), best first; UseSimdTarget(name) restricts the kernels to
// one of them (false if unknown), UseSimdTarget("") undoes that; CurrentSimdTarget() is in use.
// Not thread-safe: call while no kernel runs.
std::vector<std::string> SimdTargets();
bool UseSimdTarget(const std::string& name);
std::string CurrentSimdTarget();

namespace rng_internal {  // constants shared by rng.cc and rng_simd.cc

constexpr uint32_t kPhiloxM0 = 0xD2511F53;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9;  // golden ratio
constexpr uint32_t kPhiloxW1 = 0xBB67AE85;  // sqrt(3) - 1

// The bits of sqrt(1/2) rounded down: LogUnitFloat's reduction to [sqrt(1/2), sqrt(2)).
constexpr int32_t kLogReduceOffset = 0x3f3504f3;
// ln 2 = kLn2Hi + kLn2Lo, kLn2Hi with 16 significant bits (so e * kLn2Hi is exact).
constexpr float kLn2Hi = 0x1.62e3p-1f;
constexpr float kLn2Lo = 0x1.2fefa2p-17f;
// 2 atanh(s) = 2 s + s z (kLogC[1] + z (kLogC[2] + z kLogC[3])), z = s^2 <= 0.0295: the quadratic
// in z interpolating (2 atanh(s) - 2 s) / (s z) at the Chebyshev nodes (near-minimax: truncation
// error < 3e-9 relative; Taylor's 2/3, 2/5, 2/7 would leave 8e-8).
constexpr float kLogC[4] = {2.0f, 0.666666865f, 0.39988777f, 0.295800537f};
// sin(2 pi f) = f (kSinC[0] + z (kSinC[1] + z (kSinC[2] + z kSinC[3]))) and
// cos(2 pi f) = kCosC[0] + z (kCosC[1] + ... + z kCosC[4]), z = f^2, |f| <= 1/8: polynomials in z
// interpolating sin(2 pi f) / f and cos(2 pi f) at the Chebyshev nodes of [0, 1/64] (truncation
// error < 3e-8 and < 1e-8 with these float coefficients; close to (2 pi)^(2k+1) / (2k+1)! etc.).
constexpr float kSinC[4] = {6.28318548f, -41.3416634f, 81.5925446f, -75.4016113f};
constexpr float kCosC[5] = {1.0f, -19.7392082f, 64.9393158f, -85.4428482f, 59.2201691f};

}  // namespace rng_internal

// The standard normal CDF, Phi(x) = erfc(-x / sqrt(2)) / 2 (accurate in the lower tail; use
// 1 - Phi(x) = Phi(-x) for the upper one).
double NormalCdf(double x);

// The standard normal quantile, Phi^-1(p), for p in (0, 1): Wichura's algorithm AS 241 (PPND16,
// "The percentage points of the normal distribution", Applied Statistics 37(3), 1988), a piecewise
// rational approximation with a relative error of about 1e-16. p <= 0 gives -inf, p >= 1 +inf,
// NaN gives NaN. The upper half is computed from 1 - p, which is exact there, so
// NormalQuantile(p) == -NormalQuantile(1 - p) for every p >= 0.5. Pure.
double NormalQuantile(double p);

// The mean and std of N(mean, std) restricted to [low, high] (std > 0, low < high), from the
// standard truncated-normal moments with alpha = (low - mean) / std, beta = (high - mean) / std,
// Z = Phi(beta) - Phi(alpha):
//   E = mean + std * (phi(alpha) - phi(beta)) / Z
//   Var = std^2 * (1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2)
// E.g. the cut at mean +- 2 std keeps a std of 0.87962566103423978 * std.
struct TruncatedMoments {
  double mean = 0, std = 0;
};
TruncatedMoments TruncatedNormalMoments(double mean, double std, double low, double high);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_NUMERICS_RNG_H_
