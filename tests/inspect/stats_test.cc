#include "onnx_reinit/numerics/moments.h"
#include "onnx_reinit/stats.h"

#include <cfloat>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/base/sha256.h"
#include "onnx_reinit/verify.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using ::testing::ElementsAre;

// Two-pass reference statistics over the values as stored, independent of the library's code.
struct Reference {
  double mean = 0, std = 0, min = 0, max = 0, zeros = 0;
  int64_t nan = 0, inf = 0;
};

Reference ReferenceStats(const std::vector<double>& values) {
  Reference r;
  std::vector<double> finite;
  for (double x : values) {
    if (std::isnan(x))
      ++r.nan;
    else if (std::isinf(x))
      ++r.inf;
    else
      finite.push_back(x);
    if (x == 0) r.zeros += 1;
  }
  r.zeros /= static_cast<double>(values.size());
  long double sum = 0;
  for (double x : finite) sum += x;
  r.mean = static_cast<double>(sum / finite.size());
  long double squares = 0;
  for (double x : finite) squares += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(static_cast<double>(squares / finite.size()));
  r.min = *std::min_element(finite.begin(), finite.end());
  r.max = *std::max_element(finite.begin(), finite.end());
  return r;
}

// A tensor of `type` holding `count` values from a skewed, sign-changing sequence with exact
// zeros, plus one NaN and two infinities.
onnx::TensorProto MakeTensor(int32_t type, int64_t count) {
  onnx::TensorProto tensor;
  tensor.set_name("t");
  testing::SetTensor(tensor, {count}, type);
  auto values = TensorValues::Bind(tensor, "t");
  EXPECT_TRUE(values.ok());
  for (int64_t k = 0; k < count; ++k) {
    double x = k % 7 == 0 ? 0.0 : std::sin(0.37 * k) * (1 + (k % 13)) + 0.25;
    if (k == 5) x = std::numeric_limits<double>::quiet_NaN();
    if (k == 6) x = std::numeric_limits<double>::infinity();
    if (k == 8) x = -std::numeric_limits<double>::infinity();
    values->Write(k, &x, 1);
  }
  return tensor;
}

class MomentsPerType : public ::testing::TestWithParam<int32_t> {};

TEST_P(MomentsPerType, MatchTwoPassReferenceOnStoredValues) {
  onnx::TensorProto tensor = MakeTensor(GetParam(), 200003);  // several chunks, a ragged end
  const std::vector<double> stored = testing::ReadValues(tensor);
  const Reference expected = ReferenceStats(stored);
  const proto::Moments m = ComputeMoments({*TensorValues::Bind(tensor, "t")}, 2)[0];
  EXPECT_EQ(m.count(), 200003);
  EXPECT_NEAR(m.mean(), expected.mean, 1e-12 * (1 + std::abs(expected.mean)));
  EXPECT_NEAR(m.std(), expected.std, 1e-12 * expected.std);
  EXPECT_EQ(m.min(), expected.min);
  EXPECT_EQ(m.max(), expected.max);
  EXPECT_DOUBLE_EQ(m.zeros(), expected.zeros);
  EXPECT_EQ(m.nan(), 1);
  EXPECT_EQ(m.inf(), 2);
}

INSTANTIATE_TEST_SUITE_P(AllFloatTypes, MomentsPerType, ::testing::ValuesIn(testing::kFloatTypes),
                         testing::FloatTypeParamName);

TEST(ComputeMoments, IdenticalForAnyThreadCount) {
  onnx::TensorProto a = MakeTensor(onnx::TensorProto::FLOAT, 300001);
  onnx::TensorProto b = MakeTensor(onnx::TensorProto::FLOAT16, 1000);
  const std::vector<TensorValues> tensors = {*TensorValues::Bind(a, "a"), *TensorValues::Bind(b, "b")};
  const auto one = ComputeMoments(tensors, 1);
  const auto three = ComputeMoments(tensors, 3);
  for (size_t t = 0; t < tensors.size(); ++t) {
    EXPECT_EQ(one[t].SerializeAsString(), three[t].SerializeAsString());  // bit for bit
  }
  const auto h1 = ComputeHistograms(tensors, one, 16, 1);
  const auto h3 = ComputeHistograms(tensors, one, 16, 3);
  EXPECT_EQ(h1[0].SerializeAsString(), h3[0].SerializeAsString());
}

TEST(ComputeMoments, IdenticalOnEverySimdTarget) {
  onnx::TensorProto f32 = MakeTensor(onnx::TensorProto::FLOAT, 70001);
  onnx::TensorProto f64 = MakeTensor(onnx::TensorProto::DOUBLE, 70001);
  const std::vector<TensorValues> tensors = {*TensorValues::Bind(f32, "a"), *TensorValues::Bind(f64, "b")};
  std::string first_moments, first_histograms;
  for (const std::string& target : SimdTargets()) {
    ASSERT_TRUE(UseSimdTarget(target));
    const auto moments = ComputeMoments(tensors, 2);
    const auto histograms = ComputeHistograms(tensors, moments, 16, 2);
    std::string all_moments, all_histograms;
    for (size_t t = 0; t < tensors.size(); ++t) {
      all_moments += moments[t].SerializeAsString();
      all_histograms += histograms[t].SerializeAsString();
    }
    if (first_moments.empty()) {
      first_moments = all_moments;
      first_histograms = all_histograms;
    }
    EXPECT_EQ(all_moments, first_moments) << target;  // bit for bit
    EXPECT_EQ(all_histograms, first_histograms) << target;
  }
  UseSimdTarget("");
}

TEST(MomentAccumulator, MergeEqualsOneStream) {
  MomentAccumulator whole, first, second;
  for (int k = 0; k < 1000; ++k) {
    const double x = std::cos(k) * 3 + 1e6;  // a large offset: naive sums would lose the variance
    whole.Add(x);
    (k < 377 ? first : second).Add(x);
  }
  first.Merge(second);
  const proto::Moments a = whole.ToProto(), b = first.ToProto();
  EXPECT_NEAR(a.mean(), b.mean(), 1e-9);
  EXPECT_NEAR(a.std(), b.std(), 1e-9);
  EXPECT_NEAR(a.std(), 3 / std::sqrt(2.0), 0.05);
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.count(), b.count());
}

TEST(MomentAccumulator, EmptyAndAllNaNGiveZeros) {
  MomentAccumulator empty;
  EXPECT_EQ(empty.ToProto().count(), 0);
  EXPECT_EQ(empty.ToProto().std(), 0);
  MomentAccumulator nans;
  nans.Add(std::nan(""));
  EXPECT_EQ(nans.ToProto().count(), 1);
  EXPECT_EQ(nans.ToProto().nan(), 1);
  EXPECT_EQ(nans.ToProto().min(), 0);
}

TEST(ComputeHistograms, CountsEveryFiniteValueOnce) {
  onnx::TensorProto tensor = MakeTensor(onnx::TensorProto::FLOAT, 10000);
  const std::vector<TensorValues> tensors = {*TensorValues::Bind(tensor, "t")};
  const auto moments = ComputeMoments(tensors, 2);
  const auto histogram = ComputeHistograms(tensors, moments, 10, 2)[0];
  int64_t total = 0;
  for (int64_t count : histogram.counts()) total += count;
  EXPECT_EQ(total, 10000 - 3);
  EXPECT_EQ(histogram.low(), moments[0].min());
  EXPECT_EQ(histogram.high(), moments[0].max());
}

// Bins by the definition (ComputeHistograms' doc), one value at a time.
std::vector<int64_t> ReferenceHistogram(const std::vector<double>& values, double low, double high, int bins) {
  const double scale = high > low ? bins / (high - low) : 0.0;
  std::vector<int64_t> counts(bins, 0);
  for (double x : values) {
    if (std::isfinite(x)) ++counts[std::min(static_cast<int>((x - low) * scale), bins - 1)];
  }
  return counts;
}

class HistogramsPerType : public ::testing::TestWithParam<int32_t> {};

// Every bin count, for the bin counts the CLI uses (16 for --hist, 32 for --html) and others, on
// every SIMD target (the kernels count differently by target and bin count). The values include
// exact bin edges, the extremes, NaN and Inf, and a ragged end.
TEST_P(HistogramsPerType, CountEveryValueInItsBinOnEverySimdTarget) {
  onnx::TensorProto spread = MakeTensor(GetParam(), 150007);
  auto values = TensorValues::Bind(spread, "spread");
  ASSERT_TRUE(values.ok());
  for (int64_t k = 9; k < 2000; k += 7) {  // on the edges of 16 and 32 bins between -12.75 and 13.25
    const double edge = -12.75 + 26.0 * static_cast<double>(k % 33) / 32;
    values->Write(k, &edge, 1);
  }
  // Nearly all in one bin: the kernels' narrow counters must carry over, not wrap.
  onnx::TensorProto peaked;
  testing::SetTensor(peaked, {70001}, GetParam());
  auto peak = TensorValues::Bind(peaked, "peaked");
  ASSERT_TRUE(peak.ok());
  for (int64_t k = 0; k < peak->size(); ++k) {
    const double x = k == 3 ? -1.0 : k == 70000 ? 2.0 : 1.0;
    peak->Write(k, &x, 1);
  }
  const std::vector<TensorValues> tensors = {*values, *peak};
  const std::vector<std::vector<double>> stored = {testing::ReadValues(spread), testing::ReadValues(peaked)};
  for (const std::string& target : SimdTargets()) {
    ASSERT_TRUE(UseSimdTarget(target));
    const auto moments = ComputeMoments(tensors, 2);
    for (int bins : {1, 10, 16, 17, 32, 33, 100}) {
      const auto histograms = ComputeHistograms(tensors, moments, bins, 2);
      for (size_t t = 0; t < tensors.size(); ++t) {
        EXPECT_THAT(histograms[t].counts(), ::testing::ElementsAreArray(ReferenceHistogram(stored[t], moments[t].min(),
                                                                                           moments[t].max(), bins)))
            << target << ", " << bins << " bins, tensor " << t;
      }
    }
  }
  UseSimdTarget("");
}

// A float64 range of -DBL_MAX..DBL_MAX overflows: high - low is inf and the scale 0, so DBL_MAX's
// position is inf * 0 = NaN. Every target puts it in the last bin and counts every value once
// (the scalar tail converted NaN to int: undefined, an index of INT_MIN).
TEST(ComputeHistograms, ARangeThatOverflowsCountsEveryValueOnceOnEverySimdTarget) {
  onnx::TensorProto extremes;
  testing::SetTensor(extremes, {21}, onnx::TensorProto::DOUBLE);  // a ragged end for every width
  auto values = TensorValues::Bind(extremes, "extremes");
  ASSERT_TRUE(values.ok());
  for (int64_t k = 0; k < values->size(); ++k) {
    const double x = k % 2 == 0 ? -DBL_MAX : DBL_MAX;
    values->Write(k, &x, 1);
  }
  const std::vector<TensorValues> tensors = {*values};
  for (const std::string& target : SimdTargets()) {
    ASSERT_TRUE(UseSimdTarget(target));
    const auto moments = ComputeMoments(tensors, 1);
    for (int bins : {16, 32, 10}) {
      std::vector<int64_t> expected(bins, 0);
      expected.front() = 11;
      expected.back() = 10;
      EXPECT_THAT(ComputeHistograms(tensors, moments, bins, 1)[0].counts(), ::testing::ElementsAreArray(expected))
          << target << ", " << bins << " bins";
    }
  }
  UseSimdTarget("");
}

INSTANTIATE_TEST_SUITE_P(AllFloatTypes, HistogramsPerType, ::testing::ValuesIn(testing::kFloatTypes),
                         testing::FloatTypeParamName);

TEST(ComputeModelStats, ListsEveryFloatConstantInGraphOrderWithRolesAndTotals) {
  onnx::ModelProto model = testing::LoadTestdata("int_and_shape.onnx");
  auto report = ComputeModelStats(model, {});
  ASSERT_TRUE(report.ok()) << report.status();
  std::vector<std::string> names, roles;
  for (const auto& row : report->tensors()) {
    names.push_back(row.name());
    roles.push_back(row.role());
  }
  EXPECT_THAT(names, ElementsAre("conv_W", "conv_B", "mul_scale", "add_bias"));
  EXPECT_THAT(roles, ElementsAre("weight", "bias", "other", "parameter"));
  const proto::TensorStats& w = report->tensors(0);
  EXPECT_EQ(w.op_type(), "Conv");
  EXPECT_EQ(w.input_index(), 1);
  EXPECT_EQ(w.fan_in(), 27);
  EXPECT_EQ(w.fan_out(), 36);
  EXPECT_FALSE(report->tensors(1).has_fan_in());
  EXPECT_FALSE(w.has_target_std());
  EXPECT_EQ(report->totals().tensors(), 4);
  EXPECT_EQ(report->totals().parameters(), 108 + 4 + 1 + 256);
  ASSERT_EQ(report->totals().bytes_per_dtype_size(), 1);
  EXPECT_EQ(report->totals().bytes_per_dtype(0).dtype(), "float32");
  EXPECT_EQ(report->totals().bytes_per_dtype(0).bytes(), 4 * (108 + 4 + 1 + 256));
}

TEST(ComputeModelStats, SchemeAddsTargetStdAndRatioToWeights) {
  onnx::ModelProto model = testing::LoadTestdata("torch_cnn.onnx");
  ReinitOptions reinit;
  reinit.policy.scheme.kind = SchemeKind::kHeNormal;
  ASSERT_TRUE(Reinitialize(model, reinit).ok());
  StatsOptions options;
  options.scheme = reinit.policy.scheme;
  auto report = ComputeModelStats(model, options);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->scheme(), "he_normal");
  EXPECT_EQ(report->totals().bytes_per_dtype(0).dtype(), "float32");
  for (const auto& row : report->tensors()) {
    if (row.role() != "weight") {
      EXPECT_FALSE(row.has_target_std()) << row.name();
      continue;
    }
    EXPECT_DOUBLE_EQ(row.target_std(), std::sqrt(2.0 / row.fan_in())) << row.name();
    EXPECT_DOUBLE_EQ(row.std_ratio(), row.std() / row.target_std());
  }
}

// The HTML report draws verify's band from std_tolerance: the numbers must be verify's, for normal
// and uniform schemes (whose sample std varies 1.58x less), and for a fixed --tolerance.
TEST(ComputeModelStats, StdToleranceIsVerifysForEveryWeight) {
  for (const SchemeKind kind : {SchemeKind::kHeNormal, SchemeKind::kHeUniform, SchemeKind::kXavierUniform}) {
    for (const std::optional<double> fixed : {std::optional<double>(), std::optional<double>(0.2)}) {
      onnx::ModelProto model = testing::LoadTestdata("torch_dcgan.onnx");
      StatsOptions stats;
      stats.scheme.emplace();
      stats.scheme->kind = kind;
      stats.std_tolerance = fixed;
      VerifyOptions verify;
      verify.scheme = *stats.scheme;
      verify.std_tolerance = fixed;
      auto stats_report = ComputeModelStats(model, stats);
      auto verify_report = VerifyModel(model, verify);
      ASSERT_TRUE(stats_report.ok() && verify_report.ok());
      std::map<std::string, double> verify_tolerance;
      for (const auto& finding : verify_report->weights()) verify_tolerance[finding.name()] = finding.std_tolerance();
      ASSERT_FALSE(verify_tolerance.empty());
      for (const auto& row : stats_report->tensors()) {
        if (!row.has_target_std()) {
          EXPECT_FALSE(row.has_std_tolerance()) << row.name();
          continue;
        }
        EXPECT_EQ(row.std_tolerance(), verify_tolerance.at(row.name())) << row.name() << " " << SchemeName(kind);
      }
    }
  }
}

TEST(StdTolerance, UniformDrawsGetANarrowerBandThanNormalOnes) {
  proto::Distribution normal, uniform;
  normal.set_kind(proto::Distribution::NORMAL);
  uniform.set_kind(proto::Distribution::UNIFORM);
  const int64_t n = 2048;  // both above the 5% floor
  EXPECT_NEAR(StdTolerance(normal, n, std::nullopt), 6 * std::sqrt(2.0 / n) / 2, 1e-15);
  EXPECT_NEAR(StdTolerance(uniform, n, std::nullopt), 6 * std::sqrt(0.8 / n) / 2, 1e-15);
  EXPECT_NEAR(StdTolerance(normal, n, std::nullopt) / StdTolerance(uniform, n, std::nullopt), std::sqrt(2 / 0.8),
              1e-12);
  EXPECT_EQ(StdTolerance(normal, 1'000'000, std::nullopt), 0.05);
  EXPECT_EQ(StdTolerance(uniform, n, 0.3), 0.3);
}

TEST(StatsFile, ReportsThePathAndSizeAndNamesTheFileInErrors) {
  const std::string path = testing::TestdataPath("torch_cnn.onnx");
  auto report = StatsFile(path, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->model(), path);
  EXPECT_EQ(report->info().file_bytes(), static_cast<int64_t>(std::filesystem::file_size(path)));
  const std::string bad = testing::TestdataPath("malformed/duplicate_initializer.onnx");
  EXPECT_EQ(StatsFile(bad, {}).status().message(), bad + ": two initializers are named 'W'");
}

TEST(ComputeModelStats, NamesTheTensorsOfNewerDataTypesItCannotRead) {
  onnx::ModelProto model = testing::LoadTestdata("malformed/float8_weight.onnx");
  auto report = ComputeModelStats(model, {});
  ASSERT_TRUE(report.ok()) << report.status();
  for (const auto& row : report->tensors()) EXPECT_NE(row.name(), "W");
  ASSERT_EQ(report->unread_size(), 1);
  EXPECT_EQ(report->unread(0).name(), "W");
  EXPECT_EQ(report->unread(0).role(), "weight");
  EXPECT_EQ(report->unread(0).dtype(), "FLOAT8E4M3FN");
  EXPECT_EQ(report->unread(0).reason(), "data type FLOAT8E4M3FN (17) is newer than this build's ONNX library");
}

TEST(ValuesSha256, HashesTheValuesInRawDataLayoutWhicheverFieldHoldsThem) {
  for (const int32_t type : testing::kFloatTypes) {
    onnx::TensorProto raw, typed;
    testing::SetTensor(raw, {5, 3}, type, Storage::kRawData);
    const Storage field = type == onnx::TensorProto::FLOAT    ? Storage::kFloatData
                          : type == onnx::TensorProto::DOUBLE ? Storage::kDoubleData
                                                              : Storage::kInt32Data;
    testing::SetTensor(typed, {5, 3}, type, field);
    auto raw_values = TensorValues::Bind(raw, "raw");
    auto typed_values = TensorValues::Bind(typed, "typed");
    ASSERT_TRUE(raw_values.ok() && typed_values.ok());
    EXPECT_EQ(ValuesSha256(*raw_values), Sha256Hex(raw.raw_data())) << type;
    EXPECT_EQ(ValuesSha256(*typed_values), Sha256Hex(raw.raw_data())) << type;
  }
}

TEST(ComputeModelStats, HashAddsEachTensorsSha256AndAnOrderFreeDigest) {
  onnx::ModelProto model = testing::LoadTestdata("torch_cnn.onnx");
  StatsOptions options;
  options.hash = true;
  auto report = ComputeModelStats(model, options);
  ASSERT_TRUE(report.ok()) << report.status();
  std::vector<std::pair<std::string, std::string>> hashes;
  for (const auto& row : report->tensors()) {
    EXPECT_EQ(row.sha256(), Sha256Hex(testing::FindInitializer(model, row.name())->raw_data())) << row.name();
    hashes.emplace_back(row.name(), row.sha256());
  }
  EXPECT_EQ(report->tensors_sha256(), TensorsDigest(hashes));
  std::reverse(hashes.begin(), hashes.end());
  EXPECT_EQ(report->tensors_sha256(), TensorsDigest(hashes));
  hashes[0].second = hashes[1].second;
  EXPECT_NE(report->tensors_sha256(), TensorsDigest(hashes));
  EXPECT_FALSE(ComputeModelStats(model, {})->has_tensors_sha256());
}

TEST(AddToTotals, KeepsDtypesSorted) {
  onnx::TensorProto f32, f16, bf16;
  testing::SetTensor(f32, {3}, onnx::TensorProto::FLOAT);
  testing::SetTensor(f16, {5}, onnx::TensorProto::FLOAT16);
  testing::SetTensor(bf16, {7}, onnx::TensorProto::BFLOAT16);
  proto::Totals totals;
  for (onnx::TensorProto* tensor : {&f32, &f16, &bf16, &f32}) {
    AddToTotals(*TensorValues::Bind(*tensor, "t"), totals);
  }
  ASSERT_EQ(totals.bytes_per_dtype_size(), 3);
  EXPECT_EQ(totals.bytes_per_dtype(0).dtype(), "bfloat16");
  EXPECT_EQ(totals.bytes_per_dtype(1).dtype(), "float16");
  EXPECT_EQ(totals.bytes_per_dtype(2).dtype(), "float32");
  EXPECT_EQ(totals.bytes_per_dtype(2).bytes(), 24);
  EXPECT_EQ(totals.tensors(), 4);
  EXPECT_EQ(totals.parameters(), 18);
}

TEST(ComputeModelStats, IncludesConstantNodeValues) {
  onnx::ModelProto model = testing::LoadTestdata("constant_weights.onnx");
  auto report = ComputeModelStats(model, {});
  ASSERT_TRUE(report.ok());
  ASSERT_GE(report->tensors_size(), 1);
  EXPECT_EQ(report->tensors(0).name(), "gemm_B");
  EXPECT_EQ(report->tensors(0).source(), "constant_node");
}

}  // namespace
}  // namespace onnx_reinit
