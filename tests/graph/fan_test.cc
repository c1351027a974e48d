#include "onnx_reinit/fan.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

onnx::NodeProto Node(const std::string& op, std::vector<std::pair<std::string, int64_t>> attrs = {}) {
  onnx::NodeProto node;
  node.set_op_type(op);
  for (const auto& [name, value] : attrs) testing::SetIntAttribute(node, name, value);
  return node;
}

Fans FansOf(const onnx::NodeProto& node, int input, std::vector<int64_t> shape) {
  auto fans = FansForWeight(node, input, shape);
  EXPECT_TRUE(fans.ok()) << fans.status();
  return fans.ok() ? *fans : Fans{-1, -1};
}

TEST(FansForWeight, Conv2dMultipliesChannelsByKernelArea) {
  EXPECT_EQ(FansOf(Node("Conv"), 1, {64, 3, 7, 7}), (Fans{3 * 49, 64 * 49}));
}

TEST(FansForWeight, GroupedConvReadsInputChannelsPerGroupFromTheShape) {
  // Conv(8 -> 16, group 2): W [16, 4, 1, 1]; fan_out is not divided by the group, as in torch.
  EXPECT_EQ(FansOf(Node("Conv", {{"group", 2}}), 1, {16, 4, 1, 1}), (Fans{4, 16}));
}

TEST(FansForWeight, DepthwiseConvHasKernelAreaAsFanIn) {
  EXPECT_EQ(FansOf(Node("Conv", {{"group", 8}}), 1, {8, 1, 3, 3}), (Fans{9, 72}));
}

TEST(FansForWeight, Conv1dAndConv3d) {
  EXPECT_EQ(FansOf(Node("Conv"), 1, {6, 4, 3}), (Fans{12, 18}));
  EXPECT_EQ(FansOf(Node("Conv"), 1, {4, 2, 3, 3, 3}), (Fans{54, 108}));
}

TEST(FansForWeight, ConvTransposeFollowsTorchConvention) {
  // W [C_in=16, C_out/group=8, 4, 4]: torch reads size(1) as fan_in.
  EXPECT_EQ(FansOf(Node("ConvTranspose"), 1, {16, 8, 4, 4}), (Fans{128, 256}));
}

TEST(FansForWeight, GemmBReadsTransB) {
  EXPECT_EQ(FansOf(Node("Gemm"), 1, {4, 6}), (Fans{4, 6}));                       // [K, N]
  EXPECT_EQ(FansOf(Node("Gemm", {{"transB", 1}}), 1, {10, 16}), (Fans{16, 10}));  // [N, K]
}

TEST(FansForWeight, GemmAReadsTransA) {
  EXPECT_EQ(FansOf(Node("Gemm"), 0, {3, 7}), (Fans{7, 3}));                   // [M, K]
  EXPECT_EQ(FansOf(Node("Gemm", {{"transA", 1}}), 0, {2, 7}), (Fans{2, 7}));  // [K, M]
}

TEST(FansForWeight, BatchedMatMulUsesTheLastTwoAxes) {
  EXPECT_EQ(FansOf(Node("MatMul"), 1, {12, 16}), (Fans{12, 16}));
  EXPECT_EQ(FansOf(Node("MatMul"), 1, {8, 5, 12, 16}), (Fans{12, 16}));
  EXPECT_EQ(FansOf(Node("MatMul"), 1, {12}), (Fans{12, 1}));
  EXPECT_EQ(FansOf(Node("MatMul"), 0, {3, 6, 4}), (Fans{4, 6}));  // A [..., M, K]
}

TEST(FansForWeight, ShapesThatDoNotFitTheLayoutAreErrors) {
  EXPECT_FALSE(FansForWeight(Node("Conv"), 1, std::vector<int64_t>{8, 3}).ok());
  EXPECT_FALSE(FansForWeight(Node("Gemm"), 1, std::vector<int64_t>{8, 3, 1}).ok());
  EXPECT_FALSE(FansForWeight(Node("MatMul"), 1, std::vector<int64_t>{}).ok());
}

TEST(FansForWeight, ConvFansPast2To63AreErrors) {
  constexpr int64_t k2To32 = int64_t{1} << 32;
  for (const char* op : {"Conv", "ConvTranspose"}) {
    auto fans = FansForWeight(Node(op), 1, std::vector<int64_t>{k2To32, k2To32, k2To32});
    ASSERT_FALSE(fans.ok()) << op;
    EXPECT_NE(fans.status().message().find("whose fans overflow"), absl::string_view::npos);
  }
  EXPECT_FALSE(FansForWeight(Node("Conv"), 1, std::vector<int64_t>{1, 1, k2To32, k2To32}).ok());
}

TEST(IsWeightInput, OnlyConstantWeightSlotsQualify) {
  auto all_constant = [](int) { return true; };
  auto none_constant = [](int) { return false; };
  EXPECT_TRUE(IsWeightInput(Node("Conv"), 1, all_constant));
  EXPECT_FALSE(IsWeightInput(Node("Conv"), 2, all_constant));  // bias
  EXPECT_FALSE(IsWeightInput(Node("Conv"), 1, none_constant));
  EXPECT_TRUE(IsWeightInput(Node("Gemm"), 0, all_constant));
  EXPECT_FALSE(IsWeightInput(Node("Gemm"), 2, all_constant));
  EXPECT_FALSE(IsWeightInput(Node("Relu"), 0, all_constant));
  // MatMul with both operands constant: only B is a weight.
  EXPECT_FALSE(IsWeightInput(Node("MatMul"), 0, all_constant));
  EXPECT_TRUE(IsWeightInput(Node("MatMul"), 0, [](int i) { return i == 0; }));
  onnx::NodeProto custom = Node("Conv");
  custom.set_domain("com.example");
  EXPECT_FALSE(IsWeightInput(custom, 1, all_constant));
}

}  // namespace
}  // namespace onnx_reinit
