#include "onnx_reinit/init/untie.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/rewrite.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using testing::AddInitializer;
using testing::AddNode;
using ::testing::ElementsAre;
using testing::FindInitializer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::LoadTestdata;
using testing::ReadValues;

ReinitOptions TorchBias() {
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  options.policy.bias = BiasInit::kTorch;
  return options;
}

std::string InputOf(const onnx::ModelProto& model, const std::string& node_output) {
  for (const onnx::NodeProto& node : model.graph().node()) {
    if (node.output(0) == node_output) return node.input(0);
  }
  return "";
}

double MaxAbs(const std::vector<double>& values) {
  double m = 0;
  for (double v : values) m = std::max(m, std::abs(v));
  return m;
}

TEST(UntieTensors, MergedBiasGetsOneCopyPerGroupOfReaders) {
  onnx::ModelProto model = LoadTestdata("torch_layer_scale.onnx");
  auto result = UntieTensors(model, TorchBias());
  std::vector<std::string> copies;
  for (const proto::UntiedCopy& copy : result.copies) {
    EXPECT_EQ(copy.source(), "stem.bias");
    copies.push_back(copy.name() + " " + copy.role());
  }
  // The stem Conv keeps the tensor; the depthwise Conv (fan_in 49), the LayerNorm and the second
  // Linear (fan_in 256) need other values.
  EXPECT_THAT(copies, ElementsAre("stem.bias.bias bias", "stem.bias.norm_bias norm_bias", "stem.bias.bias.2 bias"));
  // The exporter's Identity nodes (named after the PyTorch parameters) now read the copies.
  EXPECT_EQ(InputOf(model, "block.0.bias"), "stem.bias.bias");
  EXPECT_EQ(InputOf(model, "block.2.bias"), "stem.bias.norm_bias");
  EXPECT_EQ(InputOf(model, "block.5.bias"), "stem.bias.bias.2");
  EXPECT_TRUE(CheckModel(model).ok());
  auto again = UntieTensors(model, TorchBias());
  EXPECT_THAT(again.copies, IsEmpty());
}

TEST(UntieTensors, CopiesGetTheValuesOfTheirRole) {
  onnx::ModelProto model = LoadTestdata("torch_layer_scale.onnx");
  ReinitOptions options = TorchBias();
  options.untie = true;
  auto report = Reinitialize(model, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->untied_size(), 3);
  const std::vector<double> stem = ReadValues(*FindInitializer(model, "stem.bias"));
  const std::vector<double> depthwise = ReadValues(*FindInitializer(model, "stem.bias.bias"));
  const std::vector<double> norm = ReadValues(*FindInitializer(model, "stem.bias.norm_bias"));
  const std::vector<double> linear = ReadValues(*FindInitializer(model, "stem.bias.bias.2"));
  // U(+-1/sqrt(fan_in)) with fan_in 12, 49 and 256: 64 draws reach past 0.9 of the bound with
  // probability 1 - 0.9^64 > 0.998.
  EXPECT_LE(MaxAbs(stem), 1 / std::sqrt(12.0));
  EXPECT_GT(MaxAbs(stem), 0.9 / std::sqrt(12.0));
  EXPECT_LE(MaxAbs(depthwise), 1 / 7.0);
  EXPECT_GT(MaxAbs(depthwise), 0.9 / 7.0);
  EXPECT_LE(MaxAbs(linear), 1 / 16.0);
  EXPECT_GT(MaxAbs(linear), 0.9 / 16.0);
  EXPECT_EQ(MaxAbs(norm), 0.0);
}

TEST(UntieTensors, NothingIsCopiedWhenEveryReaderNeedsTheSameValues) {
  onnx::ModelProto model = LoadTestdata("torch_vit.onnx");
  const std::string before = model.SerializeAsString();
  ReinitOptions zeros;  // zeros for biases and norm biases alike
  auto result = UntieTensors(model, zeros);
  EXPECT_THAT(result.copies, IsEmpty());
  EXPECT_EQ(model.SerializeAsString(), before);
}

// All zeros, as an exporter-merged bias (the builder gives each element its own value).
void SetZeros(onnx::TensorProto& tensor) { tensor.set_raw_data(std::string(tensor.raw_data().size(), '\0')); }

// Gemm(x, w, b) and LayerNormalization(x, scale, b): one zero bias of two roles.
onnx::ModelProto SharedBias(int64_t ir_version) {
  onnx::ModelProto model = testing::NewModel();
  model.set_ir_version(ir_version);
  model.mutable_opset_import(0)->set_version(17);  // LayerNormalization
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "x", {2, 4});
  AddInitializer(graph, "w", {4, 4});
  SetZeros(*AddInitializer(graph, "b", {4}));
  AddInitializer(graph, "scale", {4});
  onnx::NodeProto& gemm = *AddNode(graph, "Gemm", {"x", "w", "b"}, {"h"}, "gemm");
  testing::SetIntAttribute(gemm, "transB", 1);
  AddNode(graph, "LayerNormalization", {"h", "scale", "b"}, {"b.norm_bias"}, "norm");
  return model;
}

TEST(UntieTensors, CopyNamesAreFreeAndIr3GraphInputsListThem) {
  onnx::ModelProto model = SharedBias(3);
  onnx::GraphProto& graph = *model.mutable_graph();
  for (const char* name : {"w", "b", "scale"}) testing::AddInput(graph, name, {name[0] == 'w' ? 4 : 4});
  auto result = UntieTensors(model, TorchBias());
  ASSERT_EQ(result.copies.size(), 1u);
  EXPECT_EQ(result.copies[0].name(), "b.norm_bias.2");  // "b.norm_bias" is the norm's output
  EXPECT_THAT(result.copies[0].readers(), ElementsAre("norm"));
  EXPECT_EQ(graph.node(1).input(2), "b.norm_bias.2");
  EXPECT_EQ(graph.node(0).input(2), "b");
  EXPECT_EQ(graph.input(graph.input_size() - 1).name(), "b.norm_bias.2");
}

TEST(UntieTensors, ConstantNodeCopyComesRightAfterTheOriginal) {
  onnx::ModelProto model = SharedBias(8);
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.mutable_initializer()->RemoveLast();  // scale
  graph.mutable_initializer()->RemoveLast();  // b
  SetZeros(*testing::AddConstantNode(graph, "b", {4})->mutable_attribute(0)->mutable_t());
  testing::AddConstantNode(graph, "scale", {4});
  for (int k = graph.node_size() - 1; k >= 2; --k) graph.mutable_node()->SwapElements(k, k - 2);
  auto result = UntieTensors(model, TorchBias());
  ASSERT_EQ(result.copies.size(), 1u);
  EXPECT_EQ(graph.node(1).op_type(), "Constant");
  EXPECT_EQ(graph.node(1).output(0), result.copies[0].name());
  EXPECT_TRUE(CheckModel(model).ok()) << CheckModel(model);
}

TEST(UntieTensors, ReadersMeetingInOneNodeStayTiedWithAWarning) {
  onnx::ModelProto model = SharedBias(7);
  onnx::GraphProto& graph = *model.mutable_graph();
  AddNode(graph, "Identity", {"b"}, {"b_view"}, "view");
  graph.mutable_node(0)->set_input(2, "b_view");
  graph.mutable_node(1)->set_input(2, "b_view");
  graph.mutable_node()->SwapElements(2, 1);
  graph.mutable_node()->SwapElements(1, 0);
  auto result = UntieTensors(model, TorchBias());
  EXPECT_THAT(result.copies, IsEmpty());
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_THAT(result.warnings[0], HasSubstr("'b' stays tied: readers that need different values read it "
                                            "through the same node, Identity 'view'"));
}

TEST(UntieTensors, TensorsInExternalDataStayTiedWithAWarning) {
  onnx::ModelProto model = SharedBias(8);
  onnx::TensorProto& b = *FindInitializer(model, "b");
  b.clear_raw_data();
  b.set_data_location(onnx::TensorProto::EXTERNAL);
  onnx::StringStringEntryProto& location = *b.add_external_data();
  location.set_key("location");
  location.set_value("b.bin");
  const UntieResult result = UntieTensors(model, TorchBias());
  EXPECT_THAT(result.copies, IsEmpty());
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_THAT(result.warnings[0], HasSubstr("'b' stays tied: its values cannot be read in memory"));
}

TEST(UntieTensors, DeliberatelyTiedWeightsStayTiedWithAWarning) {
  // An embedding table that is also the output projection (read through a Transpose): embedding
  // and weight need different values, but its values differ from element to element, so it is
  // one learned tensor shared on purpose, not constants the exporter merged.
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "ids", {1, 3}, onnx::TensorProto::INT64);
  onnx::TensorProto& table = *AddInitializer(graph, "table", {10, 4});
  std::vector<float> values(40);
  for (int k = 0; k < 40; ++k) values[k] = 0.01f * k;
  table.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  AddNode(graph, "Gather", {"table", "ids"}, {"h"});
  AddNode(graph, "Transpose", {"table"}, {"table_t"});
  AddNode(graph, "MatMul", {"h", "table_t"}, {"logits"});
  const std::string before = model.SerializeAsString();
  const UntieResult result = UntieTensors(model, TorchBias());
  EXPECT_THAT(result.copies, IsEmpty());
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_THAT(result.warnings[0], HasSubstr("'table' stays tied: its values differ from element to element"));
  EXPECT_EQ(model.SerializeAsString(), before);
  // The same table holding one value (as an exporter merges) is split, through the Transpose.
  SetZeros(table);
  const UntieResult merged = UntieTensors(model, TorchBias());
  ASSERT_EQ(merged.copies.size(), 1u);
  EXPECT_EQ(merged.copies[0].role(), "weight");  // the embedding wins and keeps the tensor
  EXPECT_EQ(graph.node(0).input(0), "table");
  EXPECT_EQ(graph.node(1).input(0), "table.weight");  // the Transpose reads the copy
}

TEST(UntieTensors, FileToFileTakesTheParsedPathAndPassesTheChecker) {
  const std::string output = ::testing::TempDir() + "/untied.onnx";
  RewriteOptions options;
  options.reinit = TorchBias();
  options.reinit.untie = true;
  auto report = ReinitializeFile(testing::TestdataPath("torch_vit.onnx"), output, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->untied_size(), 2);
  EXPECT_TRUE(CheckModelFile(output).ok());
  auto written = LoadModel(output);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(MaxAbs(ReadValues(*FindInitializer(*written, "conv_proj.bias.norm_bias"))), 0.0);
  EXPECT_GT(MaxAbs(ReadValues(*FindInitializer(*written, "conv_proj.bias.bias"))), 0.0);
}

}  // namespace
}  // namespace onnx_reinit
