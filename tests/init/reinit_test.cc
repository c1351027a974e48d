#include "onnx_reinit/reinit.h"

#include <cmath>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/name_pattern.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/tensor_data.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/reinit_report.h"

namespace onnx_reinit {
namespace {

using testing::FindInitializer;
using ::testing::HasSubstr;
using testing::LoadTestdata;
using ::testing::Not;
using testing::ReadValues;
using testing::ReinitOk;

ReinitOptions He(int threads = 2, uint64_t seed = 7) {
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  options.threads = threads;
  options.seed = seed;
  return options;
}

// Sets every value of every tensor with a role to zero, so that two models can be compared on
// everything else.
void ClearRoleTensorValues(onnx::ModelProto& model) {
  for (const TensorUse& use : AnalyzeGraph(model).tensors) {
    if (use.role == Role::kOther || use.role == Role::kQuantized) continue;
    auto values = TensorValues::Bind(*use.tensor, use.name);
    ASSERT_TRUE(values.ok());
    const std::vector<double> zeros(values->size(), 0.0);
    values->Write(0, zeros.data(), values->size());
  }
}

TEST(Reinitialize, ReportsEveryWeightWithItsFansAndDistribution) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  const proto::ReinitReport report = ReinitOk(model, He());
  ASSERT_EQ(report.tensors_size(), 8);
  const proto::TensorRecord& dw = report.tensors(2);
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
  EXPECT_EQ(dw.role(), "weight");
  EXPECT_EQ(dw.rule(), "default for weight");
  const proto::TensorRecord& bias = report.tensors(3);
  EXPECT_EQ(bias.name(), "dw.bias");
  EXPECT_EQ(bias.role(), "bias");
  EXPECT_EQ(bias.distribution().kind(), proto::Distribution::CONSTANT);
  EXPECT_EQ(bias.distribution().value(), 0.0);
  EXPECT_EQ(report.values(), 554);
  EXPECT_EQ(report.scheme(), "he_normal");
}

TEST(Reinitialize, ChangesOnlyTheValuesOfTensorsWithARole) {
  for (const char* file : {"constant_weights.onnx", "int_and_shape.onnx", "torch_cnn.onnx", "torch_dcgan.onnx",
                           "dtypes.onnx", "gemm_layouts.onnx"}) {
    onnx::ModelProto original = LoadTestdata(file);
    onnx::ModelProto model = original;
    const proto::ReinitReport report = ReinitOk(model, He());
    EXPECT_GT(report.tensors_size(), 0) << file;
    EXPECT_NE(model.SerializeAsString(), original.SerializeAsString()) << file;
    ClearRoleTensorValues(model);
    ClearRoleTensorValues(original);
    EXPECT_EQ(model.SerializeAsString(), original.SerializeAsString()) << file;
  }
}

TEST(Reinitialize, LeavesTensorsWithoutARoleByteForByte) {
  const onnx::ModelProto original = LoadTestdata("int_and_shape.onnx");
  onnx::ModelProto model = original;
  ReinitOk(model, He());
  for (int i = 0; i < model.graph().initializer_size(); ++i) {
    const auto& before = original.graph().initializer(i);
    const auto& after = model.graph().initializer(i);
    if (before.name() == "conv_W" || before.name() == "conv_B") {
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
  EXPECT_NE(ReadValues(*FindInitializer(a, "fc.weight")), ReadValues(*FindInitializer(b, "fc.weight")));
}

TEST(Reinitialize, SelectedTensorsGetTheSameValuesAsInAFullRun) {
  const onnx::ModelProto original = LoadTestdata("torch_cnn.onnx");
  onnx::ModelProto full = original, subset = original;
  ReinitOk(full, He());
  ReinitOptions options = He();
  options.only = *NamePattern::Compile("^gconv\\.weight$");
  const proto::ReinitReport report = ReinitOk(subset, options);
  ASSERT_EQ(report.tensors_size(), 1);
  EXPECT_EQ(ReadValues(*FindInitializer(subset, "gconv.weight")), ReadValues(*FindInitializer(full, "gconv.weight")));
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
  EXPECT_EQ(report.tensors(0).role(), "weight");
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

TEST(Reinitialize, ExternalDataWithoutItsPayloadIsRefusedNamingTheTensor) {
  onnx::ModelProto model = testing::NewModel();
  onnx::TensorProto* tensor = model.mutable_graph()->add_initializer();
  tensor->set_name("big");
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  tensor->set_data_location(onnx::TensorProto::EXTERNAL);
  tensor->add_dims(4);
  testing::AddNode(*model.mutable_graph(), "MatMul", {"x", "big"}, {"y"});
  auto report = Reinitialize(model, He());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("'big'"));
}

TEST(Reinitialize, BadSchemeOptionsAreRejectedBeforeAnythingChanges) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  const std::string before = model.SerializeAsString();
  ReinitOptions options = He();
  options.policy.scheme.std = 3;
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
  ASSERT_EQ(report.warnings_size(), 2);
  EXPECT_THAT(report.warnings(0), HasSubstr("'empty' has no elements"));
  EXPECT_THAT(report.warnings(1), HasSubstr("no tensor is re-initialized"));
}

const proto::TensorRecord& Record(const proto::ReinitReport& report, const std::string& name) {
  for (const proto::TensorRecord& record : report.tensors()) {
    if (record.name() == name) return record;
  }
  ADD_FAILURE() << name << " not re-initialized";
  static const proto::TensorRecord kMissing;
  return kMissing;
}

TEST(Reinitialize, DryRunReportsThePlanThatIsThenWrittenAndChangesNothing) {
  for (const char* file : {"torch_transformer.onnx", "lstm_onnx.onnx", "torch_cnn.onnx"}) {
    const onnx::ModelProto original = LoadTestdata(file);
    onnx::ModelProto dry = original, real = original;
    ReinitOptions options = He();
    options.dry_run = true;
    const proto::ReinitReport plan = ReinitOk(dry, options);
    EXPECT_TRUE(plan.dry_run());
    EXPECT_EQ(dry.SerializeAsString(), original.SerializeAsString()) << file;
    options.dry_run = false;
    proto::ReinitReport written = ReinitOk(real, options);
    written.set_dry_run(true);
    EXPECT_EQ(written.SerializeAsString(), plan.SerializeAsString()) << file;
  }
}

TEST(Reinitialize, RecurrenceGateBlocksComeOutOrthogonal) {
  onnx::ModelProto model = LoadTestdata("lstm_onnx.onnx");  // R [2, 16, 4]: 8 blocks of [4, 4]
  ReinitOk(model, He());
  const std::vector<double> r = ReadValues(*FindInitializer(model, "lstm_R"));
  for (int block = 0; block < 8; ++block) {
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) {
        double dot = 0;  // column i . column j of the block
        for (int k = 0; k < 4; ++k) dot += r[block * 16 + k * 4 + i] * r[block * 16 + k * 4 + j];
        EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-5) << "block " << block;
      }
    }
  }
}

TEST(Reinitialize, TransformerGetsRoleDefaults) {
  onnx::ModelProto model = LoadTestdata("torch_transformer.onnx");
  const proto::ReinitReport report = ReinitOk(model, He());
  EXPECT_EQ(Record(report, "emb.weight").role(), "embedding");
  EXPECT_EQ(Record(report, "emb.weight").distribution().std(), 1.0);
  const proto::TensorRecord& in_proj = Record(report, "onnx::MatMul_127");  // [16, 48], q|k|v
  EXPECT_EQ(in_proj.role(), "weight");
  EXPECT_EQ(in_proj.fan_in(), 16);
  EXPECT_EQ(in_proj.fan_out(), 48);
  EXPECT_EQ(Record(report, "layer.self_attn.in_proj_bias").role(), "bias");
  EXPECT_EQ(Record(report, "layer.norm1.weight").role(), "norm_scale");
  EXPECT_THAT(ReadValues(*FindInitializer(model, "layer.norm1.weight")), ::testing::Each(1.0));
  EXPECT_THAT(ReadValues(*FindInitializer(model, "layer.self_attn.in_proj_bias")), ::testing::Each(0.0));
}

TEST(Reinitialize, SubgraphWeightsAreRewritten) {
  const onnx::ModelProto original = LoadTestdata("subgraph_if.onnx");
  onnx::ModelProto model = original;
  const proto::ReinitReport report = ReinitOk(model, He());
  for (const char* name : {"then_W", "else_W", "then_const_W", "outer_gemm_W"}) {
    EXPECT_EQ(Record(report, name).role(), "weight") << name;
  }
  EXPECT_NE(model.SerializeAsString(), original.SerializeAsString());
}

TEST(Reinitialize, QuantizedAndRoleLessTensorsAreListedAsSkipped) {
  onnx::ModelProto model = LoadTestdata("via_ops.onnx");
  const proto::ReinitReport report = ReinitOk(model, He());
  for (const char* name : {"W_t", "W_r", "W_u", "W_h"}) EXPECT_EQ(Record(report, name).role(), "weight");
  EXPECT_EQ(Record(report, "W_t").via(), "Transpose");
  bool quantized_listed = false;
  for (const proto::SkippedTensor& skipped : report.skipped()) {
    if (skipped.name() == "W_q") {
      quantized_listed = true;
      EXPECT_EQ(skipped.role(), "quantized");
    }
  }
  EXPECT_TRUE(quantized_listed);
}

// The values of one tensor of `model`, by name (initializers only).
std::vector<double> ValuesOf(onnx::ModelProto& model, const std::string& name) {
  onnx::TensorProto* tensor = FindInitializer(model, name);
  EXPECT_NE(tensor, nullptr) << name;
  return tensor ? ReadValues(*tensor) : std::vector<double>();
}

double Std(const std::vector<double>& values) {
  double mean = 0, squares = 0;
  for (double v : values) mean += v / values.size();
  for (double v : values) squares += (v - mean) * (v - mean) / values.size();
  return std::sqrt(squares);
}

ReinitOptions WithRule(const std::string& text, ReinitOptions options = He()) {
  auto rule = ParseRule(text);
  EXPECT_TRUE(rule.ok()) << rule.status();
  if (rule.ok()) options.policy.rules.push_back(*rule);
  return options;
}

bool AnyWarningHas(const proto::ReinitReport& report, const std::string& text) {
  for (const std::string& warning : report.warnings()) {
    if (warning.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(Reinitialize, ParametersKeepTheirValuesAndAreNamedInOneWarning) {
  onnx::ModelProto model = LoadTestdata("torch_vit.onnx");
  const std::vector<double> before = ValuesOf(model, "encoder.pos_embedding");
  const proto::ReinitReport report = ReinitOk(model, He());
  EXPECT_EQ(ValuesOf(model, "encoder.pos_embedding"), before);
  EXPECT_TRUE(AnyWarningHas(report,
                            "2 parameters keep their trained values: class_token, "
                            "encoder.pos_embedding; reset them with --rule role:parameter="));
}

// The warnings about `name`'s readers.
std::vector<std::string> ReaderWarnings(const proto::ReinitReport& report, const std::string& name) {
  std::vector<std::string> found;
  for (const std::string& warning : report.warnings()) {
    if (absl::StartsWith(warning, "'" + name + "' is read by")) found.push_back(warning);
  }
  return found;
}

TEST(Reinitialize, AMergedZeroBiasWhoseReadersAllGetZerosGivesNoWarning) {
  // ViT: one all-zero initializer is the patch Conv's bias, the attention's output bias and
  // every LayerNorm bias; with zero biases every reader gets zeros anyway.
  onnx::ModelProto model = LoadTestdata("torch_vit.onnx");
  const proto::ReinitReport report = ReinitOk(model, He());
  EXPECT_THAT(ReaderWarnings(report, "conv_proj.bias"), ::testing::IsEmpty());
  for (const std::string& warning : report.warnings()) EXPECT_THAT(warning, Not(HasSubstr("--untie")));
}

TEST(Reinitialize, ReadersThatNeedDifferentValuesAreOneWarningWithCountsAndUntieAdvice) {
  onnx::ModelProto model = LoadTestdata("torch_vit.onnx");
  ReinitOptions options = He();
  options.policy.bias = BiasInit::kTorch;  // the Conv and the Gemm biases now depend on their fans
  const proto::ReinitReport report = ReinitOk(model, options);
  const std::vector<std::string> warnings = ReaderWarnings(report, "conv_proj.bias");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("need 3 different values (as bias of Conv '/conv_proj/Conv' (fan_in 192)"));
  EXPECT_THAT(warnings[0], HasSubstr("as norm_bias of Add '/encoder/layers/encoder_layer_0/ln_1/Add_1' and 2 like it"));
  EXPECT_THAT(warnings[0], HasSubstr("(--untie gives each its own copy)"));

  onnx::ModelProto untied = LoadTestdata("torch_vit.onnx");
  options.untie = true;
  const proto::ReinitReport untied_report = ReinitOk(untied, options);
  EXPECT_THAT(ReaderWarnings(untied_report, "conv_proj.bias"), ::testing::IsEmpty());
  for (const std::string& warning : untied_report.warnings()) EXPECT_THAT(warning, Not(HasSubstr("--untie")));
}

TEST(Reinitialize, ATiedEmbeddingIsOneWarningWithoutUntieAdvice) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInitializer(graph, "table", {30, 16});
  testing::AddNode(graph, "Gather", {"table", "ids"}, {"embedded"}, "embed");
  testing::AddNode(graph, "Transpose", {"table"}, {"table_t"});
  testing::AddNode(graph, "MatMul", {"hidden", "table_t"}, {"logits"}, "head");
  const proto::ReinitReport report = ReinitOk(model, He());
  const std::vector<std::string> warnings = ReaderWarnings(report, "table");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("as embedding of Gather 'embed'"));
  EXPECT_THAT(warnings[0], HasSubstr("as weight of MatMul 'head'"));
  EXPECT_THAT(warnings[0], Not(HasSubstr("--untie")));  // one learned table, tied on purpose
}

TEST(Reinitialize, RoleParameterRuleResetsEveryParameter) {
  onnx::ModelProto model = LoadTestdata("torch_vit.onnx");
  const proto::ReinitReport report = ReinitOk(model, WithRule("role:parameter=normal:std=0.02"));
  EXPECT_FALSE(AnyWarningHas(report, "keep their trained values"));
  const std::vector<double> pos = ValuesOf(model, "encoder.pos_embedding");
  const std::vector<double> token = ValuesOf(model, "class_token");
  // 320 and 64 draws: the sample std is within 6 standard errors (relative 1/sqrt(2n)).
  EXPECT_NEAR(Std(pos), 0.02, 0.02 * 6 / std::sqrt(2.0 * pos.size()));
  EXPECT_NEAR(Std(token), 0.02, 0.02 * 6 / std::sqrt(2.0 * token.size()));
}

TEST(Reinitialize, NameRuleAppliesWhateverTheRole) {
  onnx::ModelProto model = LoadTestdata("torch_vit.onnx");
  const proto::ReinitReport report = ReinitOk(model, WithRule("name:encoder\\.pos_embedding=constant:value=0.5"));
  for (double v : ValuesOf(model, "encoder.pos_embedding")) ASSERT_EQ(v, 0.5);
  EXPECT_TRUE(AnyWarningHas(report, "1 parameter keeps its trained values: class_token"));
}

TEST(Reinitialize, FanBasedSchemeOnATensorWithoutFansIsAnErrorNamingIt) {
  onnx::ModelProto model = LoadTestdata("torch_vit.onnx");
  const std::string before = model.SerializeAsString();
  auto report = Reinitialize(model, WithRule("role:parameter=he_uniform"));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(report.status().message(), HasSubstr("parameter 'class_token' (read by Expand '/Expand') has no fans"));
  EXPECT_EQ(model.SerializeAsString(), before);
  // --only gives what it selects the scheme: the same error.
  ReinitOptions only = He();
  only.only = *NamePattern::Compile("class_token");
  EXPECT_EQ(Reinitialize(model, only).status().code(), absl::StatusCode::kInvalidArgument);
  only.policy.scheme = SchemeOptions{};
  only.policy.scheme.kind = SchemeKind::kNormal;
  only.policy.scheme.std = 0.02;
  const proto::ReinitReport selected = ReinitOk(model, only);
  ASSERT_EQ(selected.tensors_size(), 1);
  EXPECT_EQ(selected.tensors(0).name(), "class_token");
}

TEST(Reinitialize, NodeNamesSelectRenamedWeights) {
  onnx::ModelProto model = LoadTestdata("torch_vit.onnx");
  ReinitOptions options = He();
  options.only = *NamePattern::Compile("mlp");
  std::vector<std::string> names;
  const proto::ReinitReport report = ReinitOk(model, options);
  for (const proto::TensorRecord& t : report.tensors()) names.push_back(t.name());
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("onnx::MatMul_214", "encoder.layers.encoder_layer_0.mlp.0.bias",
                                                     "onnx::MatMul_215", "encoder.layers.encoder_layer_0.mlp.3.bias"));
  options.only.reset();
  options.exclude = *NamePattern::Compile("mlp\\.0");
  const proto::ReinitReport excluded = ReinitOk(model, options);
  for (const proto::TensorRecord& t : excluded.tensors()) EXPECT_NE(t.name(), "onnx::MatMul_214");
  // A name: rule matches the whole node name.
  onnx::ModelProto ruled = LoadTestdata("torch_vit.onnx");
  ReinitOk(ruled, WithRule("name:/encoder/layers/encoder_layer_0/mlp/mlp\\.0/MatMul=zeros"));
  for (double v : ValuesOf(ruled, "onnx::MatMul_214")) ASSERT_EQ(v, 0.0);
}

TEST(Reinitialize, RulesWithoutEffectWarnAndStrictRefusesThem) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  ReinitOptions options = WithRule("name:nothing_here=zeros");
  options = WithRule("role:bias=zeros", options);
  options = WithRule("op:Conv=ones", options);  // Conv biases are taken by the rule before
  const proto::ReinitReport report = ReinitOk(model, options);
  EXPECT_TRUE(AnyWarningHas(report, "rule 'name:nothing_here=zeros' matches no tensor"));
  EXPECT_FALSE(AnyWarningHas(report, "rule 'role:bias=zeros'"));
  EXPECT_FALSE(AnyWarningHas(report, "rule 'op:Conv=ones'"));  // it takes the Conv weights
  ReinitOptions shadowed = WithRule("role:bias=zeros");
  shadowed = WithRule("name:fc\\.bias=ones", shadowed);
  EXPECT_TRUE(AnyWarningHas(ReinitOk(model, shadowed), "rule 'name:fc\\.bias=ones' takes no effect"));
  // A scalar of an op is no tensor a rule can match.
  onnx::ModelProto shapes = LoadTestdata("int_and_shape.onnx");
  EXPECT_TRUE(AnyWarningHas(ReinitOk(shapes, WithRule("name:mul_scale=zeros")), "matches no tensor"));

  options.strict = true;
  const std::string before = model.SerializeAsString();
  auto strict = Reinitialize(model, options);
  EXPECT_EQ(ErrorKindOf(strict.status()), ErrorKind::kStrict) << strict.status();
  EXPECT_THAT(strict.status().message(), HasSubstr("--strict: rule 'name:nothing_here=zeros' matches no tensor"));
  EXPECT_EQ(model.SerializeAsString(), before);
}

// ORT's level-"all" CNN holds com.microsoft.nchwc::Conv weights in a CPU-specific blocked layout:
// no row of the op table, so they are named, counted, refused by --strict, and reachable by rules.
TEST(Reinitialize, TensorsOfOpsNotInTheOpTableAreCountedAndStrictRefusesThemUnlessARuleCoversThem) {
  onnx::ModelProto model = LoadTestdata("ort_all_torch_cnn_noort.onnx");
  const proto::ReinitReport report = ReinitOk(model, He());
  EXPECT_EQ(report.unknown_op_tensors(), 4);
  EXPECT_TRUE(AnyWarningHas(report, "4 tensors read by ops not in the op table left unchanged"));

  onnx::ModelProto strict_model = LoadTestdata("ort_all_torch_cnn_noort.onnx");
  ReinitOptions strict = He();
  strict.strict = true;
  auto refused = Reinitialize(strict_model, strict);
  EXPECT_EQ(ErrorKindOf(refused.status()), ErrorKind::kStrict) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("--strict: 4 tensors read by ops not in the op table"));

  ReinitOptions kept = WithRule("op:com.microsoft.nchwc::Conv=keep", strict);
  const proto::ReinitReport covered = ReinitOk(strict_model, kept);
  EXPECT_EQ(covered.unknown_op_tensors(), 0);

  const proto::ReinitReport reset =
      ReinitOk(strict_model, WithRule("op:com.microsoft.nchwc::Conv=normal:std=0.5", strict));
  EXPECT_EQ(reset.tensors_size(), covered.tensors_size() + 4);
}

constexpr int32_t kFloat8E5M2 = 19;  // onnx.proto since ONNX 1.14; unknown to libonnx 1.12
constexpr int32_t kInt4 = 22;

// `model`'s initializer `name` re-typed as `data_type`, with `bytes` bytes of raw data.
void Retype(onnx::ModelProto& model, const std::string& name, int32_t data_type, size_t bytes) {
  onnx::TensorProto* tensor = FindInitializer(model, name);
  ASSERT_NE(tensor, nullptr);
  tensor->set_data_type(data_type);
  tensor->set_raw_data(std::string(bytes, '\x3c'));
}

// x -> MatMul(w8, float8) -> MatMul(w) -> y, and f8_unread (float8) that no node reads.
onnx::ModelProto Float8WeightModel(bool through_cast) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInitializer(graph, "w8", {4, 4});
  testing::AddInitializer(graph, "w", {4, 4});
  testing::AddInitializer(graph, "f8_unread", {4});
  if (through_cast) {
    testing::SetIntAttribute(*testing::AddNode(graph, "Cast", {"w8"}, {"w8_float"}, "cast"), "to",
                             onnx::TensorProto::FLOAT);
  }
  testing::AddNode(graph, "MatMul", {"x", through_cast ? "w8_float" : "w8"}, {"h"}, "mm8");
  testing::AddNode(graph, "MatMul", {"h", "w"}, {"y"}, "mm");
  Retype(model, "w8", kFloat8E5M2, 16);
  Retype(model, "f8_unread", kFloat8E5M2, 4);
  return model;
}

TEST(Reinitialize, ALearnedTensorOfANewerDataTypeIsRefusedNamingIt) {
  for (const bool through_cast : {false, true}) {
    onnx::ModelProto model = Float8WeightModel(through_cast);
    const std::string before = model.SerializeAsString();
    for (const bool dry_run : {false, true}) {
      ReinitOptions options = He();
      options.dry_run = dry_run;
      auto report = Reinitialize(model, options);
      ASSERT_FALSE(report.ok());
      EXPECT_TRUE(absl::IsInvalidArgument(report.status()));
      EXPECT_THAT(std::string(report.status().message()),
                  HasSubstr("tensor 'w8' (weight of MatMul 'mm8') has data type FLOAT8E5M2 (19), which "
                            "onnx-reinit cannot fill"));
      EXPECT_EQ(model.SerializeAsString(), before);
    }
  }
}

TEST(Reinitialize, ATensorOfANewerDataTypeThatIsNotRewrittenIsPassedThrough) {
  for (const std::string rule : {"", "name:w8=keep"}) {
    onnx::ModelProto model = Float8WeightModel(/*through_cast=*/true);
    ReinitOptions options = rule.empty() ? He() : WithRule(rule);
    if (rule.empty()) options.exclude = *NamePattern::Compile("w8");
    options.strict = true;  // the keep rule takes effect
    const onnx::TensorProto w8 = *FindInitializer(model, "w8");
    const onnx::TensorProto unread = *FindInitializer(model, "f8_unread");
    const proto::ReinitReport report = ReinitOk(model, options);
    EXPECT_EQ(report.tensors_size(), 1);
    EXPECT_EQ(Record(report, "w").role(), "weight");
    EXPECT_EQ(FindInitializer(model, "w8")->SerializeAsString(), w8.SerializeAsString());
    EXPECT_EQ(FindInitializer(model, "f8_unread")->SerializeAsString(), unread.SerializeAsString());
    ASSERT_EQ(report.skipped_size(), 1);
    EXPECT_EQ(report.skipped(0).name(), "w8");
    EXPECT_EQ(report.skipped(0).role(), "weight");
  }
}

TEST(Reinitialize, AnInt4WeightBehindDequantizeLinearIsLeftUnchanged) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInitializer(graph, "w_q", {4, 4});
  testing::AddInitializer(graph, "w_scale", {});
  testing::AddNode(graph, "DequantizeLinear", {"w_q", "w_scale"}, {"w"}, "dq");
  testing::AddNode(graph, "MatMul", {"x", "w"}, {"y"}, "mm");
  Retype(model, "w_q", kInt4, 8);
  const onnx::TensorProto w_q = *FindInitializer(model, "w_q");
  for (const bool requantize : {false, true}) {
    ReinitOptions options = He();
    options.requantize = requantize;
    ReinitOk(model, options);
    EXPECT_EQ(FindInitializer(model, "w_q")->SerializeAsString(), w_q.SerializeAsString());
  }
}

TEST(Reinitialize, RunThatRewritesNothingWarnsAndStrictRefusesIt) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  ReinitOptions options = He();
  options.only = *NamePattern::Compile("no_such_tensor");
  EXPECT_TRUE(AnyWarningHas(ReinitOk(model, options), "no tensor is re-initialized"));
  options.strict = true;
  EXPECT_EQ(ErrorKindOf(Reinitialize(model, options).status()), ErrorKind::kStrict);
}

TEST(Reinitialize, NodeNamesSelectQuantizedWeightsAndQuantizedRulesNeedRequantize) {
  onnx::ModelProto model = LoadTestdata("quantized_qdq.onnx");
  ReinitOptions options = WithRule("role:quantized=normal:std=0.05");
  // Without --requantize the rule matches the quantized weights but changes nothing.
  const proto::ReinitReport plain = ReinitOk(model, options);
  EXPECT_TRUE(AnyWarningHas(plain,
                            "rule 'role:quantized=normal:std=0.05' takes no effect: the tensors it "
                            "matches are quantized (rewritten only with --requantize)"));
  EXPECT_TRUE(AnyWarningHas(plain, "(7 quantized tensors: --requantize rewrites them)"));
  // The weight PyTorch renamed is selected by the name of the MatMul that reads it.
  options.requantize = true;
  options.only = *NamePattern::Compile("/mm/");
  const proto::ReinitReport selected = ReinitOk(model, options);
  ASSERT_EQ(selected.requantized_size(), 1);
  EXPECT_EQ(selected.requantized(0).name(), "onnx::MatMul_20_quantized");
  EXPECT_EQ(selected.requantized(0).rule(), "--rule role:quantized=normal:std=0.05");
  EXPECT_FALSE(AnyWarningHas(selected, "takes no effect"));
}

}  // namespace
}  // namespace onnx_reinit
