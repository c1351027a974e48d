#include "onnx_reinit/fill.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_reinit/rng.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

// Every statistical check allows 6 standard errors: a false failure has probability < 2e-9 per check.
constexpr double kZ = 6.0;
constexpr int64_t kSamples = int64_t{1} << 18;
constexpr uint64_t kSeed = 1234;

proto::Distribution Normal(double mean, double std) {
  proto::Distribution d;
  d.set_kind(proto::Distribution::NORMAL);
  d.set_mean(mean);
  d.set_std(std);
  return d;
}

proto::Distribution Uniform(double low, double high) {
  proto::Distribution d;
  d.set_kind(proto::Distribution::UNIFORM);
  d.set_low(low);
  d.set_high(high);
  return d;
}

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
void FillOne(FilledTensor& out, int32_t data_type, int64_t count, const proto::Distribution& d,
             int threads = 2, uint64_t seed = kSeed, const std::string& name = "w") {
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

INSTANTIATE_TEST_SUITE_P(AllFloatTypes, FillDistribution,
                         ::testing::Values(onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE,
                                           onnx::TensorProto::FLOAT16,
                                           onnx::TensorProto::BFLOAT16),
                         [](const auto& info) {
                           return std::string(FloatTypeName(*FloatTypeOf(info.param)));
                         });

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
  for (int32_t type : {onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE,
                       onnx::TensorProto::FLOAT16, onnx::TensorProto::BFLOAT16}) {
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
  std::vector<FillJob> jobs = {
      FillJob{*TensorValues::Bind(b, "b"), Uniform(0, 1), StreamIdForName("b")},
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

}  // namespace
}  // namespace onnx_reinit
