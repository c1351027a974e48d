#include "onnx_reinit/numerics/rng.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

// Known-answer vectors from Random123's kat_vectors file: counter, key -> output.
TEST(Philox, MatchesRandom123KnownAnswers) {
  EXPECT_EQ(Philox4x32_10({0, 0, 0, 0}, {0, 0}), (PhiloxBlock{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(Philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (PhiloxBlock{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(Philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (PhiloxBlock{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(RandomBlock, SeedStreamAndBlockAllChangeTheOutput) {
  const PhiloxBlock base = RandomBlock(1, 2, 3);
  EXPECT_EQ(RandomBlock(1, 2, 3), base);
  EXPECT_NE(RandomBlock(2, 2, 3), base);
  EXPECT_NE(RandomBlock(1, 3, 3), base);
  EXPECT_NE(RandomBlock(1, 2, 4), base);
  EXPECT_NE(RandomBlock(1ull << 32 | 1, 2, 3), base);  // the seed's high word counts
  EXPECT_NE(RandomBlock(1, 2, 3ull | 1ull << 40), base);
}

TEST(StreamIdForName, IsStableAndDistinguishesNames) {
  // Pinned: changing the hash would change every user's output for a given seed.
  EXPECT_EQ(StreamIdForName(""), StreamIdForName(""));
  const uint64_t conv = StreamIdForName("conv1.weight");
  EXPECT_EQ(conv, StreamIdForName("conv1.weight"));
  std::set<uint64_t> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(StreamIdForName("layer." + std::to_string(i)));
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(UnitOpen, StaysStrictlyInsideTheUnitInterval) {
  for (uint32_t x : {0u, 1u, 255u, 256u, 0xffffff00u, 0xffffffffu}) {
    EXPECT_GT(UnitOpen23(x), 0.0);
    EXPECT_LT(UnitOpen23(x), 1.0);
  }
  for (uint64_t x : {uint64_t{0}, ~uint64_t{0}}) {
    EXPECT_GT(UnitOpen52(x), 0.0);
    EXPECT_LT(UnitOpen52(x), 1.0);
  }
}

TEST(BoxMuller, GivesTheClosedFormValues) {
  const auto z = BoxMuller(std::exp(-0.5), 0.25);  // radius 1, angle pi/2
  EXPECT_NEAR(z[0], 0.0, 1e-15);
  EXPECT_NEAR(z[1], 1.0, 1e-15);
}

// The float-grade transforms only ever see u = m 2^-24 with m odd in [1, 2^24): check all 2^23 of
// them against the C library in double precision.
uint32_t WordForNumerator(uint32_t m) { return m << 8; }  // (w >> 8) | 1 == m for odd m

TEST(LogUnitFloat, IsWithinOneMillionthRelativeOfLogEverywhere) {
  double max_relative = 0, max_ulps = 0;
  uint32_t worst = 0;
  for (uint32_t m = 1; m < (1u << 24); m += 2) {
    const double u = m * 0x1p-24;
    const double exact = std::log(u);
    const float approx = LogUnitFloat(WordForNumerator(m));
    const double relative = std::abs((approx - exact) / exact);
    // ulps of the float result: the spacing of floats at |exact|
    int exponent;
    std::frexp(exact, &exponent);
    const double ulps = std::abs(approx - exact) / std::ldexp(1.0, exponent - 24);
    if (relative > max_relative) {
      max_relative = relative;
      worst = m;
    }
    max_ulps = std::max(max_ulps, ulps);
  }
  std::printf("LogUnitFloat: max relative error %.3g (at u = %u * 2^-24), max %.2f ulp\n", max_relative, worst,
              max_ulps);
  EXPECT_LT(max_relative, 1e-6);
  EXPECT_LT(max_ulps, 4.0);
}

TEST(CosSinTwoPiUnitFloat, IsWithinOneTenMillionthOfSinAndCosEverywhere) {
  double max_cos = 0, max_sin = 0;
  for (uint32_t m = 1; m < (1u << 24); m += 2) {
    const double angle = 6.283185307179586476925286766559 * (m * 0x1p-24);
    const std::array<float, 2> cs = CosSinTwoPiUnitFloat(WordForNumerator(m));
    max_cos = std::max(max_cos, std::abs(cs[0] - std::cos(angle)));
    max_sin = std::max(max_sin, std::abs(cs[1] - std::sin(angle)));
  }
  std::printf("CosSinTwoPiUnitFloat: max absolute error cos %.3g, sin %.3g\n", max_cos, max_sin);
  EXPECT_LT(max_cos, 1e-7);
  EXPECT_LT(max_sin, 1e-7);
}

TEST(BoxMullerWords, IsTheRadiusTimesTheCosineAndSine) {
  // u1 = e^-0.5 gives radius 1 (to float precision); u2 = 1/4 + 2^-25 is about a quarter turn.
  const uint32_t w1 = static_cast<uint32_t>(std::exp(-0.5) * 0x1p24) << 8;
  const std::array<float, 2> z = BoxMullerWords(w1, WordForNumerator(1u << 22 | 1));
  EXPECT_NEAR(z[0], 0.0, 1e-6);
  EXPECT_NEAR(z[1], 1.0, 1e-6);
  for (uint32_t w2 : {0u, 0xffffffffu, 0x12345678u}) {  // never NaN or infinite, even at the ends
    for (uint32_t w : {0u, 0xffffffffu, 0x80000000u}) {
      const std::array<float, 2> zz = BoxMullerWords(w, w2);
      EXPECT_TRUE(std::isfinite(zz[0]) && std::isfinite(zz[1])) << w << " " << w2;
    }
  }
}

// The batch kernels on every SIMD target this CPU has equal the scalar functions bit for bit,
// including partial vectors and a block range that crosses 2^32 (the counter's high word).
class SimdKernels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(UseSimdTarget(GetParam())); }
  void TearDown() override { UseSimdTarget(""); }
};

std::vector<uint32_t> Bits(const std::vector<float>& values) {
  std::vector<uint32_t> bits(values.size());
  std::memcpy(bits.data(), values.data(), 4 * values.size());
  return bits;
}

TEST_P(SimdKernels, RandomWordsAreThePhiloxBlocks) {
  EXPECT_EQ(CurrentSimdTarget(), GetParam());
  for (const uint64_t first : {uint64_t{0}, uint64_t{12345}, (uint64_t{1} << 32) - 37, ~uint64_t{0} - 70}) {
    for (const int64_t count : {1, 3, 16, 17, 63, 100}) {
      std::vector<uint32_t> words(4 * count);
      RandomWords(7, 0x0123456789abcdefull, first, count, words.data());
      for (int64_t b = 0; b < count; ++b) {
        const PhiloxBlock expected = RandomBlock(7, 0x0123456789abcdefull, first + b);
        for (int k = 0; k < 4; ++k) ASSERT_EQ(words[4 * b + k], expected[k]) << first << " " << b;
      }
    }
  }
}

TEST_P(SimdKernels, StandardNormalsAreBoxMullerOfTheWords) {
  for (const uint64_t first : {uint64_t{0}, uint64_t{999}, (uint64_t{1} << 32) - 5}) {
    const int64_t count = 4099;
    std::vector<float> normals(4 * count);
    StandardNormalsFloat(99, 5, first, count, normals.data());
    std::vector<float> expected(4 * count);
    for (int64_t b = 0; b < count; ++b) {
      const PhiloxBlock w = RandomBlock(99, 5, first + b);
      const std::array<float, 2> z01 = BoxMullerWords(w[0], w[1]), z23 = BoxMullerWords(w[2], w[3]);
      expected[4 * b] = z01[0];
      expected[4 * b + 1] = z01[1];
      expected[4 * b + 2] = z23[0];
      expected[4 * b + 3] = z23[1];
    }
    ASSERT_EQ(Bits(normals), Bits(expected)) << first;
  }
}

TEST_P(SimdKernels, BoxMullerBatchEqualsTheScalarTransformForEveryAngle) {
  // Every u2 numerator (so every quadrant and both ends), against a varying u1.
  const int64_t pairs = int64_t{1} << 23;
  std::vector<uint32_t> words(2 * pairs);
  for (int64_t j = 0; j < pairs; ++j) {
    words[2 * j] = static_cast<uint32_t>(j * 2654435761u) ^ 0x9e3779b9u;
    words[2 * j + 1] = WordForNumerator(static_cast<uint32_t>(2 * j + 1));
  }
  words[0] = 0;            // the smallest u1
  words[2] = 0xffffffffu;  // the largest
  std::vector<float> batch(2 * pairs);
  BoxMullerWordsBatch(words.data(), pairs - 3, batch.data());  // and a partial vector at the end
  BoxMullerWordsBatch(words.data() + 2 * (pairs - 3), 3, batch.data() + 2 * (pairs - 3));
  std::vector<float> scalar(2 * pairs);
  for (int64_t j = 0; j < pairs; ++j) {
    const std::array<float, 2> z = BoxMullerWords(words[2 * j], words[2 * j + 1]);
    scalar[2 * j] = z[0];
    scalar[2 * j + 1] = z[1];
  }
  ASSERT_EQ(Bits(batch), Bits(scalar));
}

INSTANTIATE_TEST_SUITE_P(EveryTarget, SimdKernels, ::testing::ValuesIn(SimdTargets()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// Reference quantiles of the exact double inputs, computed with mpmath at 50 digits
// (findroot of ncdf(x) - p); the tolerance is relative, 1e-14, except at 0.
TEST(NormalQuantile, MatchesReferenceQuantiles) {
  const struct {
    double p, x;
  } kCases[] = {
      {0.975, 1.959963984540053856},
      {0.025, -1.959963984540054212},
      {0.9, 1.281551565544600593},
      {0.3, -0.524400512708040816},
      {0.075, -1.439531470938455935},
      {0.925, 1.439531470938456229},  // the region boundaries
      {1e-5, -4.26489079392282461},
      {1e-10, -6.361340902404056199},
      {0.999999, 4.753424308817087766},
      {1e-300, -37.04709629936119924},
      {0.0227501319481792, -2.000000000000000103},  // Phi(-2)
  };
  for (const auto& c : kCases) {
    EXPECT_NEAR(NormalQuantile(c.p), c.x, 1e-14 * std::abs(c.x)) << "p = " << c.p;
  }
  EXPECT_EQ(NormalQuantile(0.5), 0.0);
}

TEST(NormalQuantile, InvertsTheCdfAcrossTheRange) {
  for (double p = 1e-12; p < 1; p = p < 0.01 ? p * 3 : p + 0.00731) {
    const double x = NormalQuantile(p);
    // Phi's relative error is ~1e-16; near p = 1 only 1 - p carries information.
    const double scale = std::min(p, 1 - p);
    EXPECT_NEAR(p < 0.5 ? NormalCdf(x) : NormalCdf(-x), scale, 1e-13 * scale) << "p = " << p;
  }
}

TEST(NormalQuantile, IsAntisymmetricAndHandlesTheEnds) {
  // For p >= 0.5, 1 - p is exact, and the upper half is computed from it.
  for (double p = 0.5; p < 1; p += 0.0123) {
    EXPECT_EQ(NormalQuantile(p), -NormalQuantile(1 - p)) << "p = " << p;
  }
  EXPECT_EQ(NormalQuantile(1 - 0x1p-40), -NormalQuantile(0x1p-40));
  EXPECT_EQ(NormalQuantile(0), -INFINITY);
  EXPECT_EQ(NormalQuantile(1), INFINITY);
  EXPECT_TRUE(std::isnan(NormalQuantile(NAN)));
}

TEST(NormalCdf, GivesKnownValues) {
  // References from mpmath; erfc's error and the rounding of x / sqrt(2) allow a few ulps.
  EXPECT_EQ(NormalCdf(0), 0.5);
  EXPECT_NEAR(NormalCdf(-2), 0.02275013194817920720, 1e-15 * 0.0228);
  EXPECT_NEAR(NormalCdf(1.959963984540054), 0.97499999999999998912, 1e-15);
  // Far in the tail the relative error grows like 2 y^2 eps, y = x / sqrt(2): ~1e-14 at x = -10.
  EXPECT_NEAR(NormalCdf(-10), 7.6198530241605260660e-24, 2e-14 * 7.62e-24);
}

TEST(TruncatedNormalMoments, CutAtTwoStdsKeepsTheKerasConstant) {
  const TruncatedMoments m = TruncatedNormalMoments(0, 1, -2, 2);
  EXPECT_NEAR(m.mean, 0, 1e-16);
  EXPECT_NEAR(m.std, 0.87962566103423978, 1e-15);
  const TruncatedMoments scaled = TruncatedNormalMoments(3, 0.5, 2, 4);
  EXPECT_NEAR(scaled.mean, 3, 1e-15);
  EXPECT_NEAR(scaled.std, 0.5 * 0.87962566103423978, 1e-15);
}

TEST(TruncatedNormalMoments, AsymmetricCutMatchesReference) {
  // N(1, 2) on [0, 5], from mpmath at 50 digits.
  const TruncatedMoments m = TruncatedNormalMoments(1, 2, 0, 5);
  EXPECT_NEAR(m.mean, 1.891487556545029675, 1e-14);
  EXPECT_NEAR(m.std, 1.227344835222499149, 1e-14);
}

}  // namespace
}  // namespace onnx_reinit
