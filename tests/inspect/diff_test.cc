#include "onnx_reinit/diff.h"

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/base/sha256.h"
#include "onnx_reinit/stats.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

proto::DiffReport Diff(onnx::ModelProto& a, onnx::ModelProto& b) {
  auto report = DiffModels(a, {}, b, {}, 2);
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : proto::DiffReport();
}

TEST(DiffModels, IdenticalModelsHaveNoDifferences) {
  onnx::ModelProto a = testing::LoadTestdata("int_and_shape.onnx"), b = a;
  const proto::DiffReport report = Diff(a, b);
  EXPECT_EQ(report.differing(), 0);
  EXPECT_EQ(report.identical(), 5);  // four float tensors and the int64 shape
  EXPECT_TRUE(report.tensors().empty());
}

TEST(DiffModels, ReinitializedWeightsDifferInValuesWithMomentsSideBySide) {
  onnx::ModelProto a = testing::LoadTestdata("torch_cnn.onnx"), b = a;
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  ASSERT_TRUE(Reinitialize(b, options).ok());
  const proto::DiffReport report = Diff(a, b);
  EXPECT_EQ(report.differing(), 8);  // weights and (zeroed) biases
  EXPECT_EQ(report.identical(), 0);
  const auto conv = std::find_if(report.tensors().begin(), report.tensors().end(),
                                 [](const auto& d) { return d.name() == "onnx::Conv_23"; });
  ASSERT_NE(conv, report.tensors().end());
  const proto::TensorDiff& first = *conv;
  EXPECT_EQ(first.change(), proto::TensorDiff::VALUES);
  EXPECT_EQ(first.values_differing(), 216);
  EXPECT_GT(first.max_abs_difference(), 0);
  EXPECT_EQ(first.a().count(), 216);
  EXPECT_GT(first.b().std(), first.a().std());
}

TEST(DiffModels, ReportsShapeDtypeAndMissingTensors) {
  onnx::ModelProto a = testing::NewModel(), b = testing::NewModel();
  testing::AddInitializer(*a.mutable_graph(), "same", {2, 2});
  testing::AddInitializer(*b.mutable_graph(), "same", {2, 2});
  testing::AddInitializer(*a.mutable_graph(), "reshaped", {2, 3});
  testing::AddInitializer(*b.mutable_graph(), "reshaped", {3, 2});
  testing::AddInitializer(*a.mutable_graph(), "retyped", {4});
  testing::AddInitializer(*b.mutable_graph(), "retyped", {4}, onnx::TensorProto::FLOAT16);
  testing::AddInitializer(*a.mutable_graph(), "gone", {1});
  testing::AddInitializer(*b.mutable_graph(), "new", {1});
  const proto::DiffReport report = Diff(a, b);
  EXPECT_EQ(report.identical(), 1);
  ASSERT_EQ(report.tensors_size(), 4);
  EXPECT_EQ(report.tensors(0).change(), proto::TensorDiff::SHAPE);
  EXPECT_EQ(report.tensors(1).change(), proto::TensorDiff::DTYPE);
  EXPECT_EQ(report.tensors(1).dtype_b(), "float16");
  EXPECT_EQ(report.tensors(2).change(), proto::TensorDiff::ONLY_IN_A);
  EXPECT_EQ(report.tensors(3).change(), proto::TensorDiff::ONLY_IN_B);
}

TEST(DiffModels, SameValuesInAnotherStorageFieldAreIdentical) {
  onnx::ModelProto a = testing::NewModel(), b = testing::NewModel();
  testing::AddInitializer(*a.mutable_graph(), "w", {3, 4}, onnx::TensorProto::FLOAT, Storage::kRawData);
  testing::AddInitializer(*b.mutable_graph(), "w", {3, 4}, onnx::TensorProto::FLOAT, Storage::kFloatData);
  EXPECT_EQ(Diff(a, b).differing(), 0);
}

TEST(DiffModels, ComparesHashesFirstAndNamesTensorsThatDifferInBytesOnly) {
  onnx::ModelProto a = testing::NewModel(), b = testing::NewModel();
  testing::AddInitializer(*a.mutable_graph(), "w", {3, 4});
  testing::AddInitializer(*b.mutable_graph(), "w", {3, 4});
  testing::AddInitializer(*a.mutable_graph(), "zero", {1});
  testing::AddInitializer(*b.mutable_graph(), "zero", {1});
  const float positive = 0.0f, negative = -0.0f;
  testing::FindInitializer(a, "zero")->set_raw_data(&positive, sizeof(float));
  testing::FindInitializer(b, "zero")->set_raw_data(&negative, sizeof(float));
  const proto::DiffReport report = Diff(a, b);
  EXPECT_EQ(report.identical(), 1);
  ASSERT_EQ(report.tensors_size(), 1);
  const proto::TensorDiff& zero = report.tensors(0);
  EXPECT_EQ(zero.change(), proto::TensorDiff::BYTES);
  EXPECT_EQ(zero.values_differing(), 0);
  EXPECT_EQ(zero.sha256_a(), Sha256Hex(std::string(4, '\0')));
  EXPECT_NE(zero.sha256_a(), zero.sha256_b());
  EXPECT_NE(report.tensors_sha256_a(), report.tensors_sha256_b());
}

TEST(DiffModels, DigestsAreThoseOfStatsHash) {
  onnx::ModelProto a = testing::LoadTestdata("torch_cnn.onnx"), b = testing::LoadTestdata("dtypes.onnx");
  StatsOptions options;
  options.hash = true;
  const proto::DiffReport report = Diff(a, b);
  EXPECT_EQ(report.tensors_sha256_a(), ComputeModelStats(a, options)->tensors_sha256());
  EXPECT_EQ(report.tensors_sha256_b(), ComputeModelStats(b, options)->tensors_sha256());
}

TEST(DiffModels, IntegerTensorsCompareTheirBytes) {
  onnx::ModelProto a = testing::LoadTestdata("int_and_shape.onnx"), b = a;
  onnx::TensorProto* shape = testing::FindInitializer(b, "reshape_shape");
  ASSERT_NE(shape, nullptr);
  (*shape->mutable_raw_data())[0] ^= 1;
  const proto::DiffReport report = Diff(a, b);
  ASSERT_EQ(report.tensors_size(), 1);
  EXPECT_EQ(report.tensors(0).name(), "reshape_shape");
  EXPECT_EQ(report.tensors(0).change(), proto::TensorDiff::VALUES);
  EXPECT_FALSE(report.tensors(0).has_a());
}

}  // namespace
}  // namespace onnx_reinit
