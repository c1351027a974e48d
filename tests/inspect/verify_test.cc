#include "onnx_reinit/verify.h"

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/tensor_data.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using ::testing::HasSubstr;

SchemeOptions Scheme(SchemeKind kind) {
  SchemeOptions scheme;
  scheme.kind = kind;
  return scheme;
}

proto::VerifyReport Verify(onnx::ModelProto& model, const SchemeOptions& scheme, bool spectral = false) {
  VerifyOptions options;
  options.scheme = scheme;
  options.spectral = spectral;
  auto report = VerifyModel(model, options);
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : proto::VerifyReport();
}

onnx::ModelProto Reinitialized(const char* file, const SchemeOptions& scheme, uint64_t seed) {
  onnx::ModelProto model = testing::LoadTestdata(file);
  ReinitOptions options;
  options.policy.scheme = scheme;
  options.seed = seed;
  EXPECT_TRUE(Reinitialize(model, options).ok());
  return model;
}

TEST(VerifyModel, PassesOnModelsJustReinitializedWithTheScheme) {
  SchemeOptions constant = Scheme(SchemeKind::kConstant);
  constant.value = 0.1;
  for (const SchemeOptions& scheme :
       {Scheme(SchemeKind::kHeNormal), Scheme(SchemeKind::kXavierUniform), Scheme(SchemeKind::kLecunNormal),
        Scheme(SchemeKind::kNormal), Scheme(SchemeKind::kZeros), constant}) {
    for (const char* file :
         {"torch_cnn.onnx", "torch_dcgan.onnx", "dtypes.onnx", "dtypes_noort.onnx", "torch_mlp_matmul.onnx"}) {
      for (uint64_t seed : {0, 1, 2}) {
        onnx::ModelProto model = Reinitialized(file, scheme, seed);
        const proto::VerifyReport report = Verify(model, scheme);
        EXPECT_GT(report.weights_size(), 0);
        EXPECT_EQ(report.failed(), 0) << file << " " << SchemeName(scheme.kind) << " seed " << seed << "\n"
                                      << report.DebugString();
      }
    }
  }
}

TEST(VerifyModel, SpectralPassesOnModelsJustReinitializedWithTheScheme) {
  for (SchemeKind kind :
       {SchemeKind::kHeNormal, SchemeKind::kXavierUniform, SchemeKind::kOrthogonal, SchemeKind::kHeTruncatedNormal}) {
    for (const char* file : {"torch_cnn.onnx", "torch_dcgan.onnx", "dtypes.onnx", "torch_mlp_matmul.onnx"}) {
      for (uint64_t seed : {0, 1}) {
        onnx::ModelProto model = Reinitialized(file, Scheme(kind), seed);
        const proto::VerifyReport report = Verify(model, Scheme(kind), /*spectral=*/true);
        EXPECT_EQ(report.failed(), 0) << file << " " << SchemeName(kind) << "\n" << report.DebugString();
        EXPECT_TRUE(report.weights(0).has_top_singular_value());
      }
    }
  }
}

// A [128, 256] MatMul weight: a rank-2 pattern plus noise, shifted and scaled to He's mean and std -
// what a trained weight "re-initialized" by rescaling looks like. The moments pass; the spectrum
// does not.
TEST(VerifyModel, SpectralCatchesStructureRescaledToTheSchemesStd) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "x", {1, 128});
  onnx::TensorProto* weight = testing::AddInitializer(graph, "fc.weight", {128, 256});
  testing::AddNode(graph, "MatMul", {"x", "fc.weight"}, {"y"});
  std::vector<double> values(128 * 256);
  double sum = 0, squares = 0;
  for (int r = 0; r < 128; ++r) {
    for (int c = 0; c < 256; ++c) {
      const double pattern = std::sin(0.1 * r) * std::cos(0.07 * c) + std::cos(0.3 * r + 0.2 * c) * 0.5;
      const double noise = std::sin(12.9898 * (r * 256 + c)) * 43758.5453;
      values[r * 256 + c] = pattern + 1.5 * (noise - std::floor(noise) - 0.5);
      sum += values[r * 256 + c];
    }
  }
  const double mean = sum / values.size();
  for (double x : values) squares += (x - mean) * (x - mean);
  const double he_std = std::sqrt(2.0 / 128);
  const double scale = he_std / std::sqrt(squares / values.size());
  for (double& x : values) x = (x - mean) * scale;
  TensorValues::Bind(*weight, "fc.weight")->Write(0, values.data(), static_cast<int64_t>(values.size()));

  EXPECT_EQ(Verify(model, Scheme(SchemeKind::kHeNormal)).failed(), 0);
  const proto::VerifyReport spectral = Verify(model, Scheme(SchemeKind::kHeNormal), /*spectral=*/true);
  ASSERT_EQ(spectral.failed(), 1);
  EXPECT_THAT(spectral.weights(0).problem(), HasSubstr("largest singular value"));
  EXPECT_GT(spectral.weights(0).top_singular_value(), 1.5 * spectral.weights(0).spectral_edge());
}

TEST(VerifyModel, FailsOnPyTorchDefaultInitializationAgainstHe) {
  // The fixtures carry torch's default init, U(+-1/sqrt(fan_in)): std = 1/sqrt(3 fan_in), 0.41x He's.
  onnx::ModelProto model = testing::LoadTestdata("torch_dcgan.onnx");
  const proto::VerifyReport report = Verify(model, Scheme(SchemeKind::kHeNormal));
  EXPECT_EQ(report.failed(), report.weights_size());
  EXPECT_THAT(report.weights(0).problem(), HasSubstr("x the target"));
}

TEST(VerifyModel, FailsOnAnotherSchemesWeights) {
  onnx::ModelProto model = Reinitialized("torch_dcgan.onnx", Scheme(SchemeKind::kXavierNormal), 0);
  EXPECT_GT(Verify(model, Scheme(SchemeKind::kHeNormal)).failed(), 0);
}

TEST(VerifyModel, FailsOnAShiftedMean) {
  onnx::ModelProto model = Reinitialized("torch_dcgan.onnx", Scheme(SchemeKind::kHeNormal), 0);
  onnx::TensorProto* weight = testing::FindInitializer(model, "net.0.weight");
  auto values = TensorValues::Bind(*weight, "net.0.weight");
  ASSERT_TRUE(values.ok());
  for (int64_t k = 0; k < values->size(); ++k) {
    const double shifted = values->Read(k) + 0.05;  // 0.4 target std: ~20 standard errors
    values->Write(k, &shifted, 1);
  }
  const proto::VerifyReport report = Verify(model, Scheme(SchemeKind::kHeNormal));
  EXPECT_EQ(report.failed(), 1);
  EXPECT_THAT(report.weights(0).problem(), HasSubstr("mean"));
}

TEST(VerifyModel, ExplicitToleranceIsUsed) {
  onnx::ModelProto model = Reinitialized("torch_cnn.onnx", Scheme(SchemeKind::kHeNormal), 0);
  VerifyOptions options;
  options.scheme = Scheme(SchemeKind::kHeNormal);
  options.std_tolerance = 1e-9;
  auto report = VerifyModel(model, options);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->failed(), report->weights_size());
  EXPECT_DOUBLE_EQ(report->weights(0).std_tolerance(), 1e-9);
}

TEST(VerifyModel, DefaultToleranceShrinksWithSizeButNotUnderFivePercent) {
  onnx::ModelProto model = Reinitialized("torch_dcgan.onnx", Scheme(SchemeKind::kHeNormal), 0);
  const proto::VerifyReport report = Verify(model, Scheme(SchemeKind::kHeNormal));
  // net.0.weight has 2048 values: 6 / (2 sqrt(n)) * sqrt(2) = 0.0937.
  EXPECT_NEAR(report.weights(0).std_tolerance(), 6 * std::sqrt(2.0 / 2048) / 2, 1e-12);
  VerifyOptions options;
  options.scheme = Scheme(SchemeKind::kHeNormal);
  onnx::ModelProto big = testing::NewModel();
  testing::AddInitializer(*big.mutable_graph(), "w", {1000, 1000});
  testing::AddNode(*big.mutable_graph(), "MatMul", {"x", "w"}, {"y"});
  auto big_report = VerifyModel(big, options);
  ASSERT_TRUE(big_report.ok());
  EXPECT_DOUBLE_EQ(big_report->weights(0).std_tolerance(), 0.05);
}

TEST(VerifyModel, ListsWhatItDoesNotCheckAndPassesOnlyWhenItCheckedAWeight) {
  onnx::ModelProto model = Reinitialized("torch_cnn.onnx", Scheme(SchemeKind::kHeNormal), 0);
  const proto::VerifyReport report = Verify(model, Scheme(SchemeKind::kHeNormal));
  EXPECT_TRUE(report.passed());
  EXPECT_EQ(report.unjudged_size(), 0);
  ASSERT_EQ(report.unchecked_size(), 4);  // the biases
  EXPECT_EQ(report.unchecked(0).role(), "bias");
  EXPECT_EQ(report.unchecked(0).reason(), "bias: verify checks weights only");
}

TEST(VerifyModel, NamesTheWeightsItCannotReadAndDoesNotPassWithoutAWeight) {
  onnx::ModelProto float8 = testing::LoadTestdata("malformed/float8_weight.onnx");
  const proto::VerifyReport report = Verify(float8, Scheme(SchemeKind::kHeNormal));
  EXPECT_EQ(report.weights_size(), 0);
  EXPECT_FALSE(report.passed());
  ASSERT_EQ(report.unjudged_size(), 1);
  EXPECT_EQ(report.unjudged(0).name(), "W");
  EXPECT_EQ(report.unjudged(0).role(), "weight");
  EXPECT_EQ(report.unjudged(0).dtype(), "FLOAT8E4M3FN");
  EXPECT_EQ(report.unjudged(0).reason(), "data type FLOAT8E4M3FN (17) is newer than this build's ONNX library");

  onnx::ModelProto quantized = testing::LoadTestdata("quantized_qdq.onnx");
  const proto::VerifyReport qdq = Verify(quantized, Scheme(SchemeKind::kHeNormal));
  EXPECT_GT(qdq.unjudged_size(), 0);
  for (const proto::UnreadTensor& t : qdq.unjudged()) {
    EXPECT_EQ(t.role(), "quantized") << t.name();
    EXPECT_THAT(t.reason(), HasSubstr("verify reads float weights only")) << t.name();
  }

  onnx::ModelProto empty = testing::NewModel();
  testing::AddInitializer(*empty.mutable_graph(), "w", {0, 4});
  testing::AddNode(*empty.mutable_graph(), "MatMul", {"x", "w"}, {"y"});
  const proto::VerifyReport none = Verify(empty, Scheme(SchemeKind::kHeNormal));
  EXPECT_FALSE(none.passed());
  ASSERT_EQ(none.unjudged_size(), 1);
  EXPECT_EQ(none.unjudged(0).reason(), "no values");
}

TEST(VerifyModel, NonFiniteValuesFail) {
  onnx::ModelProto model = Reinitialized("torch_cnn.onnx", Scheme(SchemeKind::kHeNormal), 0);
  onnx::TensorProto* weight = testing::FindInitializer(model, "fc.weight");
  auto values = TensorValues::Bind(*weight, "fc.weight");
  const double nan = std::nan("");
  values->Write(3, &nan, 1);
  const proto::VerifyReport report = Verify(model, Scheme(SchemeKind::kHeNormal));
  EXPECT_EQ(report.failed(), 1);
  EXPECT_THAT(report.weights(3).problem(), HasSubstr("1 NaN"));
}

TEST(VerifyModel, OrthogonalTargetOfAScalarWeightBehindAReshape) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInitializer(graph, "w", {});  // rank 0: the target reads no dims(0) it has not got
  onnx::TensorProto& shape = *graph.add_initializer();
  shape.set_name("shape");
  shape.set_data_type(onnx::TensorProto::INT64);
  shape.add_dims(2);
  shape.add_int64_data(1);
  shape.add_int64_data(1);
  testing::AddNode(graph, "Reshape", {"w", "shape"}, {"w_view"});
  testing::AddNode(graph, "MatMul", {"x", "w_view"}, {"y"});
  const proto::VerifyReport report = Verify(model, Scheme(SchemeKind::kOrthogonal));
  ASSERT_EQ(report.weights_size(), 1);
  EXPECT_EQ(report.weights(0).target_std(), 1.0);
}

}  // namespace
}  // namespace onnx_reinit
