#include "onnx_reinit/numerics/orthogonal.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/scheme.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/numerics/rng.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSeed = 1234;

proto::Distribution Orthogonal(double gain) {
  proto::Distribution d;
  d.set_kind(proto::Distribution::ORTHOGONAL);
  d.set_gain(gain);
  return d;
}

proto::Distribution (*const Normal)(double, double) = NormalDistribution;

int64_t Product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// The largest |(M M^T or M^T M) - gain^2 I| entry of the rows x cols matrix m (row-major): the Gram
// matrix of the shorter side, which is the identity times gain^2 for a scaled orthogonal matrix.
double GramError(const std::vector<double>& m, int64_t rows, int64_t cols, double gain) {
  const bool wide = rows < cols;
  const int64_t k = wide ? rows : cols, len = wide ? cols : rows;
  auto at = [&](int64_t vector, int64_t i) { return wide ? m[vector * cols + i] : m[i * cols + vector]; };
  double worst = 0;
  for (int64_t a = 0; a < k; ++a) {
    for (int64_t b = a; b < k; ++b) {
      double dot = 0;
      for (int64_t i = 0; i < len; ++i) dot += at(a, i) * at(b, i);
      worst = std::max(worst, std::abs(dot - (a == b ? gain * gain : 0.0)));
    }
  }
  return worst;
}

// Half an ulp, relative, of each type.
double UnitRoundoff(FloatType type) {
  switch (type) {
    case FloatType::kFloat32: return 0x1p-24;
    case FloatType::kFloat64: return 0x1p-53;
    case FloatType::kFloat16: return 0x1p-11;
    case FloatType::kBFloat16: return 0x1p-8;
  }
  return 1;
}

// Gram error allowed after rounding to `type`: each entry moves by at most u |w|, so a dot product
// of two gain-norm vectors moves by at most 2 u gain^2 (Cauchy-Schwarz), plus u^2 terms; the QR in
// double adds ~n eps. Float64 keeps only the QR's error, bounded generously by 1e-12.
double GramTolerance(FloatType type, double gain) {
  if (type == FloatType::kFloat64) return 1e-12 * gain * gain;
  return 2.5 * UnitRoundoff(type) * gain * gain;
}

struct Tensor {
  onnx::TensorProto proto;
  std::vector<FillJob> jobs;
};

FillJob OrthogonalJob(onnx::TensorProto& tensor, const std::string& name, const std::vector<int64_t>& shape,
                      double gain) {
  FillJob job{*TensorValues::Bind(tensor, name), Orthogonal(gain), StreamIdForName(name)};
  job.shape = shape;
  return job;
}

class OrthogonalFill : public ::testing::TestWithParam<int32_t> {};

TEST_P(OrthogonalFill, TallWideSquareAndConvShapesAreOrthogonal) {
  const struct {
    std::vector<int64_t> shape;
    double gain;
  } kCases[] = {{{300, 100}, 1.0},    {{100, 300}, 1.0}, {{64, 64}, 1.0}, {{16, 4, 3, 3}, std::sqrt(2.0)},
                {{4, 16, 3, 3}, 0.5}, {{37, 1}, 1.0}};
  for (const auto& c : kCases) {
    onnx::TensorProto tensor;
    testing::SetTensor(tensor, c.shape, GetParam());
    const FillJob job = OrthogonalJob(tensor, "w", c.shape, c.gain);
    ASSERT_TRUE(CheckFillJob(job).ok()) << CheckFillJob(job);
    Fill({job}, kSeed, 2);
    const std::vector<double> values = testing::ReadValues(tensor);
    const int64_t rows = c.shape[0], cols = Product(c.shape) / rows;
    EXPECT_LE(GramError(values, rows, cols, c.gain), GramTolerance(job.values.type(), c.gain))
        << "shape " << rows << " x " << cols;
  }
}

INSTANTIATE_TEST_SUITE_P(AllFloatTypes, OrthogonalFill, ::testing::ValuesIn(testing::kFloatTypes),
                         testing::FloatTypeParamName);

TEST(Orthogonal, AColumnIsTheNormalSchemesValuesNormalized) {
  // For an [n, 1] tensor Q is z / |z| exactly (the sign correction makes R's diagonal positive),
  // where z is what the normal scheme draws for the same elements: the random input is tied to the
  // tensor's element indices like every other scheme.
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{101, 1}, std::vector<int64_t>{1, 101}}) {
    onnx::TensorProto normal_tensor, orthogonal_tensor;
    testing::SetTensor(normal_tensor, {101}, onnx::TensorProto::DOUBLE);
    testing::SetTensor(orthogonal_tensor, shape, onnx::TensorProto::DOUBLE);
    Fill({FillJob{*TensorValues::Bind(normal_tensor, "w"), Normal(0, 1), StreamIdForName("w")}}, kSeed, 1);
    Fill({OrthogonalJob(orthogonal_tensor, "w", shape, 1.0)}, kSeed, 1);
    const std::vector<double> z = testing::ReadValues(normal_tensor);
    const std::vector<double> q = testing::ReadValues(orthogonal_tensor);
    double norm = 0;
    for (double x : z) norm += x * x;
    norm = std::sqrt(norm);
    for (int k = 0; k < 101; ++k) ASSERT_NEAR(q[k], z[k] / norm, 1e-15) << "element " << k;
  }
}

TEST(Orthogonal, IsBitIdenticalForAnyThreadCount) {
  std::vector<std::string> bytes;
  for (int threads : {1, 2, 7}) {
    // Several orthogonal jobs mixed with elementwise ones, in every float type.
    std::vector<onnx::TensorProto> tensors(6);
    testing::SetTensor(tensors[0], {96, 64});
    testing::SetTensor(tensors[1], {32, 8, 3, 3}, onnx::TensorProto::DOUBLE);
    testing::SetTensor(tensors[2], {70000});
    testing::SetTensor(tensors[3], {40, 120}, onnx::TensorProto::FLOAT16);
    testing::SetTensor(tensors[4], {50, 50}, onnx::TensorProto::BFLOAT16);
    testing::SetTensor(tensors[5], {3001}, onnx::TensorProto::DOUBLE);
    std::vector<FillJob> jobs = {OrthogonalJob(tensors[0], "a", {96, 64}, 1.0),
                                 OrthogonalJob(tensors[1], "b", {32, 8, 3, 3}, 2.0),
                                 FillJob{*TensorValues::Bind(tensors[2], "c"), Normal(0, 1), StreamIdForName("c")},
                                 OrthogonalJob(tensors[3], "d", {40, 120}, 1.0),
                                 OrthogonalJob(tensors[4], "e", {50, 50}, 1.0),
                                 FillJob{*TensorValues::Bind(tensors[5], "f"), Normal(1, 2), StreamIdForName("f")}};
    Fill(jobs, kSeed, threads);
    std::string all;
    for (const onnx::TensorProto& tensor : tensors) all += tensor.SerializeAsString();
    bytes.push_back(all);
  }
  EXPECT_EQ(bytes[0], bytes[1]);
  EXPECT_EQ(bytes[0], bytes[2]);
}

TEST(Orthogonal, SeedAndNameChangeTheMatrix) {
  onnx::TensorProto a, b, c;
  for (onnx::TensorProto* t : {&a, &b, &c}) testing::SetTensor(*t, {8, 8});
  Fill({OrthogonalJob(a, "w", {8, 8}, 1.0)}, kSeed, 1);
  Fill({OrthogonalJob(b, "w", {8, 8}, 1.0)}, kSeed + 1, 1);
  Fill({OrthogonalJob(c, "v", {8, 8}, 1.0)}, kSeed, 1);
  EXPECT_NE(a.raw_data(), b.raw_data());
  EXPECT_NE(a.raw_data(), c.raw_data());
}

TEST(Orthogonal, GateBlocksOfARecurrenceWeightAreEachOrthogonal) {
  // An RNN-style R [2H, H], filled as two [H, H] regions: each block is orthogonal on its own (the
  // whole 2H x H matrix is not: its columns have norm sqrt(2)), the blocks differ, and each holds
  // MakeOrthogonal of the normal values of its own elements.
  constexpr int64_t kH = 24;
  for (int32_t type : {onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE}) {
    onnx::TensorProto tensor;
    testing::SetTensor(tensor, {2 * kH, kH}, type);
    std::vector<FillJob> jobs;
    for (int gate = 0; gate < 2; ++gate) {
      FillJob job = OrthogonalJob(tensor, "r", {kH, kH}, 1.0);
      job.begin = gate * kH * kH;
      job.end = (gate + 1) * kH * kH;
      jobs.push_back(job);
    }
    Fill(jobs, kSeed, 2);
    const std::vector<double> values = testing::ReadValues(tensor);
    const FloatType float_type = *FloatTypeOf(type);
    for (int gate = 0; gate < 2; ++gate) {
      const std::vector<double> block(values.begin() + gate * kH * kH, values.begin() + (gate + 1) * kH * kH);
      EXPECT_LE(GramError(block, kH, kH, 1.0), GramTolerance(float_type, 1.0)) << "gate " << gate;
      // The block from first principles: the normal scheme's values of those elements, QR'd.
      std::vector<double> expected(kH * kH);
      FillJob normal{jobs[gate].values, Normal(0, 1), StreamIdForName("r")};
      for (int64_t k = 0; k < kH * kH; ++k) {
        // SampleRange rounds; for float32 the Box-Muller values are floats already, so this is exact.
        SampleRange(normal, kSeed, gate * kH * kH + k, gate * kH * kH + k + 1, &expected[k]);
      }
      MakeOrthogonal(kH, kH, 1.0, expected.data());
      for (int64_t k = 0; k < kH * kH; ++k) {
        ASSERT_EQ(block[k], RoundTo(float_type, expected[k])) << "gate " << gate << " element " << k;
      }
    }
    EXPECT_GT(GramError(values, 2 * kH, kH, 1.0), 0.5);  // the whole is not orthogonal
  }
}

TEST(Orthogonal, SampleRangeGivesTheFilledValues) {
  onnx::TensorProto tensor;
  testing::SetTensor(tensor, {20, 30});
  const FillJob job = OrthogonalJob(tensor, "w", {20, 30}, 1.5);
  std::vector<double> sampled(600);
  SampleRange(job, kSeed, 0, 250, sampled.data());
  SampleRange(job, kSeed, 250, 600, sampled.data() + 250);
  Fill({job}, kSeed, 2);
  EXPECT_EQ(testing::ReadValues(tensor), sampled);
}

TEST(MakeOrthogonal, MatchesAHandComputedQR) {
  // A = [[3, 1], [4, 2]]. The sign correction makes R's diagonal positive, so Q is Gram-Schmidt's:
  // q1 = (3, 4) / 5 = (0.6, 0.8); (1, 2) - 2.2 q1 = (-0.32, 0.24) -> q2 = (-0.8, 0.6).
  std::vector<double> a = {3, 1, 4, 2};
  MakeOrthogonal(2, 2, 1.0, a.data());
  const std::vector<double> expected = {0.6, -0.8, 0.8, 0.6};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(a[k], expected[k], 1e-15) << k;
  std::vector<double> empty;
  MakeOrthogonal(0, 5, 1.0, empty.data());  // a no-op
}

TEST(CheckFillJob, RejectsBadShapesForStructuredKinds) {
  onnx::TensorProto tensor;
  testing::SetTensor(tensor, {64});
  FillJob job = OrthogonalJob(tensor, "w", {64}, 1.0);
  EXPECT_THAT(std::string(CheckFillJob(job).message()),
              HasSubstr("orthogonal needs a tensor of rank >= 2; this one has rank 1 [64]"));
  job.shape = {8, 4};
  EXPECT_THAT(std::string(CheckFillJob(job).message()),
              HasSubstr("shape [8, 4] does not match the region [0, 64) of 64 elements"));
  job.shape = {8, 8};
  EXPECT_TRUE(CheckFillJob(job).ok());
  job.shape = {};
  EXPECT_FALSE(CheckFillJob(job).ok());  // a structured job needs its shape
  job.shape = {4, 4};
  job.begin = 16;
  job.end = 32;
  EXPECT_TRUE(CheckFillJob(job).ok());
  job.end = 80;
  EXPECT_THAT(std::string(CheckFillJob(job).message()), HasSubstr("outside the tensor's 64"));
  job.distribution = Normal(0, 1);  // elementwise kinds ignore the shape
  job.end = 32;
  EXPECT_TRUE(CheckFillJob(job).ok());
}

}  // namespace
}  // namespace onnx_reinit
