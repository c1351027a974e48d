// Counter-based random numbers: every value is a pure function of (seed, stream, counter).
//
// The generator is Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as
// 1, 2, 3", SC'11; the Random123 library). It has no state to carry between values, so any element of
// any tensor can be computed on its own: the bytes written do not depend on the thread count, on how
// the work is chunked, or on which other tensors are selected.
//
// Layout of one Philox call: key = the 64-bit seed; counter = (block index, stream id), 2 x 64 bits.
// One call yields four 32-bit words, which serve 4 consecutive float values or 2 double values.
#ifndef ONNX_REINIT_RNG_H_
#define ONNX_REINIT_RNG_H_

#include <array>
#include <cstdint>

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
// (for float64 tensors) or float precision (for the others, where it is several times faster).
std::array<double, 2> BoxMuller(double u1, double u2);
std::array<float, 2> BoxMullerFloat(float u1, float u2);

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

#endif  // ONNX_REINIT_RNG_H_
