#include "onnx_reinit/rng.h"

#include <cmath>

namespace onnx_reinit {
namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9;  // golden ratio
constexpr uint32_t kPhiloxW1 = 0xBB67AE85;  // sqrt(3) - 1

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

std::array<float, 2> BoxMullerFloat(float u1, float u2) {
  constexpr float kTwoPi = 6.28318530717958647692f;
  const float radius = std::sqrt(-2.0f * std::log(u1));
  const float angle = kTwoPi * u2;
  return {radius * std::cos(angle), radius * std::sin(angle)};
}

}  // namespace onnx_reinit
