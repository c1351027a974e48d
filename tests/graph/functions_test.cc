// Model-local functions (graph_index.h): weights passed into calls, Constants in bodies, nested
// calls and attribute references, against flat twins of the fixtures: the same network without
// functions (PyTorch's own export, and testdata's Python inliner for the hand-built model).
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/rewrite.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/init/untie.h"
#include "onnx_reinit/model/validate.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/temp_dir.h"

namespace onnx_reinit {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

struct Twins {
  const char* functions;
  const char* flat;
};
constexpr Twins kTwins[] = {{"local_functions.onnx", "local_functions_inlined.onnx"},
                            {"torch_functions.onnx", "torch_functions_flat.onnx"}};

// Every constant of a model (function bodies and call attributes included), by name.
std::map<std::string, onnx::TensorProto*> ConstantsByName(onnx::ModelProto& model) {
  std::map<std::string, onnx::TensorProto*> constants;
  for (const GraphConstant& constant : ListConstants(model)) constants.emplace(constant.name, constant.tensor);
  return constants;
}

bool Learned(const TensorUse& use) { return use.role != Role::kOther; }

ReinitOptions He() {
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  return options;
}

double Std(const std::vector<double>& values) {
  double mean = 0, squares = 0;
  for (double v : values) mean += v / values.size();
  for (double v : values) squares += (v - mean) * (v - mean) / values.size();
  return std::sqrt(squares);
}

class FunctionTwins : public ::testing::TestWithParam<Twins> {
 protected:
  // Re-initializes `fixture` into the temporary folder with `layout`, and loads the result.
  onnx::ModelProto Rewrite(const std::string& fixture, RewriteOptions::Layout layout, const std::string& output) {
    RewriteOptions options;
    options.reinit = He();
    options.layout = layout;
    const std::string path = (dir_ / output).string();
    auto report = ReinitializeFile(testing::TestdataPath(fixture), path, options);
    EXPECT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(CheckModelFile(path).ok()) << CheckModelFile(path);
    auto model = LoadModel(path);
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *std::move(model) : onnx::ModelProto();
  }

  testing::TempDir temp_;
  fs::path dir_ = temp_.path();
};

TEST_P(FunctionTwins, EveryLearnedTensorGetsTheRoleAndFansItHasInTheFlatModel) {
  onnx::ModelProto functions = testing::LoadTestdata(GetParam().functions);
  onnx::ModelProto flat = testing::LoadTestdata(GetParam().flat);
  const GraphAnalysis inlined = AnalyzeGraph(functions);
  const GraphAnalysis reference = AnalyzeGraph(flat);
  int learned = 0;
  for (const TensorUse& expected : reference.tensors) {
    if (!Learned(expected)) continue;
    ++learned;
    const TensorUse& use = testing::FindUse(inlined, expected.name);
    EXPECT_EQ(use.role, expected.role) << expected.name;
    ASSERT_EQ(use.fans.has_value(), expected.fans.has_value()) << expected.name;
    if (expected.fans) {
      EXPECT_EQ(use.fans->fan_in, expected.fans->fan_in) << expected.name;
      EXPECT_EQ(use.fans->fan_out, expected.fans->fan_out) << expected.name;
    }
  }
  EXPECT_GT(learned, 0);
  EXPECT_EQ(std::count_if(inlined.tensors.begin(), inlined.tensors.end(), Learned), learned);
}

TEST_P(FunctionTwins, WritesEveryTensorAsTheFlatModelGetsItAndNothingElse) {
  const onnx::ModelProto flat_out = Rewrite(GetParam().flat, RewriteOptions::Layout::kKeep, "flat.onnx");
  onnx::ModelProto flat = flat_out;
  onnx::ModelProto input = testing::LoadTestdata(GetParam().functions);
  const GraphAnalysis analysis = AnalyzeGraph(input);
  const std::map<std::string, onnx::TensorProto*> before = ConstantsByName(input);
  const std::map<std::string, onnx::TensorProto*> expected = ConstantsByName(flat);
  // The path that rewrites a file in place (falling back to the parsed one for Constant values),
  // and the parsed path.
  for (const auto layout : {RewriteOptions::Layout::kKeep, RewriteOptions::Layout::kEmbed}) {
    onnx::ModelProto output = Rewrite(GetParam().functions, layout, "out.onnx");
    for (const auto& [name, tensor] : ConstantsByName(output)) {
      const TensorUse& use = testing::FindUse(analysis, name);
      const std::vector<double> values = testing::ReadValues(*tensor);
      if (!Learned(use)) {
        EXPECT_EQ(values, testing::ReadValues(*before.at(name))) << name << " is not learned, yet changed";
        continue;
      }
      ASSERT_TRUE(expected.count(name)) << name;
      EXPECT_EQ(values, testing::ReadValues(*expected.at(name))) << name;
      if (use.role == Role::kWeight) {
        const double target = std::sqrt(2.0 / use.fans->fan_in);
        EXPECT_NEAR(Std(values), target, target * 6 / std::sqrt(2.0 * values.size())) << name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FunctionTwins, ::testing::ValuesIn(kTwins),
                         [](const ::testing::TestParamInfo<Twins>& info) {
                           return std::string(info.param.functions).substr(0, 5);
                         });

TEST(Functions, BodyConstantsAreNamedAfterTheFunctionAndSharedByItsCalls) {
  onnx::ModelProto model = testing::LoadTestdata("local_functions.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& dense = testing::FindUse(analysis, "Dense::W");
  EXPECT_EQ(dense.source, TensorSource::kFunctionConstant);
  EXPECT_EQ(dense.readers.size(), 2u);  // Dense is called inside both Blocks
  EXPECT_EQ(dense.reader->name(), "block1/dense/matmul");
  // The tensor rewritten is the one in the function's body.
  const onnx::FunctionProto& function = model.functions(1);
  ASSERT_EQ(function.name(), "Dense");
  EXPECT_EQ(dense.tensor, &function.node(0).attribute(0).t());
  EXPECT_THAT(analysis.warnings, Contains(HasSubstr("function 'Dense' is called 2 times and every call shares the "
                                                    "constants of its body: Dense::W, Dense::b")));
}

TEST(Functions, CallsThatReadABodyConstantWithOtherFansAreWarnedAbout) {
  onnx::ModelProto model = testing::LoadTestdata("local_functions.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  // Proj's Gemm reads P [4, 8] with transB = 1 in the first call and 0 in the second.
  const TensorUse& p = testing::FindUse(analysis, "Proj::P");
  EXPECT_EQ(p.fans->fan_in, p.view_shape[1]);
  // He's values depend on the fans, so the two calls need different values: the plan warns, once,
  // without suggesting --untie (every call shares the body's constant).
  auto report = Reinitialize(model, He());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->warnings(),
              Contains(AllOf(HasSubstr("'Proj::P' is read by 2 nodes that need 2 different values"),
                             HasSubstr("Gemm 'proj2/gemm' (fan_in 4)"), Not(HasSubstr("--untie")))));
}

TEST(Functions, UntieLeavesBodyConstantsTiedAndSaysWhy) {
  onnx::ModelProto model = testing::LoadTestdata("local_functions.onnx");
  const std::string before = model.SerializeAsString();
  const UntieResult result = UntieTensors(model, He());
  EXPECT_TRUE(result.copies.empty());
  EXPECT_THAT(result.warnings,
              Contains(HasSubstr("'Proj::P' stays tied: it is a constant in the body of function 'Proj'")));
  EXPECT_EQ(model.SerializeAsString(), before);
}

TEST(Functions, TensorAttributesOfCallsThatNoBodyReadsAreListedAndKeepTheirValues) {
  onnx::ModelProto model = testing::LoadTestdata("torch_functions.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& copy = testing::FindUse(analysis, "/head/Linear.weight");
  EXPECT_EQ(copy.source, TensorSource::kCallAttribute);
  EXPECT_EQ(copy.role, Role::kOther);
  EXPECT_THAT(copy.reason, HasSubstr("function 'Linear' that its body does not read"));
}

// A model calling function F (domain "f") from its graph; F's body is `body`.
onnx::ModelProto CallingModel(const std::vector<onnx::NodeProto>& body) {
  onnx::ModelProto model = testing::NewModel();
  model.set_ir_version(8);
  auto* opset = model.add_opset_import();
  opset->set_domain("f");
  opset->set_version(1);
  onnx::FunctionProto& function = *model.add_functions();
  function.set_name("F");
  function.set_domain("f");
  function.add_input("x");
  function.add_output("y");
  for (const onnx::NodeProto& node : body) *function.add_node() = node;
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "X", {2, 4});
  testing::AddNode(graph, "F", {"X"}, {"Y"}, "call")->set_domain("f");
  return model;
}

TEST(Functions, ARecursiveCallIsNotFollowedAndNamed) {
  onnx::NodeProto recurse;
  recurse.set_op_type("F");
  recurse.set_domain("f");
  recurse.add_input("x");
  recurse.add_output("y");
  onnx::ModelProto model = CallingModel({recurse});
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_THAT(analysis.warnings, Contains(HasSubstr("function 'F' calls itself: its call 'call/F' is not followed")));
}

TEST(Functions, AConstantThatIsTheFunctionsOutputReachesTheCallersReader) {
  onnx::GraphProto body;
  testing::AddConstantNode(body, "y", {4, 3});
  onnx::ModelProto model = CallingModel({body.node(0)});
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddNode(graph, "MatMul", {"X", "Y"}, {"Z"}, "matmul");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& use = testing::FindUse(analysis, "F::y");
  EXPECT_EQ(use.role, Role::kWeight);
  EXPECT_EQ(use.fans->fan_in, 4);
  EXPECT_EQ(use.via, "");
}

TEST(Functions, ConstantsOfAFunctionNoNodeCallsAreListedWithTheReason) {
  onnx::GraphProto body;
  testing::AddConstantNode(body, "w", {4, 3});
  onnx::ModelProto model = CallingModel({body.node(0)});
  model.mutable_graph()->clear_node();
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(testing::FindUse(analysis, "F::w").reason, "in the body of function 'F', which no node calls");
}

TEST(Functions, BodyOpsAreReadInTheOpsetsTheFunctionImports) {
  // RMSNormalization exists from opset 23: the model imports 13, the function 23.
  onnx::NodeProto norm;
  norm.set_op_type("RMSNormalization");
  norm.add_input("x");
  norm.add_input("scale");
  norm.add_output("y");
  onnx::ModelProto model = CallingModel({norm});
  onnx::FunctionProto& function = *model.mutable_functions(0);
  function.add_input("scale");
  testing::AddInitializer(*model.mutable_graph(), "gamma", {4});
  model.mutable_graph()->mutable_node(0)->add_input("gamma");
  const GraphAnalysis before_opset = AnalyzeGraph(model);
  EXPECT_EQ(testing::FindUse(before_opset, "gamma").role, Role::kOther);
  auto* opset = function.add_opset_import();
  opset->set_domain("");
  opset->set_version(23);
  const GraphAnalysis with_opset = AnalyzeGraph(model);
  EXPECT_EQ(testing::FindUse(with_opset, "gamma").role, Role::kNormScale);
}

TEST(Functions, TwoFunctionsOfOneDomainAndNameAreRefused) {
  onnx::ModelProto model = CallingModel({});
  *model.add_functions() = model.functions(0);
  EXPECT_THAT(std::string(ValidateModel(model).message()),
              HasSubstr("two model-local functions are named 'F' in domain 'f'"));
}

}  // namespace
}  // namespace onnx_reinit
