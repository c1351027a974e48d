#include "onnx_reinit/verify.h"

#include <cmath>

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

proto::VerifyReport Verify(onnx::ModelProto& model, const SchemeOptions& scheme) {
  VerifyOptions options;
  options.scheme = scheme;
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
       {Scheme(SchemeKind::kHeNormal), Scheme(SchemeKind::kXavierUniform),
        Scheme(SchemeKind::kLecunNormal), Scheme(SchemeKind::kNormal), Scheme(SchemeKind::kZeros),
        constant}) {
    for (const char* file : {"torch_cnn.onnx", "torch_dcgan.onnx", "dtypes.onnx",
                             "dtypes_noort.onnx", "torch_mlp_matmul.onnx"}) {
      for (uint64_t seed : {0, 1, 2}) {
        onnx::ModelProto model = Reinitialized(file, scheme, seed);
        const proto::VerifyReport report = Verify(model, scheme);
        EXPECT_GT(report.weights_size(), 0);
        EXPECT_EQ(report.failed(), 0) << file << " " << SchemeName(scheme.kind) << " seed " << seed
                                      << "\n" << report.DebugString();
      }
    }
  }
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
