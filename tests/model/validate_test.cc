#include "onnx_reinit/model/validate.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/diff.h"
#include "onnx_reinit/base/limits.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/rewrite.h"
#include "onnx_reinit/stats.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using testing::AddConstantNode;
using testing::AddInitializer;
using testing::AddInput;
using testing::AddNode;
using ::testing::HasSubstr;
using testing::SetIntAttribute;

// The problem ValidateModel reports for `model`, or "" when it passes.
std::string Problem(const onnx::ModelProto& model) {
  const absl::Status status = ValidateModel(model);
  EXPECT_TRUE(status.ok() || absl::IsInvalidArgument(status)) << status;
  return std::string(status.message());
}

// A valid model: X @ w -> y.
onnx::ModelProto MatMulModel() {
  onnx::ModelProto model = testing::NewModel();
  AddInitializer(*model.mutable_graph(), "w", {4, 3});
  AddNode(*model.mutable_graph(), "MatMul", {"x", "w"}, {"y"}, "matmul");
  return model;
}

onnx::AttributeProto& AddAttribute(onnx::NodeProto& node, const std::string& name,
                                   onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(type);
  return attribute;
}

// A graph attribute `name` of `node`, to build subgraphs in.
onnx::GraphProto& AddSubgraph(onnx::NodeProto& node, const std::string& name) {
  return *AddAttribute(node, name, onnx::AttributeProto::GRAPH).mutable_g();
}

TEST(ValidateModel, EveryFixtureFromAnExporterPasses) {
  for (const auto& entry : std::filesystem::directory_iterator(testing::TestdataPath(""))) {
    if (entry.path().extension() != ".onnx") continue;
    SCOPED_TRACE(entry.path().string());
    const onnx::ModelProto model = testing::LoadTestdata(entry.path().filename().string());
    EXPECT_EQ(Problem(model), "");
  }
}

TEST(ValidateModel, TwoInitializersWithTheSameNameAreRefused) {
  onnx::ModelProto model = MatMulModel();
  AddInitializer(*model.mutable_graph(), "w", {4, 3});
  EXPECT_EQ(Problem(model), "two initializers are named 'w'");
}

TEST(ValidateModel, TwoInitializersWithTheSameNameAreRefusedAlsoWhenOneIsAGraphInput) {
  onnx::ModelProto model = MatMulModel();
  AddInput(*model.mutable_graph(), "w", {4, 3});
  EXPECT_EQ(Problem(model), "");  // an overridable initializer
  AddInitializer(*model.mutable_graph(), "w", {4, 3});
  EXPECT_EQ(Problem(model), "two initializers are named 'w'");
}

TEST(ValidateModel, AConstantOutputOrNodeOutputNamedLikeAnInitializerIsRefused) {
  onnx::ModelProto model = MatMulModel();
  AddConstantNode(*model.mutable_graph(), "w", {4, 3});
  EXPECT_EQ(Problem(model),
            "'w' is defined twice: as an initializer and as the output of "
            "node 'w_node' (Constant)");
  model = MatMulModel();
  AddNode(*model.mutable_graph(), "Relu", {"x"}, {"y"}, "relu");
  EXPECT_EQ(Problem(model),
            "'y' is defined twice: as the output of node 'matmul' (MatMul) and as "
            "the output of node 'relu' (Relu)");
}

TEST(ValidateModel, ASubgraphThatRedefinesAnOuterNameIsRefused) {
  onnx::ModelProto model = MatMulModel();
  onnx::NodeProto& branch = *AddNode(*model.mutable_graph(), "If", {"cond"}, {"z"}, "if");
  onnx::GraphProto& body = AddSubgraph(branch, "then_branch");
  AddInitializer(body, "inner", {3, 3});
  AddNode(body, "MatMul", {"y", "inner"}, {"out"});
  EXPECT_EQ(Problem(model), "");
  AddInitializer(body, "w", {3, 3});
  EXPECT_EQ(Problem(model), "'w' is defined twice: as an initializer and as an initializer of a subgraph");
}

TEST(ValidateModel, NamesOfSiblingSubgraphsDoNotClash) {
  onnx::ModelProto model = MatMulModel();
  onnx::NodeProto& branch = *AddNode(*model.mutable_graph(), "If", {"cond"}, {"z"}, "if");
  for (const char* name : {"then_branch", "else_branch"}) {
    onnx::GraphProto& body = AddSubgraph(branch, name);
    AddNode(body, "Relu", {"y"}, {"out"});
  }
  EXPECT_EQ(Problem(model), "");
}

TEST(ValidateModel, RawDataTogetherWithATypedFieldIsRefused) {
  onnx::ModelProto model = MatMulModel();
  model.mutable_graph()->mutable_initializer(0)->add_float_data(1.0f);
  EXPECT_THAT(Problem(model), HasSubstr("tensor 'w' holds values both in raw_data and in a typed field"));
}

TEST(ValidateModel, RawDataTogetherWithATypedFieldIsRefusedInConstantNodes) {
  onnx::ModelProto model = testing::NewModel();
  onnx::NodeProto& constant = *AddConstantNode(*model.mutable_graph(), "c", {2}, onnx::TensorProto::INT64);
  constant.mutable_attribute(0)->mutable_t()->add_int64_data(7);
  EXPECT_THAT(Problem(model), HasSubstr("tensor 'c' holds values both in raw_data and in a typed field"));
}

TEST(ValidateModel, ExternalDataTogetherWithEmbeddedValuesIsRefused) {
  onnx::ModelProto model = MatMulModel();
  model.mutable_graph()->mutable_initializer(0)->set_data_location(onnx::TensorProto::EXTERNAL);
  EXPECT_THAT(Problem(model), HasSubstr("tensor 'w' holds values both in an external data file and in the model"));
}

TEST(ValidateModel, AnIdentityCycleIsRefusedNamingANodeOnIt) {
  onnx::ModelProto model = MatMulModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.mutable_node(0)->set_input(1, "a");
  AddNode(graph, "Identity", {"b"}, {"a"}, "id_a");
  AddNode(graph, "Identity", {"a"}, {"b"}, "id_b");
  EXPECT_THAT(Problem(model), HasSubstr("(Identity) depends on its own output (a cycle in the graph)"));
}

TEST(ValidateModel, ANodeReadingItsOwnOutputIsACycle) {
  onnx::ModelProto model = MatMulModel();
  AddNode(*model.mutable_graph(), "Add", {"loop", "x"}, {"loop"}, "self");
  EXPECT_EQ(Problem(model), "node 'self' (Add) depends on its own output (a cycle in the graph)");
}

TEST(ValidateModel, UnsortedAcyclicGraphsPass) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddNode(graph, "Relu", {"h"}, {"y"});  // reads a value produced further down
  AddNode(graph, "Relu", {"x"}, {"h"});
  EXPECT_EQ(Problem(model), "");
}

TEST(ValidateModel, AGemmTransBThatIsAStringIsRefused) {
  onnx::ModelProto model = MatMulModel();
  onnx::NodeProto& gemm = *model.mutable_graph()->mutable_node(0);
  gemm.set_op_type("Gemm");
  AddAttribute(gemm, "transB", onnx::AttributeProto::STRING).set_s("1");
  EXPECT_EQ(Problem(model), "node 'matmul' (Gemm): attribute 'transB' must be INT, but is declared STRING");
}

TEST(ValidateModel, AnAttributeWhoseValueContradictsItsTypeIsRefused) {
  onnx::ModelProto model = MatMulModel();
  onnx::NodeProto& conv = *model.mutable_graph()->mutable_node(0);
  conv.set_op_type("Conv");
  AddAttribute(conv, "group", onnx::AttributeProto::INT).set_f(2.0f);
  EXPECT_EQ(Problem(model), "node 'matmul' (Conv): attribute 'group' must be INT, but holds a FLOAT value");
}

TEST(ValidateModel, AnUntypedAttributeIsJudgedByItsValue) {
  onnx::ModelProto model = MatMulModel();
  onnx::NodeProto& transpose = *AddNode(*model.mutable_graph(), "Transpose", {"y"}, {"yt"}, "t");
  onnx::AttributeProto& perm = AddAttribute(transpose, "perm", onnx::AttributeProto::UNDEFINED);
  EXPECT_THAT(Problem(model), HasSubstr("attribute 'perm' must be INTS, but has neither a type nor a value"));
  perm.add_ints(1);
  perm.add_ints(0);
  EXPECT_EQ(Problem(model), "");
}

TEST(ValidateModel, AttributesOfOpsWithoutRolesAndOfOtherDomainsAreNotJudged) {
  onnx::ModelProto model = MatMulModel();
  AddAttribute(*AddNode(*model.mutable_graph(), "LeakyRelu", {"y"}, {"z"}), "alpha", onnx::AttributeProto::STRING);
  onnx::NodeProto& custom = *AddNode(*model.mutable_graph(), "Gemm", {"z", "w"}, {"u"});
  custom.set_domain("com.example");
  AddAttribute(custom, "transB", onnx::AttributeProto::STRING);
  EXPECT_EQ(Problem(model), "");
}

TEST(ValidateModel, EveryAttributeThatDecidesRolesIsJudged) {
  const std::vector<std::pair<std::string, std::string>> attributes = {
      {"Gemm", "transA"},      {"Gemm", "transB"},     {"Conv", "group"},        {"ConvTranspose", "group"},
      {"LSTM", "hidden_size"}, {"GRU", "hidden_size"}, {"RNN", "hidden_size"},   {"GRU", "linear_before_reset"},
      {"Gather", "axis"},      {"Flatten", "axis"},    {"Reshape", "allowzero"}, {"Cast", "to"},
      {"Transpose", "perm"},   {"Squeeze", "axes"},    {"Unsqueeze", "axes"},    {"LSTM", "direction"},
      {"Constant", "value"}};
  for (const auto& [op, name] : attributes) {
    onnx::ModelProto model = MatMulModel();
    onnx::NodeProto& node = *AddNode(*model.mutable_graph(), op, {"y"}, {"z"});
    AddAttribute(node, name, onnx::AttributeProto::GRAPHS);
    EXPECT_THAT(Problem(model), HasSubstr("but is declared GRAPHS")) << op << "." << name;
  }
}

// A data type newer than libonnx 1.12 (FLOAT8E4M3FN is 17) is refused only where it would be
// rewritten (reinit_test), so that models holding such tensors elsewhere still open.
TEST(ValidateModel, AnUndefinedDataTypeIsRefusedButANewerOneIsNot) {
  onnx::ModelProto model = MatMulModel();
  onnx::TensorProto& w = *model.mutable_graph()->mutable_initializer(0);
  w.set_data_type(onnx::TensorProto::UNDEFINED);
  EXPECT_EQ(Problem(model), "tensor 'w' has data type UNDEFINED");
  for (const int32_t newer : {17, 22, 99}) {
    w.set_data_type(newer);
    EXPECT_EQ(Problem(model), "") << newer;
  }
}

TEST(ValidateModel, NegativeAndOverflowingDimsAreRefused) {
  onnx::ModelProto model = MatMulModel();
  onnx::TensorProto& w = *model.mutable_graph()->mutable_initializer(0);
  w.set_dims(0, -4);
  EXPECT_EQ(Problem(model), "tensor 'w' has a negative dimension (-4)");
  w.set_dims(0, int64_t{1} << 40);
  w.set_dims(1, int64_t{1} << 40);
  EXPECT_EQ(Problem(model), "tensor 'w' has more than 2^59 elements");
}

// A model with `depth` levels of If nested in one another.
onnx::ModelProto NestedIfs(int depth) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto* graph = model.mutable_graph();
  for (int level = 0; level < depth; ++level) {
    onnx::NodeProto& branch = *AddNode(*graph, "If", {"cond"}, {"out" + std::to_string(level)});
    graph = &AddSubgraph(branch, "then_branch");
  }
  return model;
}

TEST(ValidateModel, SubgraphsNestedPastTheLimitAreRefused) {
  EXPECT_EQ(Problem(NestedIfs(kMaxSubgraphDepth)), "");
  EXPECT_EQ(Problem(NestedIfs(kMaxSubgraphDepth + 1)),
            "If node with output 'out16': subgraphs nested more than 16 deep");
}

TEST(ValidateModel, FilesNestedPastEitherLimitAreErrorsNotAborts) {
  const std::string path = ::testing::TempDir() + "/validate_test_nested.onnx";
  const std::pair<int, const char*> cases[] = {
      {kMaxSubgraphDepth + 4, "subgraphs nested more than 16 deep"},
      {40, "messages nested past protobuf's limit of 100"},  // 3 messages per If level
  };
  for (const auto& [depth, problem] : cases) {
    ASSERT_TRUE(SaveModel(NestedIfs(depth), path).ok());
    for (const absl::Status& status : {LoadModel(path).status(), MappedModel::Open(path).status()}) {
      EXPECT_TRUE(absl::IsInvalidArgument(status)) << depth << ": " << status;
      EXPECT_THAT(status.message(), HasSubstr(problem)) << depth;
    }
  }
  std::filesystem::remove(path);
}

TEST(ValidateModel, ReinitializeRefusesBeforeChangingAnything) {
  onnx::ModelProto model = MatMulModel();
  AddInitializer(*model.mutable_graph(), "w", {4, 3});
  const std::string before = model.SerializeAsString();
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  const auto report = Reinitialize(model, options);
  EXPECT_TRUE(absl::IsInvalidArgument(report.status())) << report.status();
  EXPECT_EQ(report.status().message(), "two initializers are named 'w'");
  EXPECT_EQ(model.SerializeAsString(), before);
}

TEST(ValidateModel, StatsAndDiffRefuseToo) {
  onnx::ModelProto bad = MatMulModel();
  bad.mutable_graph()->mutable_initializer(0)->set_data_type(onnx::TensorProto::UNDEFINED);
  onnx::ModelProto good = MatMulModel();
  EXPECT_TRUE(absl::IsInvalidArgument(ComputeModelStats(bad, StatsOptions()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DiffModels(good, {}, bad, {}, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DiffModels(bad, {}, good, {}, 1).status()));
}

// The committed fixtures of the bad inputs issue 9 lists, and what each is refused for.
const std::pair<const char*, const char*> kAmbiguousFixtures[] = {
    {"malformed/duplicate_initializer.onnx", "two initializers are named 'W'"},
    {"malformed/raw_and_float_data.onnx", "tensor 'W' holds values both in raw_data and in a typed field"},
    {"malformed/identity_cycle.onnx", "(Identity) depends on its own output"},
    {"malformed/gemm_transb_string.onnx", "attribute 'transB' must be INT, but is declared STRING"},
    {"malformed/undefined_dtype.onnx", "tensor 'W' has data type UNDEFINED"},
};

TEST(ValidateModel, ReadingAFixtureOfAnAmbiguousModelFailsNamingTheFile) {
  for (const auto& [file, problem] : kAmbiguousFixtures) {
    const std::string path = testing::TestdataPath(file);
    for (const absl::Status& status : {LoadModel(path).status(), MappedModel::Open(path).status()}) {
      EXPECT_TRUE(absl::IsInvalidArgument(status)) << file << ": " << status;
      EXPECT_THAT(status.message(), HasSubstr(path + ": ")) << file;
      EXPECT_THAT(status.message(), HasSubstr(problem)) << file;
    }
  }
}

TEST(ValidateModel, ReinitializeFileWritesNothingForAnAmbiguousModel) {
  const std::string folder = ::testing::TempDir() + "/validate_test_outputs";
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  for (const auto& [file, problem] : kAmbiguousFixtures) {
    for (bool materialize : {false, true}) {  // the in-place path and the parsing path
      RewriteOptions options;
      options.reinit.policy.scheme.kind = SchemeKind::kHeNormal;
      options.materialize = materialize;
      const auto report = ReinitializeFile(testing::TestdataPath(file), folder + "/out.onnx", options);
      EXPECT_THAT(report.status().message(), HasSubstr(problem)) << file;
      EXPECT_TRUE(std::filesystem::is_empty(folder)) << file;
    }
  }
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace onnx_reinit
