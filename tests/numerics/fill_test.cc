#include "onnx_reinit/fill.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/scheme.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

// Every statistical check allows 6 standard errors: a false failure has probability < 2e-9 per check.
constexpr double kZ = 6.0;
constexpr int64_t kSamples = int64_t{1} << 18;
constexpr uint64_t kSeed = 1234;

proto::Distribution (*const Normal)(double, double) = NormalDistribution;

proto::Distribution (*const Uniform)(double, double) = UniformDistribution;

// Relative rounding error bound (half an ulp) of each type.
double UnitRoundoff(FloatType type) {
  switch (type) {
    case FloatType::kFloat32: return 0x1p-24;
    case FloatType::kFloat64: return 0x1p-53;
    case FloatType::kFloat16: return 0x1p-11;
    case FloatType::kBFloat16: return 0x1p-8;
  }
  return 1;
}

struct Moments {
  double mean = 0, std = 0, min = INFINITY, max = -INFINITY;
  int64_t within_one_std = 0;  // of the nominal std, around the nominal mean
};

Moments Measure(const TensorValues& values, double nominal_mean, double nominal_std) {
  Moments m;
  double sum = 0;
  for (int64_t k = 0; k < values.size(); ++k) sum += values.Read(k);
  m.mean = sum / values.size();
  double squares = 0;
  for (int64_t k = 0; k < values.size(); ++k) {
    const double x = values.Read(k);
    squares += (x - m.mean) * (x - m.mean);
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
    if (std::abs(x - nominal_mean) <= nominal_std) ++m.within_one_std;
  }
  m.std = std::sqrt(squares / values.size());
  return m;
}

struct FilledTensor {
  onnx::TensorProto tensor;
  std::vector<FillJob> jobs;
};

// Builds a tensor of `count` elements of `data_type` and fills it with `distribution`.
void FillOne(FilledTensor& out, int32_t data_type, int64_t count, const proto::Distribution& d, int threads = 2,
             uint64_t seed = kSeed, const std::string& name = "w") {
  out.tensor.set_name(name);
  testing::SetTensor(out.tensor, {count}, data_type);
  auto values = TensorValues::Bind(out.tensor, name);
  ASSERT_TRUE(values.ok());
  out.jobs = {FillJob{*values, d, StreamIdForName(name)}};
  Fill(out.jobs, seed, threads);
}

class FillDistribution : public ::testing::TestWithParam<int32_t> {};

TEST_P(FillDistribution, NormalHasTheRequestedMeanAndStd) {
  const double mean = 0.5, std = 2.0;
  FilledTensor filled;
  FillOne(filled, GetParam(), kSamples, Normal(mean, std));
  const TensorValues& values = filled.jobs[0].values;
  const Moments m = Measure(values, mean, std);
  const double n = static_cast<double>(kSamples);
  // Rounding moves each value by at most u * |x|, hence the mean and std by at most u * rms.
  const double rounding = UnitRoundoff(values.type()) * std::sqrt(mean * mean + std * std);
  EXPECT_NEAR(m.mean, mean, kZ * std / std::sqrt(n) + rounding);
  EXPECT_NEAR(m.std, std, kZ * std / std::sqrt(2 * n) + rounding);
  // The shape, not only two moments: P(|Z| <= 1) = 0.682689, binomial standard error; values
  // within one rounding step of the boundary may cross it (density 0.242 on each side).
  const double p = 0.682689492137;
  const double boundary = 4 * 0.242 * UnitRoundoff(values.type()) * (1 + std::abs(mean) / std);
  EXPECT_NEAR(m.within_one_std / n, p, kZ * std::sqrt(p * (1 - p) / n) + boundary);
}

TEST_P(FillDistribution, UniformHasTheRequestedMomentsAndStaysInBounds) {
  const double low = -3.0, high = 1.0, width = high - low;
  FilledTensor filled;
  FillOne(filled, GetParam(), kSamples, Uniform(low, high));
  const TensorValues& values = filled.jobs[0].values;
  const Moments m = Measure(values, 0, 1);
  const double n = static_cast<double>(kSamples);
  const double rounding = UnitRoundoff(values.type()) * 3.0;  // max |x| = 3
  EXPECT_NEAR(m.mean, (low + high) / 2, kZ * width / std::sqrt(12 * n) + rounding);
  // Var(sample variance) = (mu4 - sigma^4) / n = width^4 / (180 n), so the sample std has a
  // standard error of width / sqrt(60 n) * sqrt(12) / 2.
  EXPECT_NEAR(m.std, width / std::sqrt(12.0), kZ * width * std::sqrt(12.0) / (2 * std::sqrt(180 * n)) + rounding);
  EXPECT_GE(m.min, low);
  EXPECT_LE(m.max, high);
  // P(min - low > t) = (1 - t / width)^n: t = 20 width / n fails with probability e^-20.
  EXPECT_LE(m.min - low, 20 * width / n + rounding);
  EXPECT_GE(m.max - high, -(20 * width / n + rounding));
}

TEST_P(FillDistribution, ConstantWritesTheRoundedValueEverywhere) {
  proto::Distribution d;
  d.set_kind(proto::Distribution::CONSTANT);
  d.set_value(0.1);
  FilledTensor filled;
  FillOne(filled, GetParam(), 1000, d);
  const TensorValues& values = filled.jobs[0].values;
  for (int64_t k = 0; k < values.size(); ++k) {
    ASSERT_EQ(values.Read(k), RoundTo(values.type(), 0.1));
  }
}

INSTANTIATE_TEST_SUITE_P(AllFloatTypes, FillDistribution, ::testing::ValuesIn(testing::kFloatTypes),
                         testing::FloatTypeParamName);

TEST(Fill, UniformBoundsHoldAfterRoundingToNarrowTypes) {
  // 0.1 is not representable in float16/bfloat16: rounding to nearest would step past it.
  for (int32_t type : {onnx::TensorProto::FLOAT16, onnx::TensorProto::BFLOAT16}) {
    FilledTensor filled;
    FillOne(filled, type, 100000, Uniform(-0.1, 0.1));
    for (int64_t k = 0; k < filled.jobs[0].values.size(); ++k) {
      const double x = filled.jobs[0].values.Read(k);
      ASSERT_LE(std::abs(x), 0.1) << "element " << k;
    }
  }
}

TEST(Fill, Float64ValuesUseDoublePrecision) {
  FilledTensor filled;
  FillOne(filled, onnx::TensorProto::DOUBLE, 100, Normal(0, 1));
  int not_float = 0;
  for (int64_t k = 0; k < 100; ++k) {
    const double x = filled.jobs[0].values.Read(k);
    not_float += static_cast<double>(static_cast<float>(x)) != x;
  }
  EXPECT_GT(not_float, 90);
}

std::string Bytes(const FilledTensor& filled) { return filled.tensor.SerializeAsString(); }

TEST(Fill, OutputDoesNotDependOnTheThreadCount) {
  for (int32_t type :
       {onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE, onnx::TensorProto::FLOAT16, onnx::TensorProto::BFLOAT16}) {
    FilledTensor one, two, seven;
    // An odd size, so that chunk and block boundaries fall mid-block.
    FillOne(one, type, 300007, Normal(0, 1), 1);
    FillOne(two, type, 300007, Normal(0, 1), 2);
    FillOne(seven, type, 300007, Normal(0, 1), 7);
    EXPECT_EQ(Bytes(one), Bytes(two));
    EXPECT_EQ(Bytes(one), Bytes(seven));
  }
}

TEST(Fill, SeedAndTensorNameSelectTheStream) {
  FilledTensor base, other_seed, other_name;
  FillOne(base, onnx::TensorProto::FLOAT, 64, Normal(0, 1));
  FillOne(other_seed, onnx::TensorProto::FLOAT, 64, Normal(0, 1), 2, kSeed + 1);
  FillOne(other_name, onnx::TensorProto::FLOAT, 64, Normal(0, 1), 2, kSeed, "w2");
  EXPECT_NE(base.tensor.raw_data(), other_seed.tensor.raw_data());
  EXPECT_NE(base.tensor.raw_data(), other_name.tensor.raw_data());
}

TEST(SampleRange, AnySplitGivesTheSameValues) {
  onnx::TensorProto tensor;
  testing::SetTensor(tensor, {1000});
  auto values = TensorValues::Bind(tensor, "w");
  ASSERT_TRUE(values.ok());
  for (const proto::Distribution& d : {Normal(0, 1), Uniform(-1, 1)}) {
    const FillJob job{*values, d, 42};
    std::vector<double> whole(1000), pieces(1000);
    SampleRange(job, kSeed, 0, 1000, whole.data());
    int64_t begin = 0;
    for (int64_t size : {1, 2, 3, 5, 7, 11, 13, 958}) {
      SampleRange(job, kSeed, begin, begin + size, pieces.data() + begin);
      begin += size;
    }
    ASSERT_EQ(begin, 1000);
    EXPECT_EQ(whole, pieces);
  }
}

TEST(Fill, ATensorsValuesDoNotDependOnOtherJobs) {
  FilledTensor alone;
  FillOne(alone, onnx::TensorProto::FLOAT, 5000, Normal(0, 1), 2, kSeed, "a");

  onnx::TensorProto a, b;
  testing::SetTensor(a, {5000});
  testing::SetTensor(b, {70000});
  std::vector<FillJob> jobs = {FillJob{*TensorValues::Bind(b, "b"), Uniform(0, 1), StreamIdForName("b")},
                               FillJob{*TensorValues::Bind(a, "a"), Normal(0, 1), StreamIdForName("a")}};
  Fill(jobs, kSeed, 3);
  EXPECT_EQ(a.raw_data(), alone.tensor.raw_data());
}

TEST(Fill, ARegionGetsTheSameValuesAsThoseElementsOfAWholeFillAndNothingElse) {
  FilledTensor whole;
  FillOne(whole, onnx::TensorProto::FLOAT, 1000, Normal(0, 1));
  onnx::TensorProto tensor;
  tensor.set_name("w");
  testing::SetTensor(tensor, {1000});
  const std::vector<double> before = testing::ReadValues(tensor);
  auto values = TensorValues::Bind(tensor, "w");
  ASSERT_TRUE(values.ok());
  FillJob region{*values, Normal(0, 1), StreamIdForName("w")};
  region.begin = 301;
  region.end = 650;
  Fill({region}, kSeed, 2);
  for (int64_t k = 0; k < 1000; ++k) {
    const double expected = k >= 301 && k < 650 ? whole.jobs[0].values.Read(k) : before[k];
    ASSERT_EQ(values->Read(k), expected) << "element " << k;
  }
}

// ---- Truncated normal --------------------------------------------------------------------------

proto::Distribution TruncatedNormal(double mean, double std, double low, double high) {
  proto::Distribution d;
  d.set_kind(proto::Distribution::TRUNCATED_NORMAL);
  d.set_mean(mean);
  d.set_std(std);
  d.set_low(low);
  d.set_high(high);
  return d;
}

// Moments of the standard normal truncated to [-c, c], from the recurrence
// m_k = (k - 1) m_{k-2} - (b^{k-1} phi(b) - a^{k-1} phi(a)) / Z with a = -c, b = c, Z = 1 - 2 Phi(-c).
struct StandardTruncatedMoments {
  double m2, m4;      // E[X^2], E[X^4]
  double within_one;  // P(|X| <= 1)
};
StandardTruncatedMoments SymmetricTruncatedMoments(double c) {
  const double phi = 0.39894228040143267794 * std::exp(-c * c / 2);  // 1 / sqrt(2 pi)
  const double z = 1 - 2 * NormalCdf(-c);
  const double m2 = 1 - 2 * c * phi / z;
  return {m2, 3 * m2 - 2 * c * c * c * phi / z, (1 - 2 * NormalCdf(-1)) / z};
}

// Checks a fill of N(mean, parent_std) cut at mean +- 2 parent_std: values inside the cut after
// rounding, mean, std and P(|x - mean| <= parent_std) within 6 standard errors, and values reaching
// close to both cut points.
void ExpectTruncatedAtTwoStds(const TensorValues& values, double mean, double parent_std) {
  const double low = mean - 2 * parent_std, high = mean + 2 * parent_std;
  const Moments m = Measure(values, mean, parent_std);
  const double n = static_cast<double>(values.size());
  const StandardTruncatedMoments t = SymmetricTruncatedMoments(2.0);
  const double std = parent_std * std::sqrt(t.m2);
  EXPECT_NEAR(std / parent_std, 0.87962566103423978, 1e-15);
  const double rounding = UnitRoundoff(values.type()) * (std::abs(mean) + 2 * parent_std);
  EXPECT_NEAR(m.mean, mean, kZ * std / std::sqrt(n) + rounding);
  // The sample std's standard error is sqrt((mu4 - sigma^4) / n) / (2 sigma), with the truncated
  // normal's own mu4 (its kurtosis is 2.37, not 3: the untruncated sigma / sqrt(2n) would be ~1.2x
  // too loose).
  const double std_error = parent_std * parent_std * std::sqrt((t.m4 - t.m2 * t.m2) / n) / (2 * std);
  EXPECT_NEAR(m.std, std, kZ * std_error + rounding);
  const double p = t.within_one;
  const double boundary = 4 * 0.242 / 0.9545 * UnitRoundoff(values.type()) * (1 + std::abs(mean) / parent_std);
  EXPECT_NEAR(m.within_one_std / n, p, kZ * std::sqrt(p * (1 - p) / n) + boundary);
  EXPECT_GE(m.min, low);
  EXPECT_LE(m.max, high);
  // The density at a cut point is phi(2) / (Z parent_std) = 0.0566 / parent_std: the largest value
  // stays more than t below the cut with probability (1 - 0.0566 t / parent_std)^n; t = 20
  // parent_std / (0.0566 n) makes that e^-20. Rounding can take one more step of u * |cut|.
  const double reach = 20 * parent_std / (0.0566 * n) + 2 * rounding;
  EXPECT_LE(m.min - low, reach);
  EXPECT_LE(high - m.max, reach);
}

TEST_P(FillDistribution, TruncatedNormalIsCutAtTwoStdsWithoutCorrection) {
  // truncated_normal --mean 0.25 --std 0.1: the cut points 0.05 and 0.45 are not representable in
  // any of the types, so rounding would step past them without the clamp.
  FilledTensor filled;
  FillOne(filled, GetParam(), kSamples, TruncatedNormal(0.25, 0.1, 0.05, 0.45));
  ExpectTruncatedAtTwoStds(filled.jobs[0].values, 0.25, 0.1);
}

TEST_P(FillDistribution, TruncatedVarianceScalingHasTheTargetStd) {
  for (SchemeKind kind :
       {SchemeKind::kHeTruncatedNormal, SchemeKind::kXavierTruncatedNormal, SchemeKind::kLecunTruncatedNormal}) {
    SchemeOptions options;
    options.kind = kind;
    const Fans fans{50, 30};
    auto d = ResolveDistribution(options, fans);
    ASSERT_TRUE(d.ok());
    const double target = kind == SchemeKind::kHeTruncatedNormal       ? std::sqrt(2.0 / 50)
                          : kind == SchemeKind::kXavierTruncatedNormal ? std::sqrt(2.0 / 80)
                                                                       : std::sqrt(1.0 / 50);
    FilledTensor filled;
    FillOne(filled, GetParam(), kSamples, *d);
    ExpectTruncatedAtTwoStds(filled.jobs[0].values, 0.0, d->std());
    // The same check against the target itself: std = target within 6 standard errors.
    const Moments m = Measure(filled.jobs[0].values, 0, target);
    const StandardTruncatedMoments t = SymmetricTruncatedMoments(2.0);
    const double std_error = target * std::sqrt((t.m4 / (t.m2 * t.m2) - 1) / kSamples) / 2;
    EXPECT_NEAR(m.std, target, kZ * std_error + UnitRoundoff(filled.jobs[0].values.type()) * 2 * d->std())
        << SchemeName(kind);
  }
}

TEST(Fill, TruncatedNormalOnAOneSidedCutHasTheTruncatedMoments) {
  // N(0, 1) on [1, 3] lies above the mean (the mirrored path) and N(0, 1) on [-3, -0.5] below it.
  for (const auto& [low, high] : {std::pair{1.0, 3.0}, std::pair{-3.0, -0.5}}) {
    FilledTensor filled;
    FillOne(filled, onnx::TensorProto::DOUBLE, kSamples, TruncatedNormal(0, 1, low, high));
    const TruncatedMoments expected = TruncatedNormalMoments(0, 1, low, high);
    const Moments m = Measure(filled.jobs[0].values, 0, 1);
    const double n = kSamples;
    EXPECT_NEAR(m.mean, expected.mean, kZ * expected.std / std::sqrt(n));
    // Conservative: |x - mean| <= width w, so mu4 <= w^2 sigma^2 and the sample std's standard
    // error is at most sqrt((w^2 sigma^2 - sigma^4) / n) / (2 sigma).
    const double w = high - low, s = expected.std;
    EXPECT_NEAR(m.std, s, kZ * std::sqrt((w * w * s * s - s * s * s * s) / n) / (2 * s));
    EXPECT_GE(m.min, low);
    EXPECT_LE(m.max, high);
  }
}

TEST(Fill, TruncatedNormalUsesOneUniformPerElementThroughTheInverseCdf) {
  // Element i takes uniform i % 4 (float-grade) or i % 2 (float64) of block i / 4 or i / 2, like
  // uniform values: x = mean + std * Phi^-1(Phi(a) + u (Phi(b) - Phi(a))).
  const double mean = 0.5, std = 2, low = -3.5, high = 4.5;  // a = -2, b = 2
  for (int32_t type : {onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE}) {
    FilledTensor filled;
    FillOne(filled, type, 1001, TruncatedNormal(mean, std, low, high));
    const TensorValues& values = filled.jobs[0].values;
    const bool double_grade = type == onnx::TensorProto::DOUBLE;
    const double cdf_a = NormalCdf(-2), width = NormalCdf(2) - cdf_a;
    for (int64_t i = 0; i < 1001; ++i) {
      const PhiloxBlock words = RandomBlock(kSeed, StreamIdForName("w"), double_grade ? i / 2 : i / 4);
      const double u = double_grade
                           ? UnitOpen52(static_cast<uint64_t>(words[2 * (i % 2) + 1]) << 32 | words[2 * (i % 2)])
                           : UnitOpen23(words[i % 4]);
      const double expected = mean + std * NormalQuantile(cdf_a + u * width);
      ASSERT_EQ(values.Read(i), RoundTo(values.type(), expected)) << "element " << i;
    }
  }
}

TEST(Fill, TruncatedNormalDoesNotDependOnTheThreadCountOrSplit) {
  for (int32_t type :
       {onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE, onnx::TensorProto::FLOAT16, onnx::TensorProto::BFLOAT16}) {
    const proto::Distribution d = TruncatedNormal(0, 1, -2, 2);
    FilledTensor one, two, seven;
    FillOne(one, type, 300007, d, 1);
    FillOne(two, type, 300007, d, 2);
    FillOne(seven, type, 300007, d, 7);
    EXPECT_EQ(Bytes(one), Bytes(two));
    EXPECT_EQ(Bytes(one), Bytes(seven));
    std::vector<double> whole(1000), pieces(1000);
    SampleRange(one.jobs[0], kSeed, 0, 1000, whole.data());
    int64_t begin = 0;
    for (int64_t size : {1, 2, 3, 5, 7, 11, 13, 958}) {
      SampleRange(one.jobs[0], kSeed, begin, begin + size, pieces.data() + begin);
      begin += size;
    }
    EXPECT_EQ(whole, pieces);
  }
}

TEST(Fill, TruncatedNormalWithZeroStdIsTheMean) {
  FilledTensor filled;
  FillOne(filled, onnx::TensorProto::FLOAT, 100, TruncatedNormal(0.3, 0, 0.3, 0.3));
  for (int64_t k = 0; k < 100; ++k) ASSERT_EQ(filled.jobs[0].values.Read(k), RoundTo(FloatType::kFloat32, 0.3));
}

// Every kind and every float type: the distributions whose values SampleRange computes.
std::vector<proto::Distribution> EveryKind() {
  proto::Distribution constant;
  constant.set_kind(proto::Distribution::CONSTANT);
  constant.set_value(0.25);
  proto::Distribution orthogonal;
  orthogonal.set_kind(proto::Distribution::ORTHOGONAL);
  orthogonal.set_gain(1.5);
  proto::Distribution identity;
  identity.set_kind(proto::Distribution::IDENTITY);
  identity.set_gain(2.0);
  return {Normal(0, 1), Normal(0.5, 0.02), Uniform(-1, 1), Uniform(-0.1, 0.3), TruncatedNormal(0, 1, -2, 2),
          constant,     orthogonal,        identity};
}

// SampleRange over [begin, end) cut at `cuts` equals one whole call, bit for bit.
void ExpectSplitsMatch(const FillJob& job, int64_t begin, int64_t end, std::vector<int64_t> cuts) {
  std::vector<double> whole(end - begin), pieces(end - begin, -7);
  SampleRange(job, kSeed, begin, end, whole.data());
  cuts.push_back(end);
  int64_t from = begin;
  for (int64_t cut : cuts) {
    SampleRange(job, kSeed, from, cut, pieces.data() + (from - begin));
    from = cut;
  }
  for (int64_t k = 0; k < end - begin; ++k) {
    ASSERT_EQ(std::memcmp(&whole[k], &pieces[k], sizeof(double)), 0)
        << "element " << begin + k << " of kind " << job.distribution.kind() << " type "
        << FloatTypeName(job.values.type()) << ": " << whole[k] << " vs " << pieces[k];
  }
}

TEST(SampleRange, AnySplitOfEveryKindAndTypeGivesTheSameValues) {
  // 48 x 64 = 3072 elements, so that ORTHOGONAL and IDENTITY have a 2-D shape. Cuts fall inside a
  // Philox block (4 values; 2 for float64), inside a 16-block SIMD vector (64 values), across the
  // 1024-value runs of the kernels, and ranges start at an odd element.
  const std::vector<int64_t> cuts = {1, 2, 3, 5, 6, 13, 63, 64, 65, 127, 130, 1000, 1023, 1025, 2047, 3001};
  for (int32_t type : testing::kFloatTypes) {
    onnx::TensorProto tensor;
    testing::SetTensor(tensor, {48, 64}, type);
    auto values = TensorValues::Bind(tensor, "w");
    ASSERT_TRUE(values.ok());
    for (const proto::Distribution& d : EveryKind()) {
      FillJob job{*values, d, StreamIdForName("w")};
      job.shape = {48, 64};
      ExpectSplitsMatch(job, 0, 3072, cuts);
      ExpectSplitsMatch(job, 7, 3071, {9, 10, 66, 71, 1031, 1100});
      // One element at a time, across a few vectors.
      std::vector<int64_t> singles;
      for (int64_t i = 301; i < 450; ++i) singles.push_back(i);
      ExpectSplitsMatch(job, 300, 450, singles);
    }
  }
}

TEST(Fill, EveryKindAndTypeGivesTheSameBytesOnAnyThreadCount) {
  // 3 x 100003 elements: several 64 Ki-element tasks, with boundaries inside blocks and vectors.
  for (int32_t type : testing::kFloatTypes) {
    for (proto::Distribution d : EveryKind()) {
      if (d.kind() == proto::Distribution::ORTHOGONAL) d = Normal(0, 1);  // tested below
      if (d.kind() == proto::Distribution::IDENTITY) continue;            // needs a 2-D shape
      FilledTensor one, two, seven;
      FillOne(one, type, 300009, d, 1);
      FillOne(two, type, 300009, d, 2);
      FillOne(seven, type, 300009, d, 7);
      EXPECT_EQ(Bytes(one), Bytes(two)) << d.kind() << " " << type;
      EXPECT_EQ(Bytes(one), Bytes(seven)) << d.kind() << " " << type;
    }
    // Several jobs at once, orthogonal ones among them, with regions starting mid-block.
    auto fill_jobs = [&](int threads) {
      onnx::TensorProto a, b, c;
      testing::SetTensor(a, {96, 80}, type);
      testing::SetTensor(b, {70001}, type);
      testing::SetTensor(c, {3, 12345}, type);
      FillJob ortho{*TensorValues::Bind(a, "a"), EveryKind()[6], StreamIdForName("a")};
      ortho.shape = {96, 80};
      FillJob uniform{*TensorValues::Bind(b, "b"), Uniform(-2, 3), StreamIdForName("b")};
      FillJob normal_region{*TensorValues::Bind(c, "c"), Normal(1, 3), StreamIdForName("c"), 12345 + 3, 2 * 12345 + 1};
      Fill({ortho, uniform, normal_region}, kSeed, threads);
      return a.SerializeAsString() + b.SerializeAsString() + c.SerializeAsString();
    };
    const std::string reference = fill_jobs(1);
    EXPECT_EQ(fill_jobs(2), reference) << type;
    EXPECT_EQ(fill_jobs(7), reference) << type;
  }
}

TEST(EncodeRange, StoresTheBytesWriteStoresForEveryKindTypeStorageAndSplit) {
  const std::vector<int64_t> cuts = {1, 3, 64, 65, 1023, 1025, 2047, 3001, 3072};
  for (int32_t type : testing::kFloatTypes) {
    const Storage typed = type == onnx::TensorProto::FLOAT    ? Storage::kFloatData
                          : type == onnx::TensorProto::DOUBLE ? Storage::kDoubleData
                                                              : Storage::kInt32Data;
    for (Storage storage : {Storage::kRawData, typed}) {
      onnx::TensorProto tensor;
      testing::SetTensor(tensor, {48, 64}, type, storage);
      auto values = TensorValues::Bind(tensor, "w");
      ASSERT_TRUE(values.ok()) << values.status();
      const int width = values->StoredWidth();
      for (const proto::Distribution& d : EveryKind()) {
        FillJob job{*values, d, StreamIdForName("w")};
        job.shape = {48, 64};
        std::vector<double> sampled(3072);
        SampleRange(job, kSeed, 0, 3072, sampled.data());
        std::string expected(3072 * width, '\0'), encoded(3072 * width, '\x55');
        values->Encode(sampled.data(), 3072, expected.data());
        int64_t from = 0;
        for (int64_t cut : cuts) {
          // ORTHOGONAL computes the whole matrix at each call, so any piece of it is right too.
          EncodeRange(job, kSeed, from, cut, encoded.data() + from * width);
          from = cut;
        }
        EXPECT_EQ(encoded, expected) << "kind " << d.kind() << " type " << type << " storage "
                                     << StorageName(values->storage());
      }
    }
  }
}

// The SIMD target (AVX-512, AVX2, ..., portable code) does not change a single bit.
TEST(Fill, EverySimdTargetGivesTheSameBytes) {
  const std::vector<std::string> targets = SimdTargets();
  ASSERT_FALSE(targets.empty());
  for (int32_t type : testing::kFloatTypes) {
    for (const proto::Distribution& d :
         {Normal(0, 1), Normal(-0.5, 0.02), Uniform(-1, 1), TruncatedNormal(0, 1, -2, 2)}) {
      std::string reference;
      for (const std::string& target : targets) {
        ASSERT_TRUE(UseSimdTarget(target));
        FilledTensor filled;
        FillOne(filled, type, 20011, d, 2);
        if (target == targets.front()) {
          reference = Bytes(filled);
        } else {
          EXPECT_EQ(Bytes(filled), reference) << target << " vs " << targets.front() << ", type " << type;
        }
      }
      UseSimdTarget("");
    }
  }
}

// ---- Identity and dirac ---------------------------------------------------------------------------

proto::Distribution Structured(proto::Distribution::Kind kind, double gain) {
  proto::Distribution d;
  d.set_kind(kind);
  d.set_gain(gain);
  return d;
}

// Fills a float tensor of `shape` with a structured distribution and returns its values.
std::vector<double> FillStructured(const proto::Distribution& d, const std::vector<int64_t>& shape,
                                   int64_t groups = 1) {
  onnx::TensorProto tensor;
  testing::SetTensor(tensor, shape);
  FillJob job{*TensorValues::Bind(tensor, "w"), d, StreamIdForName("w")};
  job.shape = shape;
  job.groups = groups;
  EXPECT_TRUE(CheckFillJob(job).ok()) << CheckFillJob(job);
  Fill({job}, kSeed, 2);
  return testing::ReadValues(tensor);
}

// torch.nn.init.dirac_, transcribed: zeros, then for g < groups, d < min(out / groups, shape[1]):
// W[g * out_per_group + d, d, k1 // 2, ...] = 1.
std::vector<double> TorchDirac(const std::vector<int64_t>& shape, int64_t groups) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  std::vector<double> w(count, 0.0);
  const int64_t out_per_group = shape[0] / groups;
  const int64_t min_dim = std::min(out_per_group, shape[1]);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t d = 0; d < min_dim; ++d) {
      std::vector<int64_t> index = {g * out_per_group + d, d};
      for (size_t axis = 2; axis < shape.size(); ++axis) index.push_back(shape[axis] / 2);
      int64_t flat = 0;
      for (size_t axis = 0; axis < shape.size(); ++axis) flat = flat * shape[axis] + index[axis];
      w[flat] = 1.0;
    }
  }
  return w;
}

TEST(Fill, IdentityIsGainTimesEye) {
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{3, 5}, std::vector<int64_t>{5, 3}, std::vector<int64_t>{4, 4}}) {
    const std::vector<double> w = FillStructured(Structured(proto::Distribution::IDENTITY, 2.5), shape);
    for (int64_t r = 0; r < shape[0]; ++r) {
      for (int64_t c = 0; c < shape[1]; ++c) {
        ASSERT_EQ(w[r * shape[1] + c], r == c ? 2.5 : 0.0) << r << ", " << c;
      }
    }
  }
}

TEST(Fill, DiracMatchesTorchForEveryRankAndGroups) {
  const struct {
    std::vector<int64_t> shape;
    int64_t groups;
  } kCases[] = {
      {{4, 2, 3, 3}, 1},     // more outputs than inputs
      {{2, 4, 3, 3}, 1},     // more inputs than outputs
      {{6, 2, 3}, 2},        // 1-D conv, groups 2: W[0,0,1], W[1,1,1], W[3,0,1], W[4,1,1]
      {{8, 4, 5, 5}, 2},     // 2-D conv, groups 2
      {{6, 1, 3, 3}, 6},     // depthwise
      {{2, 2, 4, 2}, 1},     // even kernels: the centre is k // 2
      {{3, 3, 3, 3, 3}, 1},  // 3-D conv
  };
  for (const auto& c : kCases) {
    const std::vector<double> w = FillStructured(Structured(proto::Distribution::DIRAC, 1.0), c.shape, c.groups);
    EXPECT_EQ(w, TorchDirac(c.shape, c.groups)) << "shape[0] " << c.shape[0] << ", groups " << c.groups;
  }
  const std::vector<double> grouped = FillStructured(Structured(proto::Distribution::DIRAC, 1.0), {6, 2, 3}, 2);
  std::vector<double> expected(36, 0.0);
  for (int64_t flat : {0 * 6 + 0 * 3 + 1, 1 * 6 + 1 * 3 + 1, 3 * 6 + 0 * 3 + 1, 4 * 6 + 1 * 3 + 1}) {
    expected[flat] = 1.0;
  }
  EXPECT_EQ(grouped, expected);
}

TEST(Fill, StructuredRegionsUseTheirOwnShape) {
  // Two [3, 3] gate blocks of a [6, 3] tensor, each an identity; the rest of the tensor is untouched.
  onnx::TensorProto tensor;
  testing::SetTensor(tensor, {7, 3});
  const std::vector<double> before = testing::ReadValues(tensor);
  std::vector<FillJob> jobs;
  for (int gate = 0; gate < 2; ++gate) {
    FillJob job{*TensorValues::Bind(tensor, "w"), Structured(proto::Distribution::IDENTITY, 1.0), StreamIdForName("w")};
    job.begin = gate * 9;
    job.end = (gate + 1) * 9;
    job.shape = {3, 3};
    jobs.push_back(job);
  }
  Fill(jobs, kSeed, 2);
  const std::vector<double> w = testing::ReadValues(tensor);
  for (int64_t k = 0; k < 21; ++k) {
    const double expected = k >= 18 ? before[k] : (k % 9) / 3 == (k % 9) % 3 ? 1.0 : 0.0;
    ASSERT_EQ(w[k], expected) << "element " << k;
  }
}

TEST(CheckFillJob, NamesTheRankIdentityAndDiracNeed) {
  onnx::TensorProto tensor;
  testing::SetTensor(tensor, {2, 3, 4});
  FillJob job{*TensorValues::Bind(tensor, "w"), Structured(proto::Distribution::IDENTITY, 1.0), 1};
  job.shape = {2, 3, 4};
  EXPECT_EQ(CheckFillJob(job).message(), "identity needs a tensor of rank 2; this one has rank 3 [2, 3, 4]");
  job.distribution = Structured(proto::Distribution::DIRAC, 1.0);
  EXPECT_TRUE(CheckFillJob(job).ok());
  job.groups = 3;
  EXPECT_EQ(CheckFillJob(job).message(), "dirac: dim 0 (2) is not divisible by groups (3)");
  job.groups = 1;
  job.shape = {6, 4};
  EXPECT_THAT(std::string(CheckFillJob(job).message()), ::testing::HasSubstr("dirac needs a tensor of rank 3, 4 or 5"));
}

}  // namespace
}  // namespace onnx_reinit
