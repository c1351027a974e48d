// Einsum weights: fans by the equation (fan.h: FanRule::kEinsum), against einsum_matmul.onnx, the
// same weights read by MatMul as numpy's einsum computes them (testdata/generate_onnx_models.py).
#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/fan.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/roles.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

TEST(Einsum, PlainOperandsGetTheRoleAndFansOfTheirMatMulEquivalent) {
  onnx::ModelProto model = testing::LoadTestdata("einsum.onnx");
  onnx::ModelProto reference = testing::LoadTestdata("einsum_matmul.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  int learned = 0;
  for (const TensorUse& expected : AnalyzeGraph(reference).tensors) {
    if (expected.role == Role::kOther) continue;
    ++learned;
    const TensorUse& use = testing::FindUse(analysis, expected.name);
    EXPECT_EQ(use.role, expected.role) << expected.name;
    ASSERT_TRUE(use.fans.has_value()) << expected.name;
    EXPECT_EQ(use.fans->fan_in, expected.fans->fan_in) << expected.name;
    EXPECT_EQ(use.fans->fan_out, expected.fans->fan_out) << expected.name;
  }
  EXPECT_EQ(learned, 4);  // w1, its bias b1, w2, w3
}

TEST(Einsum, OperandsThatAreNotPlainAreListedWithTheReason) {
  onnx::ModelProto model = testing::LoadTestdata("einsum.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  for (const char* name : {"w4a", "w4b"}) {
    const TensorUse& use = testing::FindUse(analysis, name);
    EXPECT_EQ(use.role, Role::kOther) << name;
    EXPECT_THAT(use.reason, HasSubstr("is not a plain operand of a two-operand equation: it has 3 operands")) << name;
  }
  const TensorUse& w5 = testing::FindUse(analysis, "w5");
  EXPECT_EQ(w5.role, Role::kOther);
  EXPECT_THAT(w5.reason, HasSubstr("its own term has an ellipsis"));
  EXPECT_THAT(analysis.warnings, Contains(HasSubstr("'w5' [2, 4, 3] left unchanged: Einsum '...i,...ij->...j'")));
}

TEST(Einsum, WeightsAreDrawnWithTheFansOfTheEquation) {
  onnx::ModelProto model = testing::LoadTestdata("einsum.onnx");
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  auto report = Reinitialize(model, options);
  ASSERT_TRUE(report.ok()) << report.status();
  const GraphAnalysis analysis = AnalyzeGraph(model);
  for (const char* name : {"w1", "w2", "w3"}) {
    const std::vector<double> values = testing::ReadValues(*testing::FindInitializer(model, name));
    double squares = 0;
    for (double v : values) squares += v * v / values.size();
    const double target = std::sqrt(2.0 / testing::FindUse(analysis, name).fans->fan_in);
    // The std of n normal draws has a standard error of about target / sqrt(2n); 6 of those.
    EXPECT_NEAR(std::sqrt(squares), target, target * 6 / std::sqrt(2.0 * values.size())) << name;
  }
}

// The fans of operand `input` of shape `shape` in `equation` (two inputs).
absl::StatusOr<Fans> EquationFans(const std::string& equation, int input, const std::vector<int64_t>& shape) {
  onnx::NodeProto node;
  node.set_op_type("Einsum");
  node.add_input("a");
  node.add_input("b");
  onnx::AttributeProto& attribute = *node.add_attribute();
  attribute.set_name("equation");
  attribute.set_type(onnx::AttributeProto::STRING);
  attribute.set_s(equation);
  return FansForWeight(node, input, shape);
}

TEST(Einsum, ImplicitOutputKeepsTheLabelsThatOccurOnce) {
  // "bi,ij" is "bi,ij->bj": i is contracted, j kept.
  auto fans = EquationFans("bi, ij", 1, {4, 6});
  ASSERT_TRUE(fans.ok()) << fans.status();
  EXPECT_EQ(fans->fan_in, 4);
  EXPECT_EQ(fans->fan_out, 6);
}

TEST(Einsum, TheWeightMayBeTheFirstOperand) {
  auto fans = EquationFans("cde,abcd->abe", 0, {4, 5, 6});
  ASSERT_TRUE(fans.ok()) << fans.status();
  EXPECT_EQ(fans->fan_in, 4 * 5);
  EXPECT_EQ(fans->fan_out, 6);
}

TEST(Einsum, DiagonalsAndLabelsSummedWithinTheWeightHaveNoFans) {
  EXPECT_THAT(std::string(EquationFans("bi,ii->bi", 1, {4, 4}).status().message()),
              HasSubstr("its label 'i' repeats (a diagonal)"));
  EXPECT_THAT(std::string(EquationFans("bi,ij->b", 1, {4, 6}).status().message()),
              HasSubstr("its label 'j' is summed over within it alone"));
  EXPECT_THAT(std::string(EquationFans("bi,ij->bj", 1, {4, 6, 2}).status().message()),
              HasSubstr("its term 'ij' names 2 axes, its shape [4, 6, 2] has 3"));
}

}  // namespace
}  // namespace onnx_reinit
