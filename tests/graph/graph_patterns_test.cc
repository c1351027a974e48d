// Norm parameters that the graph around their op identifies (graph_patterns.h), against the roles
// the fixtures' generators record in the models' metadata ("reference_roles": from PyTorch's own
// module for torch_groupnorm.onnx, from the hand-built graph for norm_patterns.onnx).
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/roles.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// name -> "norm_scale", "norm_bias", "norm_scale+offset", "embedding", from the model's metadata.
std::map<std::string, std::string> ReferenceRoles(const onnx::ModelProto& model) {
  std::map<std::string, std::string> roles;
  for (const onnx::StringStringEntryProto& entry : model.metadata_props()) {
    if (entry.key() != "reference_roles") continue;
    for (absl::string_view item : absl::StrSplit(entry.value(), ',')) {
      const size_t colon = item.rfind(':');  // names may hold colons ("onnx::Mul_46")
      roles.emplace(std::string(item.substr(0, colon)), std::string(item.substr(colon + 1)));
    }
  }
  return roles;
}

class NormPatterns : public ::testing::TestWithParam<const char*> {};

TEST_P(NormPatterns, EveryNormParameterGetsItsReferenceRole) {
  onnx::ModelProto model = testing::LoadTestdata(GetParam());
  const std::map<std::string, std::string> reference = ReferenceRoles(model);
  ASSERT_FALSE(reference.empty());
  const GraphAnalysis analysis = AnalyzeGraph(model);
  for (const auto& [name, expected] : reference) {
    const TensorUse& use = testing::FindUse(analysis, name);
    EXPECT_EQ(absl::StrCat(RoleName(use.role), use.offset_scale ? "+offset" : ""), expected) << name;
  }
}

TEST_P(NormPatterns, NormParametersAreResetAndNothingElseChanges) {
  onnx::ModelProto model = testing::LoadTestdata(GetParam());
  const onnx::ModelProto before = model;
  const std::map<std::string, std::string> reference = ReferenceRoles(model);
  const GraphAnalysis analysis = AnalyzeGraph(model);
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  auto report = Reinitialize(model, options);
  ASSERT_TRUE(report.ok()) << report.status();
  for (int t = 0; t < model.graph().initializer_size(); ++t) {
    onnx::TensorProto& tensor = *model.mutable_graph()->mutable_initializer(t);
    const std::vector<double> values = testing::ReadValues(tensor);
    auto role = reference.find(tensor.name());
    if (role == reference.end()) {
      if (testing::FindUse(analysis, tensor.name()).role == Role::kOther) {
        EXPECT_EQ(tensor.SerializeAsString(), before.graph().initializer(t).SerializeAsString()) << tensor.name();
      }
      continue;
    }
    if (role->second == "embedding") {  // N(0, 1); the std of n draws has a standard error of 1 / sqrt(2n)
      double squares = 0;
      for (double v : values) squares += v * v / values.size();
      EXPECT_NEAR(std::sqrt(squares), 1.0, 6 / std::sqrt(2.0 * values.size())) << tensor.name();
      continue;
    }
    const double expected = role->second == "norm_scale" ? 1.0 : 0.0;  // offset scales and biases: 0
    EXPECT_EQ(values, std::vector<double>(values.size(), expected)) << tensor.name();
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NormPatterns, ::testing::Values("torch_groupnorm.onnx", "norm_patterns.onnx"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param).substr(0, std::string(info.param).find('.'));
                         });

TEST(NormPatterns, ATableTiedToADecoderIsAnEmbeddingAndTheTieIsWarned) {
  onnx::ModelProto model = testing::LoadTestdata("norm_patterns.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_EQ(testing::FindUse(analysis, "table").role, Role::kEmbedding);
  // The embedding's N(0, 1) and the decoder's He values differ: one warning, and no --untie advice
  // for a table that Gather and a weight reader share on purpose.
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  auto report = Reinitialize(model, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->warnings(),
              Contains(AllOf(HasSubstr("'table' is read by 2 nodes that need 2 different values"),
                             HasSubstr("as embedding of Gather 'gather'"),
                             HasSubstr("as weight of FusedMatMul 'decoder'"), Not(HasSubstr("--untie")))));
}

// torch 1.13 exports torch.rsqrt(v) as Div(1, Sqrt(v)): LLaMA's RMSNorm scale w * (x * rsqrt(...)).
TEST(NormPatterns, TorchRsqrtAsDivOfOneMakesAnRmsNormScale) {
  for (const char* fixture : {"torch_llama.onnx", "torch_llama_nofold.onnx"}) {
    onnx::ModelProto model = testing::LoadTestdata(fixture);
    const GraphAnalysis analysis = AnalyzeGraph(model);
    // Every RMSNorm scale (all ones) is this one tensor: the exporter merges equal values.
    EXPECT_EQ(testing::FindUse(analysis, "layers.0.input_layernorm.weight").role, Role::kNormScale) << fixture;
  }
}

}  // namespace
}  // namespace onnx_reinit
