#include "onnx_reinit/roles.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/base/limits.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using testing::AddConstantNode;
using testing::AddInitializer;
using testing::AddNode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::SetIntAttribute;

const TensorUse& Find(const GraphAnalysis& analysis, const std::string& name) {
  return testing::FindUse(analysis, name);
}
TensorUse Find(GraphAnalysis&& analysis, const std::string& name) {
  return testing::FindUse(std::move(analysis), name);
}

std::vector<std::string> Names(const GraphAnalysis& analysis, Role role) {
  std::vector<std::string> names;
  for (const TensorUse& use : analysis.tensors) {
    if (use.role == role) names.push_back(use.name);
  }
  return names;
}

void AddIntsInitializer(onnx::GraphProto& graph, const std::string& name, std::vector<int64_t> values) {
  onnx::TensorProto* tensor = graph.add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::INT64);
  tensor->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t v : values) tensor->add_int64_data(v);
}

TEST(AnalyzeGraph, FollowsIdentityChainsToTheInitializer) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  onnx::TensorProto* w = AddInitializer(graph, "w", {5, 3});
  AddNode(graph, "Identity", {"w"}, {"w1"});
  AddNode(graph, "Identity", {"w1"}, {"w2"});
  AddNode(graph, "MatMul", {"x", "w2"}, {"y"}, "mm");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  ASSERT_EQ(analysis.tensors.size(), 1u);
  const TensorUse& use = analysis.tensors[0];
  EXPECT_EQ(use.tensor, w);
  EXPECT_EQ(use.role, Role::kWeight);
  EXPECT_EQ(use.reader->name(), "mm");
  EXPECT_EQ(*use.fans, (Fans{5, 3}));
  EXPECT_EQ(use.via, "");
  EXPECT_THAT(analysis.warnings, IsEmpty());
}

TEST(AnalyzeGraph, FindsWeightsHeldInConstantNodes) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  onnx::NodeProto* constant = AddConstantNode(graph, "b", {4, 5});
  AddNode(graph, "Gemm", {"x", "b"}, {"y"}, "gemm");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& use = Find(analysis, "b");
  EXPECT_EQ(use.source, TensorSource::kConstantNode);
  EXPECT_EQ(use.tensor, constant->mutable_attribute(0)->mutable_t());
  EXPECT_EQ(*use.fans, (Fans{4, 5}));
}

TEST(AnalyzeGraph, SharedTensorIsOneWeightAndFirstReaderWins) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "w", {4, 6});
  AddNode(graph, "MatMul", {"x", "w"}, {"y"}, "as_b");
  AddNode(graph, "MatMul", {"w", "z"}, {"u"}, "as_a");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  ASSERT_EQ(analysis.tensors.size(), 1u);
  EXPECT_EQ(analysis.tensors[0].reader->name(), "as_b");
  EXPECT_EQ(*analysis.tensors[0].fans, (Fans{4, 6}));
  // Whether the readers need different values depends on the policy: the planning warns (untie.h).
  EXPECT_THAT(analysis.warnings, IsEmpty());
}

TEST(AnalyzeGraph, TorchFixturesGetTheirRoles) {
  onnx::ModelProto cnn = testing::LoadTestdata("torch_cnn.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(cnn);
  EXPECT_THAT(Names(analysis, Role::kWeight), ElementsAre("onnx::Conv_23", "dw.weight", "gconv.weight", "fc.weight"));
  EXPECT_THAT(Names(analysis, Role::kBias), ElementsAre("onnx::Conv_24", "dw.bias", "gconv.bias", "fc.bias"));
  EXPECT_EQ(Find(analysis, "dw.weight").groups, 8);
  EXPECT_EQ(Find(analysis, "fc.bias").fans->fan_in, 16);  // the Gemm's K
  EXPECT_EQ(Find(analysis, "gconv.bias").fans->fan_in, 4);

  onnx::ModelProto dcgan = testing::LoadTestdata("torch_dcgan.onnx");
  const GraphAnalysis g = AnalyzeGraph(dcgan);
  EXPECT_EQ(Find(g, "net.1.weight").role, Role::kNormScale);
  EXPECT_EQ(Find(g, "net.1.bias").role, Role::kNormBias);
  EXPECT_EQ(Find(g, "net.1.running_mean").role, Role::kNormMean);
  EXPECT_EQ(Find(g, "net.1.running_var").role, Role::kNormVar);
  EXPECT_EQ(Find(g, "net.0.bias").fans->fan_in, 8 * 16);  // torch: size(1) * rf of W
}

TEST(AnalyzeGraph, ConvTransposeFansFollowTheChosenConvention) {
  onnx::ModelProto model = testing::LoadTestdata("torch_dcgan.onnx");
  EXPECT_EQ(*Find(AnalyzeGraph(model), "net.0.weight").fans, (Fans{8 * 16, 16 * 16}));
  AnalysisOptions options;
  options.convtranspose_input_channel_fans = true;
  EXPECT_EQ(*Find(AnalyzeGraph(model, options), "net.0.weight").fans, (Fans{16 * 16, 8 * 16}));
}

TEST(AnalyzeGraph, AddAfterMatMulOfTheOutputWidthIsItsBias) {
  onnx::ModelProto model = testing::LoadTestdata("torch_mlp_matmul.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "fc1.bias").role, Role::kBias);
  EXPECT_EQ(Find(analysis, "fc1.bias").fans->fan_in, 12);
  EXPECT_EQ(Find(analysis, "fc2.bias").fans->fan_in, 16);
}

TEST(AnalyzeGraph, LeavesIntegersScalarsAndOtherOperandsAloneWithReasons) {
  onnx::ModelProto model = testing::LoadTestdata("int_and_shape.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "mul_scale").role, Role::kOther);
  EXPECT_THAT(Find(analysis, "mul_scale").reason, HasSubstr("Mul input 1"));
  EXPECT_TRUE(Find(analysis, "mul_scale").fixed);  // a scalar: no rule changes it
  // Added to an activation after a Mul, not a MatMul: a learned free parameter, not a bias.
  EXPECT_EQ(Find(analysis, "add_bias").role, Role::kParameter);
  for (const TensorUse& use : analysis.tensors) EXPECT_NE(use.name, "reshape_shape");
}

TEST(AnalyzeGraph, DecomposedLayerNormParametersAreNormRoles) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "two", {});
  AddInitializer(graph, "eps", {});
  AddInitializer(graph, "gamma", {8});
  AddInitializer(graph, "beta", {8});
  AddNode(graph, "ReduceMean", {"x"}, {"mean"});
  AddNode(graph, "Sub", {"x", "mean"}, {"centered"});
  AddNode(graph, "Pow", {"centered", "two"}, {"squared"});
  AddNode(graph, "ReduceMean", {"squared"}, {"variance"});
  AddNode(graph, "Add", {"variance", "eps"}, {"shifted"});
  AddNode(graph, "Sqrt", {"shifted"}, {"deviation"});
  AddNode(graph, "Div", {"centered", "deviation"}, {"normalized"});
  AddNode(graph, "Mul", {"normalized", "gamma"}, {"scaled"});
  AddNode(graph, "Add", {"scaled", "beta"}, {"y"});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "gamma").role, Role::kNormScale);
  EXPECT_EQ(Find(analysis, "beta").role, Role::kNormBias);
  EXPECT_EQ(Find(analysis, "two").role, Role::kOther);
  EXPECT_EQ(Find(analysis, "eps").role, Role::kOther);
}

TEST(AnalyzeGraph, DecomposedRmsNormScalesAreNormScalesNotParameters) {
  // x * rsqrt(mean(x^2) + eps) * weight, as PyTorch exports it, and x / sqrt(...) * weight.
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "x", {2, 64});
  AddInitializer(graph, "two", {});
  AddInitializer(graph, "eps", {});
  AddInitializer(graph, "rms_weight", {64});
  AddInitializer(graph, "div_weight", {64});
  AddNode(graph, "Pow", {"x", "two"}, {"squared"});
  AddNode(graph, "ReduceMean", {"squared"}, {"mean_square"});
  AddNode(graph, "Add", {"mean_square", "eps"}, {"shifted"});
  AddNode(graph, "Sqrt", {"shifted"}, {"rms"});
  AddNode(graph, "Reciprocal", {"rms"}, {"inverse"});
  AddNode(graph, "Mul", {"x", "inverse"}, {"normalized"});
  AddNode(graph, "Mul", {"rms_weight", "normalized"}, {"y"});
  AddNode(graph, "Div", {"x", "rms"}, {"divided"});
  AddNode(graph, "Mul", {"divided", "div_weight"}, {"z"});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "rms_weight").role, Role::kNormScale);
  EXPECT_EQ(Find(analysis, "div_weight").role, Role::kNormScale);
}

TEST(AnalyzeGraph, RecurrentTensorsGetGateLayouts) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "W", {2, 16, 3});
  AddInitializer(graph, "R", {2, 16, 4});
  AddInitializer(graph, "B", {2, 32});
  AddInitializer(graph, "h0", {2, 1, 4});
  onnx::NodeProto* lstm = AddNode(graph, "LSTM", {"x", "W", "R", "B", "", "h0"}, {"y"});
  SetIntAttribute(*lstm, "hidden_size", 4);
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& w = Find(analysis, "W");
  EXPECT_EQ(w.role, Role::kRnnWeight);
  EXPECT_EQ(*w.fans, (Fans{3, 4}));
  EXPECT_EQ(w.rnn->gates, 4);
  EXPECT_EQ(w.rnn->directions, 2);
  EXPECT_EQ(w.rnn->hidden_size, 4);
  EXPECT_EQ(Find(analysis, "R").role, Role::kRnnRecurrence);
  EXPECT_EQ(*Find(analysis, "R").fans, (Fans{4, 4}));
  EXPECT_EQ(Find(analysis, "B").role, Role::kRnnBias);
  EXPECT_EQ(Find(analysis, "h0").role, Role::kOther);
  EXPECT_THAT(Find(analysis, "h0").reason, HasSubstr("initial state"));
}

TEST(AnalyzeGraph, TiedEmbeddingIsInitializedOnceAsAnEmbedding) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "table", {30, 16});
  AddNode(graph, "Gather", {"table", "ids"}, {"embedded"}, "embed");
  AddNode(graph, "Transpose", {"table"}, {"table_t"});
  AddNode(graph, "MatMul", {"hidden", "table_t"}, {"logits"}, "head");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& table = Find(analysis, "table");
  EXPECT_EQ(table.role, Role::kEmbedding);
  EXPECT_EQ(*table.fans, (Fans{16, 30}));
  EXPECT_THAT(analysis.warnings, IsEmpty());
}

TEST(AnalyzeGraph, FansMapThroughTransposeReshapeAndUnsqueeze) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "w_t", {6, 4});
  AddNode(graph, "Transpose", {"w_t"}, {"w_t_view"});
  AddNode(graph, "MatMul", {"x", "w_t_view"}, {"a"});
  AddInitializer(graph, "w_r", {24});
  AddIntsInitializer(graph, "shape", {4, -1});
  AddNode(graph, "Reshape", {"w_r", "shape"}, {"w_r_view"});
  AddNode(graph, "MatMul", {"x", "w_r_view"}, {"b"});
  AddInitializer(graph, "w_u", {4, 6});
  AddIntsInitializer(graph, "axes", {0});
  AddNode(graph, "Unsqueeze", {"w_u", "axes"}, {"w_u_view"});
  AddNode(graph, "MatMul", {"x", "w_u_view"}, {"c"});
  AddInitializer(graph, "w_c", {4, 6}, onnx::TensorProto::FLOAT16);
  onnx::NodeProto* cast = AddNode(graph, "Cast", {"w_c"}, {"w_c_view"});
  SetIntAttribute(*cast, "to", onnx::TensorProto::FLOAT);
  AddNode(graph, "MatMul", {"x", "w_c_view"}, {"d"});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  for (const char* name : {"w_t", "w_r", "w_u", "w_c"}) {
    const TensorUse& use = Find(analysis, name);
    EXPECT_EQ(use.role, Role::kWeight) << name;
    EXPECT_EQ(*use.fans, (Fans{4, 6})) << name;
  }
  EXPECT_EQ(Find(analysis, "w_t").via, "Transpose");
  EXPECT_THAT(Find(analysis, "w_u").view_shape, ElementsAre(1, 4, 6));
}

TEST(AnalyzeGraph, QuantizedWeightsAreReportedNotRewritten) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  onnx::TensorProto* q = graph.add_initializer();
  q->set_name("w_q");
  q->set_data_type(onnx::TensorProto::INT8);
  q->add_dims(4);
  q->add_dims(6);
  q->set_raw_data(std::string(24, '\1'));
  AddInitializer(graph, "scale", {});
  AddNode(graph, "DequantizeLinear", {"w_q", "scale"}, {"w"});
  AddNode(graph, "MatMul", {"x", "w"}, {"y"});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "w_q").role, Role::kQuantized);
  EXPECT_EQ(Find(analysis, "scale").role, Role::kOther);
  EXPECT_THAT(Find(analysis, "scale").reason, HasSubstr("quantization parameter"));
}

TEST(AnalyzeGraph, SearchesSubgraphsAndTheirOuterScope) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "outer_w", {3, 3});
  onnx::NodeProto* branch = AddNode(graph, "If", {"cond"}, {"y"});
  onnx::AttributeProto* then_branch = branch->add_attribute();
  then_branch->set_name("then_branch");
  then_branch->set_type(onnx::AttributeProto::GRAPH);
  onnx::GraphProto& body = *then_branch->mutable_g();
  AddInitializer(body, "inner_w", {3, 5});
  AddNode(body, "MatMul", {"x", "inner_w"}, {"h"});
  AddNode(body, "Gemm", {"h2", "outer_w"}, {"out"});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "inner_w").role, Role::kWeight);
  EXPECT_EQ(Find(analysis, "outer_w").role, Role::kWeight);
}

TEST(AnalyzeGraph, InitializersListedAsGraphInputsAreOverridable) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "w", {4, 4});
  testing::AddInput(graph, "w", {4, 4});
  AddNode(graph, "MatMul", {"x", "w"}, {"y"});
  EXPECT_TRUE(Find(AnalyzeGraph(model), "w").overridable);
}

TEST(AnalyzeGraph, ShapeThatFitsNoRuleIsLeftUnchangedWithAWarning) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "w", {8, 3});
  AddNode(graph, "Conv", {"x", "w"}, {"y"});
  AddInitializer(graph, "unused", {2});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "w").role, Role::kOther);
  ASSERT_EQ(analysis.warnings.size(), 1u);
  EXPECT_THAT(analysis.warnings[0], HasSubstr("'w' [8, 3] left unchanged: Conv input 1 has shape"));
  EXPECT_EQ(Find(analysis, "unused").reason, "not read by any node");
}

TEST(AnalyzeGraph, IdentityCycleDoesNotHang) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddNode(graph, "Identity", {"b"}, {"a"});
  AddNode(graph, "Identity", {"a"}, {"b"});
  AddNode(graph, "MatMul", {"x", "a"}, {"y"});
  EXPECT_THAT(AnalyzeGraph(model).tensors, IsEmpty());
}

TEST(AnalyzeGraph, ExporterIdentityForTiedWeightsIsFollowed) {
  onnx::ModelProto model = testing::LoadTestdata("torch_tied_matmul.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_THAT(Names(analysis, Role::kWeight), ElementsAre("onnx::MatMul_10"));
  EXPECT_THAT(analysis.warnings, IsEmpty());
}

TEST(AnalyzeGraph, PyTorchTextModelsGetEmbeddingAndRecurrentRoles) {
  onnx::ModelProto lstm = testing::LoadTestdata("torch_lstm_text.onnx");  // Embedding(50, 8), LSTM(8, 6)
  const GraphAnalysis a = AnalyzeGraph(lstm);
  EXPECT_EQ(Find(a, "emb.weight").role, Role::kEmbedding);
  EXPECT_EQ(*Find(a, "emb.weight").fans, (Fans{8, 50}));
  EXPECT_EQ(Find(a, "onnx::LSTM_119").role, Role::kRnnWeight);
  EXPECT_EQ(*Find(a, "onnx::LSTM_119").fans, (Fans{8, 6}));
  EXPECT_EQ(Find(a, "onnx::LSTM_120").role, Role::kRnnRecurrence);
  EXPECT_EQ(Find(a, "onnx::LSTM_121").role, Role::kRnnBias);
  EXPECT_EQ(Find(a, "onnx::LSTM_121").rnn->gates, 4);
  EXPECT_EQ(Find(a, "fc.weight").role, Role::kWeight);

  onnx::ModelProto gru = testing::LoadTestdata("torch_gru_text.onnx");  // bidirectional GRU(8, 5)
  const GraphAnalysis g = AnalyzeGraph(gru);
  const TensorUse& w = Find(g, "onnx::GRU_198");
  EXPECT_EQ(w.role, Role::kRnnWeight);
  EXPECT_EQ(w.rnn->gates, 3);
  EXPECT_EQ(w.rnn->directions, 2);
  EXPECT_EQ(w.rnn->hidden_size, 5);
  EXPECT_EQ(Find(g, "onnx::GRU_199").role, Role::kRnnRecurrence);
  EXPECT_EQ(Find(g, "onnx::GRU_197").role, Role::kRnnBias);
}

TEST(AnalyzeGraph, OpsetSeventeenLayerNormalizationParametersAreNormRoles) {
  onnx::ModelProto model = testing::LoadTestdata("torch_transformer_opset17.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "layer.norm1.weight").role, Role::kNormScale);
  // The exporter merged the all-zero LayerNorm biases into the attention output bias through
  // Identity: one tensor read as a Gemm bias and as a norm bias is initialized as a bias.
  EXPECT_EQ(Find(analysis, "layer.self_attn.out_proj.bias").role, Role::kBias);
}

// A weight read by MatMul through `view` (built by the caller on "w"): the analysis of "w".
class MalformedViewTest : public ::testing::Test {
 protected:
  MalformedViewTest() : graph_(*model_.mutable_graph()) {}

  // "w" of `dims` -> `op` -> MatMul; returns the `op` node.
  onnx::NodeProto* View(const std::string& op, std::vector<int64_t> dims = {4, 6}) {
    weight_ = AddInitializer(graph_, "w", {});
    weight_->clear_raw_data();
    for (int64_t dim : dims) weight_->add_dims(dim);
    AddNode(graph_, "MatMul", {"x", "w_view"}, {"y"});
    return AddNode(graph_, op, {"w"}, {"w_view"});
  }
  void SecondInput(onnx::NodeProto& node, const std::vector<int64_t>& values) {
    AddIntsInitializer(graph_, "ints", values);
    node.add_input("ints");
  }
  TensorUse Analyze() { return Find(AnalyzeGraph(model_), "w"); }

  onnx::ModelProto model_ = testing::NewModel();
  onnx::GraphProto& graph_;
  onnx::TensorProto* weight_ = nullptr;
};

TEST(AnalyzeGraph, ViewChainsAreFollowedUpToTheDepthLimit) {
  for (int length : {kMaxViewChainDepth, kMaxViewChainDepth + 1}) {
    onnx::ModelProto model = testing::NewModel();
    onnx::GraphProto& graph = *model.mutable_graph();
    AddInitializer(graph, "w", {4, 6});
    std::string previous = "w";
    for (int k = 0; k < length; ++k) {
      const std::string next = "w" + std::to_string(k);
      AddNode(graph, "Identity", {previous}, {next});
      previous = next;
    }
    AddNode(graph, "MatMul", {"x", previous}, {"y"});
    const GraphAnalysis analysis = AnalyzeGraph(model);
    EXPECT_EQ(Find(analysis, "w").role, length <= kMaxViewChainDepth ? Role::kWeight : Role::kOther) << length;
  }
}

TEST_F(MalformedViewTest, CastToATypeNumberPast32BitsIsNotAFloatCast) {
  SetIntAttribute(*View("Cast"), "to", (int64_t{1} << 32) + onnx::TensorProto::FLOAT);
  EXPECT_EQ(Analyze().reason, "op ai.onnx::Cast is not in the op table (onnx-reinit ops lists it)");
}

TEST_F(MalformedViewTest, UnsqueezeWithRepeatedAxesIsNotFollowed) {
  SecondInput(*View("Unsqueeze"), {1, 1});
  const TensorUse use = Analyze();
  EXPECT_EQ(use.role, Role::kOther);
  EXPECT_THAT(use.reason, HasSubstr("Unsqueeze axes [1, 1] are out of range or repeated"));
}

TEST_F(MalformedViewTest, UnsqueezeWithAxesOutsideTheRankIsNotFollowed) {
  SecondInput(*View("Unsqueeze"), {3});
  EXPECT_THAT(Analyze().reason, HasSubstr("Unsqueeze axes [3] are out of range"));
}

TEST_F(MalformedViewTest, UnsqueezeAxesAttributeOutsideTheRankIsNotFollowed) {
  onnx::AttributeProto& axes = *View("Unsqueeze")->add_attribute();
  axes.set_name("axes");
  axes.set_type(onnx::AttributeProto::INTS);
  axes.add_ints(-4);
  EXPECT_THAT(Analyze().reason, HasSubstr("Unsqueeze axes [-4] are out of range"));
}

TEST_F(MalformedViewTest, SqueezeOfAnAxisThatIsNotOneIsNotFollowed) {
  SecondInput(*View("Squeeze", {4, 1, 6}), {0});
  EXPECT_THAT(Analyze().reason, HasSubstr("Squeeze axes [0] do not fit the shape [4, 1, 6]"));
}

TEST_F(MalformedViewTest, SqueezeWithAxesOutsideTheRankIsNotFollowed) {
  SecondInput(*View("Squeeze", {4, 1, 6}), {1, 5});
  EXPECT_THAT(Analyze().reason, HasSubstr("Squeeze axes [1, 5] do not fit"));
}

TEST_F(MalformedViewTest, TransposeWithARepeatedAxisIsNotFollowed) {
  onnx::AttributeProto& perm = *View("Transpose")->add_attribute();
  perm.set_name("perm");
  perm.set_type(onnx::AttributeProto::INTS);
  perm.add_ints(0);
  perm.add_ints(0);
  EXPECT_THAT(Analyze().reason, HasSubstr("Transpose perm [0, 0] is not a permutation"));
}

TEST_F(MalformedViewTest, FlattenAxisOutsideTheRankIsNotFollowed) {
  SetIntAttribute(*View("Flatten"), "axis", 7);
  EXPECT_THAT(Analyze().reason, HasSubstr("Flatten axis 7 is out of range for rank 2"));
}

TEST_F(MalformedViewTest, FlattenWhoseHalvesOverflowIsNotFollowed) {
  // 0 elements, but the product of the dims after the axis is 2^64.
  SetIntAttribute(*View("Flatten", {0, int64_t{1} << 32, int64_t{1} << 32}), "axis", 1);
  EXPECT_THAT(Analyze().reason, HasSubstr("Flatten's result has too many elements"));
}

TEST_F(MalformedViewTest, ReshapeToHugeDimsIsNotFollowed) {
  // known *= dim used to overflow here (2^62 * 4 wraps to 0).
  SecondInput(*View("Reshape", {24}), {int64_t{1} << 62, 4, -1});
  EXPECT_THAT(Analyze().reason, HasSubstr("Reshape's shape [4611686018427387904, 4, -1] does not fit"));
}

TEST_F(MalformedViewTest, ReshapeToAnotherElementCountIsNotFollowed) {
  SecondInput(*View("Reshape", {24}), {int64_t{1} << 62, 4, 6});
  const TensorUse use = Analyze();
  EXPECT_EQ(use.role, Role::kOther);
  EXPECT_THAT(use.reason, HasSubstr("does not fit the tensor's shape [24]"));
}

TEST_F(MalformedViewTest, ReshapeWithTwoInferredOrNegativeDimsIsNotFollowed) {
  SecondInput(*View("Reshape", {24}), {-1, -1});
  EXPECT_THAT(Analyze().reason, HasSubstr("does not fit"));
  (*graph_.mutable_initializer(1)->mutable_int64_data())[1] = -2;
  EXPECT_THAT(Analyze().reason, HasSubstr("does not fit"));
}

TEST_F(MalformedViewTest, TensorWhoseElementCountOverflowsIsNotFollowed) {
  SecondInput(*View("Reshape", {int64_t{1} << 32, int64_t{1} << 32}), {-1});
  EXPECT_THAT(Analyze().reason, HasSubstr("its shape has a negative dimension or too many elements"));
}

TEST_F(MalformedViewTest, ConvWeightWhoseFansOverflowIsLeftUnchangedWithAWarning) {
  // 0 elements, but a receptive field of 2^64: the fan products used to overflow in fan.cc.
  weight_ = AddInitializer(graph_, "w", {0, int64_t{1} << 32, int64_t{1} << 16, int64_t{1} << 16});
  AddNode(graph_, "Conv", {"x", "w"}, {"y"});
  const GraphAnalysis analysis = AnalyzeGraph(model_);
  EXPECT_EQ(Find(analysis, "w").role, Role::kOther);
  ASSERT_EQ(analysis.warnings.size(), 1u);
  EXPECT_THAT(analysis.warnings[0], HasSubstr("whose fans overflow"));
}

TEST(ListConstants, ListsEveryConstantOfAnyType) {
  onnx::ModelProto model = testing::LoadTestdata("int_and_shape.onnx");
  std::vector<std::string> names;
  for (const GraphConstant& constant : ListConstants(model)) names.push_back(constant.name);
  EXPECT_THAT(names, ElementsAre("conv_W", "conv_B", "reshape_shape", "mul_scale", "add_bias"));
}

TEST(AnalyzeGraph, ViTClassTokenAndPositionalEmbeddingAreParameters) {
  onnx::ModelProto model = testing::LoadTestdata("torch_vit.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& token = Find(analysis, "class_token");
  EXPECT_EQ(token.role, Role::kParameter);
  EXPECT_EQ(token.reader->op_type(), "Expand");  // whose result is concatenated with the patches
  EXPECT_EQ(Find(analysis, "encoder.pos_embedding").role, Role::kParameter);
  EXPECT_EQ(Find(analysis, "conv_proj.bias").role, Role::kBias);
  EXPECT_EQ(Find(analysis, "encoder.layers.encoder_layer_0.mlp.0.bias").role, Role::kBias);
  EXPECT_EQ(Find(analysis, "encoder.layers.encoder_layer_0.ln_1.weight").role, Role::kNormScale);
  // The LayerNorm epsilons, GELU's constants and the attention's scale are scalars of their ops.
  for (const TensorUse& use : analysis.tensors) {
    if (use.source == TensorSource::kConstantNode) {
      EXPECT_TRUE(use.fixed) << use.name;
      EXPECT_EQ(use.role, Role::kOther) << use.name;
    }
  }
  // The node that reads a renamed weight keeps the module's path.
  EXPECT_EQ(Find(analysis, "onnx::MatMul_214").reader->name(), "/encoder/layers/encoder_layer_0/mlp/mlp.0/MatMul");
}

TEST(AnalyzeGraph, LayerScaleIsAParameter) {
  onnx::ModelProto model = testing::LoadTestdata("torch_layer_scale.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "layer_scale").role, Role::kParameter);
  EXPECT_EQ(Find(analysis, "block.2.weight").role, Role::kNormScale);
  EXPECT_EQ(Find(analysis, "stem.bias").role, Role::kBias);
  // stem.bias is merged by the exporter: read by two Convs, a LayerNorm Add and a MatMul's Add.
  int readings = 0;
  for (const TensorUse& reading : analysis.readings) readings += reading.name == "stem.bias";
  EXPECT_EQ(readings, 4);
  EXPECT_EQ(Find(analysis, "stem.bias").readers.size(), 4u);
}

TEST(AnalyzeGraph, MasksScalarsAndConstantOperandsAreNeverParameters) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "x", {1, 1, 8, 8});
  onnx::TensorProto& mask = *AddInitializer(graph, "mask", {1, 1, 8, 8});
  std::vector<float> causal(64);
  for (int k = 0; k < 64; ++k) causal[k] = k % 8 > k / 8 ? -INFINITY : 0.0f;
  mask.set_raw_data(std::string(reinterpret_cast<const char*>(causal.data()), causal.size() * 4));
  AddNode(graph, "Add", {"x", "mask"}, {"masked"});
  AddInitializer(graph, "one", {1, 1, 1, 1});  // one value: a scalar of the op
  AddNode(graph, "Mul", {"masked", "one"}, {"scaled"});
  AddInitializer(graph, "table", {8, 8});  // a learned table added to the activation
  AddNode(graph, "Add", {"scaled", "table"}, {"shifted"});
  AddInitializer(graph, "a", {8, 8});
  AddInitializer(graph, "b", {8, 8});
  AddNode(graph, "Sub", {"a", "b"}, {"folded"});  // constants only: nothing learned meets data
  AddNode(graph, "Add", {"shifted", "folded"}, {"y"});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "mask").role, Role::kOther);
  EXPECT_TRUE(Find(analysis, "mask").fixed);
  EXPECT_THAT(Find(analysis, "mask").reason, HasSubstr("attention mask"));
  EXPECT_EQ(Find(analysis, "one").role, Role::kOther);
  EXPECT_TRUE(Find(analysis, "one").fixed);
  EXPECT_EQ(Find(analysis, "table").role, Role::kParameter);
  EXPECT_EQ(Find(analysis, "a").role, Role::kOther);
  EXPECT_FALSE(Find(analysis, "a").fixed);
}

// PyTorch's GroupNorm export multiplies by weight [C, 1, 1]: a few values, learned, never "a scalar".
TEST(AnalyzeGraph, AVectorOfAFewValuesIsNotAScalar) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "x", {1, 8, 4, 4});
  AddInitializer(graph, "gn.weight", {8, 1, 1});
  AddNode(graph, "Mul", {"x", "gn.weight"}, {"y"});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& weight = Find(analysis, "gn.weight");
  EXPECT_EQ(weight.role, Role::kParameter);
  EXPECT_FALSE(weight.fixed);
  EXPECT_THAT(weight.reason, Not(HasSubstr("scalar")));
}

TEST(AnalyzeGraph, AConstantOfAnOpNotInTheOpTableIsNamedAndNotFixed) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "x", {2, 8});
  AddInitializer(graph, "custom_weight", {8, 8});
  AddInitializer(graph, "custom_eps", {1});
  AddNode(graph, "Dense", {"x", "custom_weight", "custom_eps"}, {"y"})->set_domain("acme.ops");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& weight = Find(analysis, "custom_weight");
  EXPECT_EQ(weight.role, Role::kOther);
  EXPECT_TRUE(weight.unknown_op);
  EXPECT_FALSE(weight.fixed);
  EXPECT_EQ(weight.reason, "op acme.ops::Dense is not in the op table (onnx-reinit ops lists it)");
  EXPECT_TRUE(Find(analysis, "custom_eps").fixed);  // a scalar parametrizes its op
  EXPECT_FALSE(Find(analysis, "custom_eps").unknown_op);
}

TEST(AnalyzeGraph, ExpandIsAParameterOnlyWhenItsResultMeetsAnActivation) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "x", {2, 64});
  AddInitializer(graph, "shape", {2}, onnx::TensorProto::INT64);
  AddInitializer(graph, "token", {1, 64});
  AddNode(graph, "Expand", {"token", "shape"}, {"tokens"});
  AddNode(graph, "Concat", {"tokens", "x"}, {"y"});
  AddInitializer(graph, "state", {1, 64});
  AddNode(graph, "Expand", {"state", "shape"}, {"states"});
  AddNode(graph, "Relu", {"states"}, {"z"});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(Find(analysis, "token").role, Role::kParameter);
  EXPECT_EQ(Find(analysis, "state").role, Role::kOther);
}

}  // namespace
}  // namespace onnx_reinit
