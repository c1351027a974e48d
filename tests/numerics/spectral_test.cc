#include "onnx_reinit/numerics/spectral.h"

#include <cmath>
#include <string>
#include <vector>

#include "Eigen/Dense"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/scheme.h"
#include "onnx_reinit/numerics/moments.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

struct Matrix {
  onnx::TensorProto tensor;
  MatrixShape shape;
};

Matrix NewMatrix(const std::vector<int64_t>& dims, int32_t type = onnx::TensorProto::FLOAT) {
  Matrix m;
  testing::SetTensor(m.tensor, dims, type);
  m.shape = *MatrixShapeOf(m.tensor.dims());
  return m;
}

SpectralInput InputOf(Matrix& m, const std::string& name, double center = 0) {
  return SpectralInput{*TensorValues::Bind(m.tensor, name), m.shape, center, name};
}

// A fresh draw of `scheme` into `m`, with the fans torch reads from its shape.
proto::Distribution Draw(Matrix& m, SchemeKind scheme, uint64_t seed) {
  SchemeOptions options;
  options.kind = scheme;
  const int64_t receptive = m.shape.cols / m.tensor.dims(1);
  const Fans fans{m.tensor.dims(1) * receptive, m.shape.rows * receptive};
  const proto::Distribution distribution = *ResolveDistribution(options, fans);
  FillJob job{*TensorValues::Bind(m.tensor, "w"), distribution, StreamIdForName("w")};
  job.shape.assign(m.tensor.dims().begin(), m.tensor.dims().end());
  Fill({job}, seed, 1);
  return distribution;
}

double ExactTopSingularValue(Matrix& m, double center = 0) {
  const std::vector<double> values = testing::ReadValues(m.tensor);
  Eigen::MatrixXd a(m.shape.rows, m.shape.cols);
  for (int64_t r = 0; r < m.shape.rows; ++r) {
    for (int64_t c = 0; c < m.shape.cols; ++c) a(r, c) = values[r * m.shape.cols + c] - center;
  }
  return Eigen::JacobiSVD<Eigen::MatrixXd>(a).singularValues()(0);
}

// W = noise + a rank-2 signal holding `signal_share` of the variance, rescaled to `std`: the
// spectrum of trained weights (a few outlying singular values), with the std of a fresh init.
void LowRankPlusNoise(Matrix& m, double signal_share, double std, uint64_t seed) {
  constexpr int kRank = 2;
  const int64_t rows = m.shape.rows, cols = m.shape.cols;
  std::vector<float> normals(((rows + cols) * kRank + rows * cols + 3) / 4 * 4);
  StandardNormalsFloat(seed, 1, 0, static_cast<int64_t>(normals.size() / 4), normals.data());
  const float* u = normals.data();
  const float* v = u + rows * kRank;
  const float* noise = v + cols * kRank;
  std::vector<double> w(rows * cols);
  double sum = 0, squares = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      double signal = 0;
      for (int k = 0; k < kRank; ++k) signal += u[r * kRank + k] * v[c * kRank + k];
      w[r * cols + c] = std::sqrt(signal_share / kRank) * signal + std::sqrt(1 - signal_share) * noise[r * cols + c];
      sum += w[r * cols + c];
    }
  }
  const double mean = sum / static_cast<double>(w.size());
  for (double x : w) squares += (x - mean) * (x - mean);
  const double scale = std / std::sqrt(squares / static_cast<double>(w.size()));
  for (double& x : w) x = (x - mean) * scale;
  TensorValues::Bind(m.tensor, "w")->Write(0, w.data(), static_cast<int64_t>(w.size()));
}

TEST(MatrixShapeOf, FlattensTrailingDimsAsTorchFans) {
  Matrix conv = NewMatrix({64, 3, 3, 3});
  EXPECT_EQ(conv.shape.rows, 64);
  EXPECT_EQ(conv.shape.cols, 27);
  onnx::TensorProto vector;
  testing::SetTensor(vector, {10}, onnx::TensorProto::FLOAT);
  EXPECT_FALSE(MatrixShapeOf(vector.dims()).has_value());
}

TEST(TopSingularValues, FindsAnOutlierAndNeverExceedsTheTruth) {
  for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{{300, 200}, {16, 900}, {64, 8, 3, 3}}) {
    Matrix structured = NewMatrix(dims);
    LowRankPlusNoise(structured, 0.3, 0.05, 7);
    Matrix fresh = NewMatrix(dims);
    Draw(fresh, SchemeKind::kHeNormal, 3);
    const std::vector<double> estimates = TopSingularValues({InputOf(structured, "s"), InputOf(fresh, "f")}, 2);
    const double structured_exact = ExactTopSingularValue(structured);
    EXPECT_NEAR(estimates[0], structured_exact, 1e-2 * structured_exact) << dims[0];
    const double fresh_exact = ExactTopSingularValue(fresh);
    EXPECT_LE(estimates[1], fresh_exact * (1 + 1e-12)) << dims[0];
    EXPECT_GT(estimates[1], 0.9 * fresh_exact) << dims[0];
  }
}

TEST(TopSingularValues, CentersOnTheGivenMean) {
  Matrix m = NewMatrix({40, 30});
  SchemeOptions uniform;  // U(0, 1): mean 1/2, a huge rank-one part unless centered
  uniform.kind = SchemeKind::kUniform;
  FillJob job{*TensorValues::Bind(m.tensor, "w"), *ResolveDistribution(uniform, Fans{30, 40}), 5};
  Fill({job}, 0, 1);
  const double estimate = TopSingularValues({InputOf(m, "w", 0.5)}, 1)[0];
  EXPECT_NEAR(estimate, ExactTopSingularValue(m, 0.5), 0.1 * estimate);
  EXPECT_LT(estimate, SpectralLimit(m.shape, 1 / std::sqrt(12.0)));
}

TEST(TopSingularValues, IdenticalForAnyThreadCountAndSimdTarget) {
  Matrix big = NewMatrix({1500, 1500});  // above the size split into row groups
  Draw(big, SchemeKind::kXavierUniform, 1);
  Matrix f64 = NewMatrix({50, 77}, onnx::TensorProto::DOUBLE);
  Draw(f64, SchemeKind::kHeNormal, 1);
  const std::vector<SpectralInput> inputs = {InputOf(big, "big"), InputOf(f64, "f64")};
  const std::vector<double> reference = TopSingularValues(inputs, 1);
  EXPECT_EQ(TopSingularValues(inputs, 3), reference);
  for (const std::string& target : SimdTargets()) {
    ASSERT_TRUE(UseSimdTarget(target));
    EXPECT_EQ(TopSingularValues(inputs, 2), reference) << target;
  }
  UseSimdTarget("");
}

// Fresh draws of every elementwise scheme, on shapes from 1 x 1 to very rectangular ones, stay
// under the limit with room to spare: the statistic z = (sigma_1 / s - edge / s) / tau, whose
// upper tail is TW1's (P(z > 7) < 1e-8), stays under 5 in every draw.
TEST(SpectralLimit, FreshDrawsOfAnyShapePass) {
  const std::vector<std::vector<int64_t>> shapes = {
      {1, 1},   {1, 2},        {2, 2},   {1, 64},  {64, 1},        {3, 3},     {4, 27},    {8, 9},    {10, 16},
      {27, 64}, {64, 3, 3, 3}, {2, 500}, {500, 2}, {16, 16, 3, 3}, {128, 128}, {32, 1024}, {1024, 16}};
  const std::vector<SchemeKind> schemes = {SchemeKind::kHeNormal,        SchemeKind::kHeUniform,
                                           SchemeKind::kXavierNormal,    SchemeKind::kXavierUniform,
                                           SchemeKind::kLecunNormal,     SchemeKind::kHeTruncatedNormal,
                                           SchemeKind::kTruncatedNormal, SchemeKind::kNormal};
  double worst_z = -HUGE_VAL;
  std::string worst;
  for (const std::vector<int64_t>& dims : shapes) {
    for (SchemeKind scheme : schemes) {
      const int draws = dims[0] * dims[1] <= 64 ? 40 : 8;
      for (int seed = 0; seed < draws; ++seed) {
        Matrix m = NewMatrix(dims);
        const proto::Distribution d = Draw(m, scheme, seed);
        const double s = DistributionStd(d);
        const double sigma = TopSingularValues({InputOf(m, "w", DistributionMean(d))}, 1)[0];
        EXPECT_LE(sigma, SpectralLimit(m.shape, s)) << SchemeName(scheme) << " " << dims[0] << "x" << m.shape.cols;
        const double tau = (SpectralLimit(m.shape, 1) - SpectralEdge(m.shape, 1)) / kTracyWidomUnits;
        const double z = (sigma / s - SpectralEdge(m.shape, 1)) / tau;
        if (z > worst_z) {
          worst_z = z;
          worst = absl::StrCat(SchemeName(scheme), " ", dims[0], "x", m.shape.cols, " seed ", seed);
        }
      }
    }
  }
  EXPECT_LT(worst_z, 5.0) << worst;
}

TEST(SpectralLimit, LowRankPlusNoiseAtTheSchemesStdFails) {
  for (const std::vector<int64_t>& dims :
       std::vector<std::vector<int64_t>>{{64, 3, 3, 3}, {128, 64, 3, 3}, {512, 512}, {1000, 100}, {10, 400}}) {
    Matrix m = NewMatrix(dims);
    LowRankPlusNoise(m, 0.3, 0.02, 11);
    const double sigma = TopSingularValues({InputOf(m, "w")}, 2)[0];
    EXPECT_GT(sigma, SpectralLimit(m.shape, 0.02)) << dims[0] << "x" << m.shape.cols;
  }
}

TEST(TopSingularValues, OrthogonalMatricesGiveTheGain) {
  for (const std::vector<int64_t>& dims :
       std::vector<std::vector<int64_t>>{{64, 64}, {30, 100}, {100, 30}, {16, 8, 3, 3}}) {
    Matrix m = NewMatrix(dims);
    SchemeOptions orthogonal;
    orthogonal.kind = SchemeKind::kOrthogonal;
    orthogonal.gain = 1.5;
    FillJob job{*TensorValues::Bind(m.tensor, "w"), *ResolveDistribution(orthogonal, Fans{1, 1}), 9};
    job.shape.assign(dims.begin(), dims.end());
    Fill({job}, 0, 1);
    EXPECT_NEAR(TopSingularValues({InputOf(m, "w")}, 1)[0], 1.5, 1e-5) << dims[0];
  }
}

}  // namespace
}  // namespace onnx_reinit
