#include "onnx_reinit/reinit.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/tensor_data.h"
#include "onnx_reinit/weights.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using ::testing::HasSubstr;
using testing::FindInitializer;
using testing::LoadTestdata;
using testing::ReadValues;

ReinitOptions He(int threads = 2, uint64_t seed = 7) {
  ReinitOptions options;
  options.scheme.kind = SchemeKind::kHeNormal;
  options.threads = threads;
  options.seed = seed;
  return options;
}

proto::ReinitReport ReinitOk(onnx::ModelProto& model, const ReinitOptions& options) {
  auto report = Reinitialize(model, options);
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : proto::ReinitReport();
}

// Sets every value of every weight to zero, so that two models can be compared on everything else.
void ClearWeightValues(onnx::ModelProto& model) {
  for (const Weight& weight : FindWeights(*model.mutable_graph()).weights) {
    auto values = TensorValues::Bind(*weight.tensor, weight.name);
    ASSERT_TRUE(values.ok());
    const std::vector<double> zeros(values->size(), 0.0);
    values->Write(0, zeros.data(), values->size());
  }
}

TEST(Reinitialize, ReportsEveryWeightWithItsFansAndDistribution) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  const proto::ReinitReport report = ReinitOk(model, He());
  ASSERT_EQ(report.tensors_size(), 4);
  const proto::TensorRecord& dw = report.tensors(1);
  EXPECT_EQ(dw.name(), "dw.weight");
  EXPECT_EQ(dw.op_type(), "Conv");
  EXPECT_EQ(dw.input_index(), 1);
  EXPECT_EQ(dw.source(), "initializer");
  EXPECT_EQ(dw.dtype(), "float32");
  EXPECT_EQ(dw.storage(), "raw_data");
  EXPECT_THAT(dw.shape(), ::testing::ElementsAre(8, 1, 3, 3));
  EXPECT_EQ(dw.count(), 72);
  EXPECT_EQ(dw.fan_in(), 9);
  EXPECT_EQ(dw.fan_out(), 72);
  EXPECT_EQ(dw.distribution().kind(), proto::Distribution::NORMAL);
  EXPECT_DOUBLE_EQ(dw.distribution().std(), std::sqrt(2.0 / 9));
  EXPECT_EQ(report.values(), 216 + 72 + 64 + 160);
  EXPECT_EQ(report.scheme(), "he_normal");
}

TEST(Reinitialize, ChangesOnlyTheValuesOfWeights) {
  for (const char* file : {"constant_weights.onnx", "int_and_shape.onnx", "torch_cnn.onnx",
                           "torch_dcgan.onnx", "dtypes.onnx", "gemm_layouts.onnx"}) {
    onnx::ModelProto original = LoadTestdata(file);
    onnx::ModelProto model = original;
    const proto::ReinitReport report = ReinitOk(model, He());
    EXPECT_GT(report.tensors_size(), 0) << file;
    EXPECT_NE(model.SerializeAsString(), original.SerializeAsString()) << file;
    ClearWeightValues(model);
    ClearWeightValues(original);
    EXPECT_EQ(model.SerializeAsString(), original.SerializeAsString()) << file;
  }
}

TEST(Reinitialize, LeavesNonWeightTensorsByteForByte) {
  const onnx::ModelProto original = LoadTestdata("int_and_shape.onnx");
  onnx::ModelProto model = original;
  ReinitOk(model, He());
  for (int i = 0; i < model.graph().initializer_size(); ++i) {
    const auto& before = original.graph().initializer(i);
    const auto& after = model.graph().initializer(i);
    if (before.name() == "conv_W") {
      EXPECT_NE(after.raw_data(), before.raw_data());
    } else {
      EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString()) << before.name();
    }
  }
}

TEST(Reinitialize, ThreadCountDoesNotChangeTheBytes) {
  for (const char* file : {"torch_dcgan.onnx", "dtypes.onnx", "dtypes_noort.onnx"}) {
    onnx::ModelProto one = LoadTestdata(file), two = one, seven = one;
    ReinitOk(one, He(1));
    ReinitOk(two, He(2));
    ReinitOk(seven, He(7));
    EXPECT_EQ(one.SerializeAsString(), two.SerializeAsString()) << file;
    EXPECT_EQ(one.SerializeAsString(), seven.SerializeAsString()) << file;
  }
}

TEST(Reinitialize, AnotherSeedGivesOtherValues) {
  onnx::ModelProto a = LoadTestdata("torch_cnn.onnx"), b = a;
  ReinitOk(a, He(2, 1));
  ReinitOk(b, He(2, 2));
  EXPECT_NE(ReadValues(*FindInitializer(a, "fc.weight")),
            ReadValues(*FindInitializer(b, "fc.weight")));
}

TEST(Reinitialize, SelectedTensorsGetTheSameValuesAsInAFullRun) {
  const onnx::ModelProto original = LoadTestdata("torch_cnn.onnx");
  onnx::ModelProto full = original, subset = original;
  ReinitOk(full, He());
  ReinitOptions options = He();
  options.select = [](absl::string_view name) { return name == "gconv.weight"; };
  const proto::ReinitReport report = ReinitOk(subset, options);
  ASSERT_EQ(report.tensors_size(), 1);
  EXPECT_EQ(ReadValues(*FindInitializer(subset, "gconv.weight")),
            ReadValues(*FindInitializer(full, "gconv.weight")));
  onnx::ModelProto unchanged = original;
  EXPECT_EQ(FindInitializer(subset, "fc.weight")->SerializeAsString(),
            FindInitializer(unchanged, "fc.weight")->SerializeAsString());
}

TEST(Reinitialize, RewritesConstantNodeValuesInPlace) {
  onnx::ModelProto model = LoadTestdata("constant_weights.onnx");
  const int nodes = model.graph().node_size();
  const proto::ReinitReport report = ReinitOk(model, He());
  ASSERT_GE(report.tensors_size(), 1);
  EXPECT_EQ(report.tensors(0).name(), "gemm_B");
  EXPECT_EQ(report.tensors(0).source(), "constant_node");
  EXPECT_EQ(model.graph().node_size(), nodes);
}

TEST(Reinitialize, MalformedWeightFailsAndLeavesTheModelUnchanged) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInitializer(graph, "good", {4, 4});
  testing::AddInitializer(graph, "bad", {4, 4})->mutable_raw_data()->resize(10);
  testing::AddNode(graph, "MatMul", {"x", "good"}, {"h"});
  testing::AddNode(graph, "MatMul", {"h", "bad"}, {"y"});
  const std::string before = model.SerializeAsString();
  auto report = Reinitialize(model, He());
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("tensor 'bad': raw_data holds 10"));
  EXPECT_EQ(model.SerializeAsString(), before);
}

TEST(Reinitialize, ExternalDataIsRefusedNamingTheTensor) {
  onnx::ModelProto model = testing::NewModel();
  onnx::TensorProto* tensor = model.mutable_graph()->add_initializer();
  tensor->set_name("big");
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  tensor->set_data_location(onnx::TensorProto::EXTERNAL);
  auto report = Reinitialize(model, He());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("'big'"));
}

TEST(Reinitialize, BadSchemeOptionsAreRejectedBeforeAnythingChanges) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  const std::string before = model.SerializeAsString();
  ReinitOptions options = He();
  options.scheme.std = 3;
  EXPECT_EQ(Reinitialize(model, options).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model.SerializeAsString(), before);
}

TEST(Reinitialize, EmptyWeightIsSkippedWithAWarning) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInitializer(graph, "empty", {0, 4});
  testing::AddNode(graph, "MatMul", {"x", "empty"}, {"y"});
  const proto::ReinitReport report = ReinitOk(model, He());
  EXPECT_EQ(report.tensors_size(), 0);
  ASSERT_EQ(report.warnings_size(), 1);
  EXPECT_THAT(report.warnings(0), HasSubstr("'empty' has no elements"));
}

}  // namespace
}  // namespace onnx_reinit
