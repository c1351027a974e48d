#include "onnx_reinit/weights.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::AddConstantNode;
using testing::AddInitializer;
using testing::AddNode;

std::vector<std::string> Names(const WeightScan& scan) {
  std::vector<std::string> names;
  for (const Weight& weight : scan.weights) names.push_back(weight.name);
  return names;
}

TEST(FindWeights, FollowsIdentityChainsToTheInitializer) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  onnx::TensorProto* w = AddInitializer(graph, "w", {5, 3});
  AddNode(graph, "Identity", {"w"}, {"w1"});
  AddNode(graph, "Identity", {"w1"}, {"w2"});
  AddNode(graph, "MatMul", {"x", "w2"}, {"y"}, "mm");
  const WeightScan scan = FindWeights(graph);
  ASSERT_EQ(scan.weights.size(), 1u);
  EXPECT_EQ(scan.weights[0].name, "w");
  EXPECT_EQ(scan.weights[0].tensor, w);
  EXPECT_EQ(scan.weights[0].consumer->name(), "mm");
  EXPECT_EQ(scan.weights[0].fans, (Fans{5, 3}));
  EXPECT_THAT(scan.warnings, IsEmpty());
}

TEST(FindWeights, FindsWeightsHeldInConstantNodes) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  onnx::NodeProto* constant = AddConstantNode(graph, "b", {4, 5});
  AddNode(graph, "Gemm", {"x", "b"}, {"y"}, "gemm");
  const WeightScan scan = FindWeights(graph);
  ASSERT_EQ(scan.weights.size(), 1u);
  EXPECT_EQ(scan.weights[0].name, "b");
  EXPECT_EQ(scan.weights[0].source, TensorSource::kConstantNode);
  EXPECT_EQ(scan.weights[0].tensor, constant->mutable_attribute(0)->mutable_t());
  EXPECT_EQ(scan.weights[0].fans, (Fans{4, 5}));
}

TEST(FindWeights, SharedTensorIsOneWeightAndFirstConsumerWinsWithAWarning) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "w", {4, 6});
  AddNode(graph, "MatMul", {"x", "w"}, {"y"}, "as_b");
  AddNode(graph, "MatMul", {"w", "z"}, {"u"}, "as_a");
  const WeightScan scan = FindWeights(graph);
  ASSERT_EQ(scan.weights.size(), 1u);
  EXPECT_EQ(scan.weights[0].consumer->name(), "as_b");
  EXPECT_EQ(scan.weights[0].fans, (Fans{4, 6}));
  ASSERT_EQ(scan.warnings.size(), 1u);
  EXPECT_THAT(scan.warnings[0], HasSubstr("'w' is also used by MatMul 'as_a' input 0"));
}

TEST(FindWeights, SharedTensorWithAgreeingConsumersGivesNoWarning) {
  const onnx::ModelProto fixture = testing::LoadTestdata("torch_tied.onnx");
  onnx::ModelProto model = fixture;
  const WeightScan scan = FindWeights(*model.mutable_graph());
  EXPECT_THAT(Names(scan), ElementsAre("fc.weight"));
  EXPECT_THAT(scan.warnings, IsEmpty());
}

TEST(FindWeights, ExporterIdentityForTiedWeightsIsFollowed) {
  onnx::ModelProto model = testing::LoadTestdata("torch_tied_matmul.onnx");
  const WeightScan scan = FindWeights(*model.mutable_graph());
  EXPECT_THAT(Names(scan), ElementsAre("onnx::MatMul_10"));
  EXPECT_THAT(scan.warnings, IsEmpty());
}

TEST(FindWeights, LeavesBiasesIntegersScalarsAndActivationsAlone) {
  onnx::ModelProto model = testing::LoadTestdata("int_and_shape.onnx");
  const WeightScan scan = FindWeights(*model.mutable_graph());
  EXPECT_THAT(Names(scan), ElementsAre("conv_W"));
}

TEST(FindWeights, IgnoresNonFloatWeightSlotsAndNonConstantOperands) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "int_w", {4, 4}, onnx::TensorProto::INT64);
  AddNode(graph, "MatMul", {"x", "int_w"}, {"y"});
  AddNode(graph, "MatMul", {"x", "activation"}, {"z"});
  EXPECT_THAT(FindWeights(graph).weights, IsEmpty());
}

TEST(FindWeights, ReportsInOrderOfFirstUse) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "second", {3, 3});
  AddInitializer(graph, "first", {8, 3, 3, 3});
  AddNode(graph, "Conv", {"x", "first"}, {"h"});
  AddNode(graph, "Gemm", {"h", "second"}, {"y"});
  EXPECT_THAT(Names(FindWeights(graph)), ElementsAre("first", "second"));
}

TEST(FindWeights, ShapeThatFitsNoRuleIsSkippedWithAWarning) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "w", {8, 3});
  AddNode(graph, "Conv", {"x", "w"}, {"y"});
  const WeightScan scan = FindWeights(graph);
  EXPECT_THAT(scan.weights, IsEmpty());
  ASSERT_EQ(scan.warnings.size(), 1u);
  EXPECT_THAT(scan.warnings[0], HasSubstr("'w' [8, 3] left unchanged: Conv input 1 has shape"));
}

TEST(FindWeights, IdentityCycleDoesNotHang) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddNode(graph, "Identity", {"b"}, {"a"});
  AddNode(graph, "Identity", {"a"}, {"b"});
  AddNode(graph, "MatMul", {"x", "a"}, {"y"});
  EXPECT_THAT(FindWeights(graph).weights, IsEmpty());
}

TEST(FindWeights, FindsEveryWeightOfTheTorchFixtures) {
  struct Case {
    const char* file;
    std::vector<std::string> weights;
  };
  for (const Case& c : std::vector<Case>{
           {"torch_cnn.onnx", {"onnx::Conv_23", "dw.weight", "gconv.weight", "fc.weight"}},
           {"torch_mlp_matmul.onnx", {"onnx::MatMul_12", "onnx::MatMul_13"}},
           {"torch_dcgan.onnx", {"net.0.weight", "net.3.weight"}},
           {"torch_conv1d3d.onnx", {"c1.weight", "c3.weight"}},
           {"constant_weights.onnx", {"gemm_B", "mm_W"}},
       }) {
    onnx::ModelProto model = testing::LoadTestdata(c.file);
    EXPECT_EQ(Names(FindWeights(*model.mutable_graph())), c.weights) << c.file;
  }
}

}  // namespace
}  // namespace onnx_reinit
