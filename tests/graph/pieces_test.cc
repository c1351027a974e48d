// Weights that reach their op as pieces, on PyTorch's own exports (testdata/generate_torch_models.py):
// the roles found, and the role's structure placed in the stored elements, checked against what
// PyTorch's layout says independently (its gate order i, f, g, o for LSTM, r, z, n for GRU).
#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/roles.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using testing::AddInitializer;
using testing::AddNode;
using ::testing::HasSubstr;
using testing::LoadTestdata;
using testing::ReadValues;
using testing::SetIntAttribute;

struct Expected {
  std::string name;
  Role role;
  std::string via;
  int64_t fan_in = 0, fan_out = 0;  // 0, 0: no fans
};

void ExpectRoles(const std::string& file, const std::vector<Expected>& expected) {
  onnx::ModelProto model = LoadTestdata(file);
  const GraphAnalysis analysis = AnalyzeGraph(model);
  for (const Expected& e : expected) {
    const TensorUse& use = testing::FindUse(analysis, e.name);
    EXPECT_EQ(RoleName(use.role), RoleName(e.role)) << file << " " << e.name << ": " << use.reason;
    EXPECT_EQ(use.via, e.via) << file << " " << e.name;
    if (e.fan_in != 0) {
      ASSERT_TRUE(use.fans.has_value()) << e.name;
      EXPECT_EQ(use.fans->fan_in, e.fan_in) << e.name;
      EXPECT_EQ(use.fans->fan_out, e.fan_out) << e.name;
    }
  }
  EXPECT_THAT(analysis.warnings, ::testing::IsEmpty()) << file;
}

TEST(Pieces, TorchLstmWithoutConstantFoldingHasItsRoles) {
  const std::string gates = "Slice -> Concat -> Unsqueeze";
  const std::string bias = "Slice -> Concat -> Concat -> Unsqueeze";
  ExpectRoles("torch_lstm_text_nofold.onnx", {{"emb.weight", Role::kEmbedding, "", 8, 50},
                                              {"lstm.weight_ih_l0", Role::kRnnWeight, gates, 8, 6},
                                              {"lstm.weight_hh_l0", Role::kRnnRecurrence, gates, 6, 6},
                                              {"lstm.bias_ih_l0", Role::kRnnBias, bias},
                                              {"lstm.bias_hh_l0", Role::kRnnBias, bias},
                                              {"fc.weight", Role::kWeight, "", 6, 3},
                                              {"fc.bias", Role::kBias, ""}});
}

TEST(Pieces, TorchBidirectionalGruWithoutConstantFoldingHasItsRoles) {
  const std::string gates = "Slice -> Concat -> Unsqueeze -> Concat";
  const std::string bias = "Slice -> Concat -> Concat -> Unsqueeze -> Concat";
  std::vector<Expected> expected;
  for (const std::string suffix : {"", "_reverse"}) {
    expected.push_back({"gru.weight_ih_l0" + suffix, Role::kRnnWeight, gates, 8, 5});
    expected.push_back({"gru.weight_hh_l0" + suffix, Role::kRnnRecurrence, gates, 5, 5});
    expected.push_back({"gru.bias_ih_l0" + suffix, Role::kRnnBias, bias});
    expected.push_back({"gru.bias_hh_l0" + suffix, Role::kRnnBias, bias});
  }
  ExpectRoles("torch_gru_text_nofold.onnx", expected);
}

TEST(Pieces, TorchLstmInAnIfBranchReadsOuterConstantNodes) {
  // torch.jit.script turns the LSTM's parameters into Constant nodes "3".."6" of the main graph,
  // which the then-branch Slices.
  const std::string gates = "Slice -> Concat -> Unsqueeze";
  const std::string bias = "Slice -> Concat -> Concat -> Unsqueeze";
  ExpectRoles("torch_lstm_if.onnx", {{"3", Role::kRnnWeight, gates, 4, 3},
                                     {"4", Role::kRnnRecurrence, gates, 3, 3},
                                     {"5", Role::kRnnBias, bias},
                                     {"6", Role::kRnnBias, bias},
                                     {"fc.weight", Role::kWeight, "Transpose", 4, 3},
                                     {"fc.bias", Role::kBias, ""}});
}

TEST(Pieces, TorchSplitQkvWeightIsOneWeightWithThePieceFans) {
  ExpectRoles("torch_qkv_split.onnx", {{"in_proj.weight", Role::kWeight, "Split -> Transpose", 16, 16},
                                       {"in_proj.bias", Role::kBias, "Slice"},
                                       {"out_proj.weight", Role::kWeight, "Transpose", 16, 16},
                                       {"out_proj.bias", Role::kBias, ""}});
  onnx::ModelProto model = LoadTestdata("torch_qkv_split.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(testing::FindUse(analysis, "in_proj.bias").fans->fan_in, 16);
}

ReinitOptions He() {
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  options.seed = 3;
  options.threads = 2;
  return options;
}

std::vector<double> Values(onnx::ModelProto& model, const std::string& name) {
  const GraphAnalysis analysis = AnalyzeGraph(model);
  return ReadValues(*testing::FindUse(analysis, name).tensor);
}

// rows [first, first + n) of a row-major matrix with `cols` columns, orthonormal (Q Q^T = I)?
void ExpectOrthonormalRows(const std::vector<double>& m, int64_t cols, int64_t first, int64_t n,
                           const std::string& what) {
  for (int64_t a = 0; a < n; ++a) {
    for (int64_t b = 0; b < n; ++b) {
      double dot = 0;
      for (int64_t c = 0; c < cols; ++c) dot += m[(first + a) * cols + c] * m[(first + b) * cols + c];
      EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-5) << what << " rows " << first + a << ", " << first + b;
    }
  }
}

TEST(Pieces, EachLstmGateBlockIsOrthogonalWhereTorchStoresIt) {
  onnx::ModelProto model = LoadTestdata("torch_lstm_text_nofold.onnx");
  const proto::ReinitReport report = *Reinitialize(model, He());
  const std::vector<double> r = Values(model, "lstm.weight_hh_l0");  // torch [4H, H], gates i, f, g, o
  const int64_t H = 6;
  // ONNX's blocks i, o, f, c are torch's rows [0, H), [3H, 4H), [H, 2H), [2H, 3H).
  for (int64_t torch_block : {0, 3, 1, 2}) ExpectOrthonormalRows(r, H, torch_block * H, H, "weight_hh");
  // ... and not one orthogonal matrix over the whole stack (that would be the wrong structure).
  double dot = 0;
  for (int64_t c = 0; c < H; ++c) dot += r[c] * r[H * H + c];
  EXPECT_GT(std::abs(dot), 1e-3);
}

TEST(Pieces, ForgetBiasLandsOnTorchsForgetRowsOfTheInputBias) {
  onnx::ModelProto model = LoadTestdata("torch_lstm_text_nofold.onnx");
  ReinitOptions options = He();
  options.policy.lstm_forget_bias = 1.0;
  ASSERT_TRUE(Reinitialize(model, options).ok());
  const int64_t H = 6;
  const std::vector<double> b_ih = Values(model, "lstm.bias_ih_l0");  // torch order i, f, g, o
  for (int64_t k = 0; k < 4 * H; ++k) EXPECT_EQ(b_ih[k], k >= H && k < 2 * H ? 1.0 : 0.0) << k;
  for (double v : Values(model, "lstm.bias_hh_l0")) EXPECT_EQ(v, 0.0);  // so the sum is 1, not 2
}

TEST(Pieces, GruGateBlocksOfBothDirectionsAreOrthogonal) {
  onnx::ModelProto model = LoadTestdata("torch_gru_text_nofold.onnx");
  ASSERT_TRUE(Reinitialize(model, He()).ok());
  for (const std::string name : {"gru.weight_hh_l0", "gru.weight_hh_l0_reverse"}) {
    const std::vector<double> r = Values(model, name);  // [3H, H], gates r, z, n
    for (int64_t block = 0; block < 3; ++block) ExpectOrthonormalRows(r, 5, block * 5, 5, name);
  }
}

TEST(Pieces, LstmInAnIfBranchGetsPerGateStructure) {
  onnx::ModelProto model = LoadTestdata("torch_lstm_if.onnx");
  ReinitOptions options = He();
  options.policy.lstm_forget_bias = 1.0;
  const proto::ReinitReport report = *Reinitialize(model, options);
  EXPECT_EQ(report.tensors_size(), 6);
  const std::vector<double> r = Values(model, "4");  // weight_hh [4H, H], H = 3
  for (int64_t block = 0; block < 4; ++block) ExpectOrthonormalRows(r, 3, block * 3, 3, "4");
  const std::vector<double> b_ih = Values(model, "5");
  for (int64_t k = 0; k < 12; ++k) EXPECT_EQ(b_ih[k], k >= 3 && k < 6 ? 1.0 : 0.0) << k;
}

TEST(Pieces, ReportShowsThePath) {
  onnx::ModelProto model = LoadTestdata("torch_lstm_text_nofold.onnx");
  ReinitOptions options = He();
  options.dry_run = true;
  const proto::ReinitReport report = *Reinitialize(model, options);
  bool found = false;
  for (const proto::TensorRecord& record : report.tensors()) {
    if (record.name() != "lstm.weight_hh_l0") continue;
    found = true;
    EXPECT_EQ(record.via(), "Slice -> Concat -> Unsqueeze");
    EXPECT_EQ(record.op_type(), "LSTM");
  }
  EXPECT_TRUE(found);
}

// An LSTM R stored transposed, [H, 4H]: its gate blocks are columns of the stored matrix, not
// contiguous blocks, so orthogonal blocks cannot be placed; the tensor is listed with the reason.
TEST(Pieces, GateBlocksThatAreNotContiguousAreListedNotGuessed) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInitializer(graph, "W", {1, 8, 3});
  AddInitializer(graph, "R_t", {2, 8});
  onnx::TensorProto* axes = graph.add_initializer();
  axes->set_name("zero");
  axes->set_data_type(onnx::TensorProto::INT64);
  axes->add_dims(1);
  axes->add_int64_data(0);
  AddNode(graph, "Transpose", {"R_t"}, {"R_2d"});
  AddNode(graph, "Unsqueeze", {"R_2d", "zero"}, {"R"});
  onnx::NodeProto* lstm = AddNode(graph, "LSTM", {"X", "W", "R"}, {"Y"}, "lstm");
  SetIntAttribute(*lstm, "hidden_size", 2);
  const std::vector<double> before = ReadValues(*testing::FindInitializer(model, "R_t"));

  const proto::ReinitReport report = *Reinitialize(model, He());
  bool listed = false;
  for (const proto::SkippedTensor& skipped : report.skipped()) {
    if (skipped.name() != "R_t") continue;
    listed = true;
    EXPECT_EQ(skipped.role(), "rnn_recurrence");
    EXPECT_THAT(skipped.reason(), HasSubstr("not one contiguous block"));
    EXPECT_THAT(skipped.reason(), HasSubstr("via Transpose -> Unsqueeze"));
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(ReadValues(*testing::FindInitializer(model, "R_t")), before);

  // A scheme that does not depend on the shape places element by element.
  ReinitOptions options = He();
  options.policy.recurrence = RecurrenceInit::kScheme;
  const proto::ReinitReport rewritten = *Reinitialize(model, options);
  EXPECT_EQ(rewritten.tensors_size(), 2);
}

}  // namespace
}  // namespace onnx_reinit
