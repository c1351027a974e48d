#include "onnx_reinit/policy.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using ::testing::HasSubstr;

const TensorUse& Find(const GraphAnalysis& analysis, const std::string& name) {
  return testing::FindUse(analysis, name);
}

Policy He() {
  Policy policy;
  policy.scheme.kind = SchemeKind::kHeNormal;
  return policy;
}

TensorPlan Plan(const TensorUse& use, const Policy& policy) {
  auto plan = PlanTensor(use, policy);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *plan : TensorPlan();
}

TEST(ParseSchemeSpec, ReadsParameters) {
  auto normal = ParseSchemeSpec("normal:std=0.02");
  ASSERT_TRUE(normal.ok()) << normal.status();
  EXPECT_EQ(normal->kind, SchemeKind::kNormal);
  EXPECT_EQ(*normal->std, 0.02);
  auto he = ParseSchemeSpec("he_uniform:mode=fan_out,nonlinearity=leaky_relu,negative_slope=0.2");
  ASSERT_TRUE(he.ok()) << he.status();
  EXPECT_EQ(*he->mode, FanMode::kFanOut);
  EXPECT_EQ(*he->negative_slope, 0.2);
}

TEST(ParseSchemeSpec, RejectsUnknownKeysBadNumbersAndForeignParameters) {
  EXPECT_THAT(std::string(ParseSchemeSpec("normal:sigma=1").status().message()),
              HasSubstr("unknown parameter 'sigma'"));
  EXPECT_THAT(std::string(ParseSchemeSpec("normal:std=abc").status().message()), HasSubstr("std=abc is not a number"));
  EXPECT_FALSE(ParseSchemeSpec("he:std=1").ok());
  EXPECT_FALSE(ParseSchemeSpec("nope").ok());
}

TEST(ParseRule, ReadsEachPatternKind) {
  auto role = ParseRule("role:bias=zeros");
  ASSERT_TRUE(role.ok()) << role.status();
  EXPECT_EQ(role->field, Rule::Field::kRole);
  EXPECT_EQ(role->scheme.kind, SchemeKind::kZeros);
  auto op = ParseRule("op:Gemm=xavier_uniform");
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->field, Rule::Field::kOp);
  EXPECT_EQ(op->pattern, "Gemm");
  auto name = ParseRule("name:.*head.*=normal:std=0.02");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->pattern, ".*head.*");
  EXPECT_EQ(*name->scheme.std, 0.02);
  auto keep = ParseRule("name:fc\\..*=keep");
  ASSERT_TRUE(keep.ok());
  EXPECT_TRUE(keep->keep);
}

TEST(ParseRule, APatternMayContainEqualsSigns) {
  auto rule = ParseRule("name:a=b=he");
  ASSERT_TRUE(rule.ok()) << rule.status();
  EXPECT_EQ(rule->pattern, "a=b");
  EXPECT_EQ(rule->scheme.kind, SchemeKind::kHeNormal);
}

TEST(ParseRule, ErrorsNameTheRuleAndTheProblem) {
  EXPECT_THAT(std::string(ParseRule("role:nope=zeros").status().message()), HasSubstr("unknown role 'nope'"));
  EXPECT_THAT(std::string(ParseRule("kind:x=zeros").status().message()), HasSubstr("unknown pattern kind 'kind'"));
  EXPECT_THAT(std::string(ParseRule("name:(=zeros").status().message()), HasSubstr("bad regex"));
  EXPECT_THAT(std::string(ParseRule("role:bias").status().message()), HasSubstr("rule 'role:bias'"));
  EXPECT_THAT(std::string(ParseRule("role:bias=normal:sigma=2").status().message()),
              HasSubstr("unknown parameter 'sigma'"));
}

TEST(PlanTensor, RoleDefaultsGiveZerosOnesAndTheScheme) {
  onnx::ModelProto model = testing::LoadTestdata("torch_dcgan.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorPlan weight = Plan(Find(analysis, "net.0.weight"), He());
  EXPECT_EQ(weight.rule, "default for weight");
  EXPECT_EQ(weight.scheme, "he_normal");
  ASSERT_EQ(weight.regions.size(), 1u);
  EXPECT_DOUBLE_EQ(weight.regions[0].distribution.std(), std::sqrt(2.0 / 128));
  struct Expected {
    const char* name;
    double value;
  };
  for (const Expected& e : {Expected{"net.0.bias", 0}, Expected{"net.1.weight", 1}, Expected{"net.1.bias", 0},
                            Expected{"net.1.running_mean", 0}, Expected{"net.1.running_var", 1}}) {
    const TensorPlan plan = Plan(Find(analysis, e.name), He());
    ASSERT_EQ(plan.regions.size(), 1u) << e.name;
    EXPECT_EQ(plan.regions[0].distribution.kind(), proto::Distribution::CONSTANT) << e.name;
    EXPECT_EQ(plan.regions[0].distribution.value(), e.value) << e.name;
  }
}

TEST(PlanTensor, FirstMatchingRuleWins) {
  onnx::ModelProto model = testing::LoadTestdata("torch_cnn.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  Policy policy = He();
  policy.rules = {*ParseRule("name:fc\\..*=ones"), *ParseRule("op:Gemm=zeros"), *ParseRule("role:bias=keep")};
  const TensorPlan fc = Plan(Find(analysis, "fc.weight"), policy);
  EXPECT_EQ(fc.rule, "--rule name:fc\\..*=ones");
  EXPECT_EQ(fc.regions[0].distribution.value(), 1.0);
  const TensorPlan conv_bias = Plan(Find(analysis, "dw.bias"), policy);
  EXPECT_EQ(conv_bias.rule, "--rule role:bias=keep");
  EXPECT_TRUE(conv_bias.regions.empty());
  const TensorPlan conv = Plan(Find(analysis, "dw.weight"), policy);
  EXPECT_EQ(conv.rule, "default for weight");
}

TEST(PlanTensor, TorchSchemeReproducesResetParameters) {
  Policy torch;
  torch.scheme.kind = SchemeKind::kTorch;
  onnx::ModelProto cnn = testing::LoadTestdata("torch_cnn.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(cnn);
  for (const char* name : {"fc.weight", "fc.bias"}) {  // Linear(16, 10): bound 1/sqrt(16)
    const TensorPlan plan = Plan(Find(analysis, name), torch);
    EXPECT_EQ(plan.regions[0].distribution.kind(), proto::Distribution::UNIFORM) << name;
    EXPECT_DOUBLE_EQ(plan.regions[0].distribution.high(), 0.25) << name;
    EXPECT_DOUBLE_EQ(plan.regions[0].distribution.low(), -0.25) << name;
  }
  // Conv2d(3, 8, 3): fan_in 27 for weight and bias alike.
  EXPECT_DOUBLE_EQ(Plan(Find(analysis, "onnx::Conv_24"), torch).regions[0].distribution.high(), 1 / std::sqrt(27.0));

  onnx::ModelProto lstm = testing::LoadTestdata("lstm_onnx.onnx");  // hidden_size 4
  const GraphAnalysis rnn = AnalyzeGraph(lstm);
  for (const char* name : {"lstm_W", "lstm_R", "lstm_B"}) {
    const TensorPlan plan = Plan(Find(rnn, name), torch);
    EXPECT_DOUBLE_EQ(plan.regions[0].distribution.high(), 0.5) << name;
  }
  onnx::ModelProto text = testing::LoadTestdata("torch_lstm_text.onnx");
  const TensorPlan embedding = Plan(Find(AnalyzeGraph(text), "emb.weight"), torch);
  EXPECT_EQ(embedding.regions[0].distribution.kind(), proto::Distribution::NORMAL);
  EXPECT_EQ(embedding.regions[0].distribution.std(), 1.0);
}

TEST(PlanTensor, RnnWeightsArePlannedPerGateBlock) {
  onnx::ModelProto model = testing::LoadTestdata("lstm_onnx.onnx");  // 2 directions, H 4, input 3
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorPlan w = Plan(Find(analysis, "lstm_W"), He());
  ASSERT_EQ(w.regions.size(), 8u);  // 2 directions x 4 gates
  EXPECT_EQ(w.regions[1].begin, 12);
  EXPECT_EQ(w.regions[1].end, 24);
  EXPECT_THAT(w.regions[1].shape, ::testing::ElementsAre(4, 3));
  EXPECT_DOUBLE_EQ(w.regions[0].distribution.std(), std::sqrt(2.0 / 3));  // fan_in = input size

  const TensorPlan r = Plan(Find(analysis, "lstm_R"), He());
  EXPECT_EQ(r.scheme, "orthogonal");
  ASSERT_EQ(r.regions.size(), 8u);
  EXPECT_THAT(r.regions[7].shape, ::testing::ElementsAre(4, 4));
  EXPECT_EQ(r.regions[7].end, 2 * 16 * 4);

  Policy per_gate_scheme = He();
  per_gate_scheme.recurrence = RecurrenceInit::kScheme;
  EXPECT_EQ(Plan(Find(analysis, "lstm_R"), per_gate_scheme).scheme, "he_normal");
}

TEST(PlanTensor, LstmForgetBiasSetsOnlyTheInputBiasForgetBlock) {
  onnx::ModelProto model = testing::LoadTestdata("lstm_onnx.onnx");  // B [2, 32], H 4
  const GraphAnalysis analysis = AnalyzeGraph(model);
  Policy policy = He();
  EXPECT_EQ(Plan(Find(analysis, "lstm_B"), policy).regions.size(), 1u);  // all zeros
  policy.lstm_forget_bias = 1.0;
  const TensorPlan plan = Plan(Find(analysis, "lstm_B"), policy);
  std::vector<double> values(64, -1);
  for (const PlannedRegion& region : plan.regions) {
    for (int64_t i = region.begin; i < region.end; ++i) values[i] = region.distribution.value();
  }
  for (int i = 0; i < 64; ++i) {
    const int within = i % 32;  // [Wb i o f c | Rb i o f c], 4 values per gate
    EXPECT_EQ(values[i], within >= 8 && within < 12 ? 1.0 : 0.0) << "element " << i;
  }
}

TEST(PlanTensor, EmbeddingsDefaultToStandardNormalOrTakeTheScheme) {
  onnx::ModelProto model = testing::LoadTestdata("torch_gru_text.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& table = Find(analysis, "emb.weight");
  EXPECT_EQ(Plan(table, He()).regions[0].distribution.std(), 1.0);
  Policy policy = He();
  policy.embedding = EmbeddingInit::kScheme;
  EXPECT_DOUBLE_EQ(Plan(table, policy).regions[0].distribution.std(), std::sqrt(2.0 / 8));
}

TEST(PlanTensor, SchemesThatCannotApplyAreErrorsNamingTheTensor) {
  onnx::ModelProto model = testing::LoadTestdata("torch_dcgan.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  Policy policy = He();
  policy.rules = {*ParseRule("role:norm_scale=xavier_uniform")};
  auto plan = PlanTensor(Find(analysis, "net.1.weight"), policy);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("norm_scale 'net.1.weight'"));
  policy.rules = {*ParseRule("role:bias=orthogonal")};
  plan = PlanTensor(Find(analysis, "net.0.bias"), policy);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("orthogonal needs a tensor of rank >= 2"));
}

}  // namespace
}  // namespace onnx_reinit
