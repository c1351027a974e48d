#include "onnx_reinit/op_table.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

TEST(FindOp, DefaultDomainIsEmptyOrAiOnnx) {
  EXPECT_EQ(FindOp("", "Conv"), FindOp("ai.onnx", "Conv"));
  EXPECT_NE(FindOp("", "Conv"), nullptr);
  EXPECT_EQ(FindOp("custom", "Conv"), nullptr);
  EXPECT_EQ(FindOp("", "Relu"), nullptr);
}

TEST(FindOp, HonoursTheOpsetRange) {
  EXPECT_EQ(FindOp("", "RMSNormalization", 22), nullptr);
  EXPECT_NE(FindOp("", "RMSNormalization", 23), nullptr);
  EXPECT_NE(FindOp("", "RMSNormalization"), nullptr);  // version unknown: the last row
}

TEST(OpSpec, AnyInputRowsAnswerForEveryInput) {
  const OpSpec& add = *FindOp("", "Add");
  ASSERT_NE(add.Input(0), nullptr);
  EXPECT_EQ(add.Input(0), add.Input(1));
  EXPECT_EQ(add.Input(0)->role, Role::kParameter);
  EXPECT_EQ(FindOp("", "Conv")->Input(0), nullptr);
}

TEST(OpSpec, OnlyTheQOperatorAndBlockQuantizedOpsReadIntegers) {
  const std::set<std::string> reading = {"QLinearConv",   "QLinearMatMul",         "ConvInteger",
                                         "MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat",
                                         "MatMulNBits",   "GatherBlockQuantized",  "QGemm"};
  for (const OpSpec& op : OpTable()) EXPECT_EQ(op.ReadsIntegers(), reading.count(op.op_type) > 0) << op.op_type;
}

// Rows that contradict each other or themselves would make a role depend on row order.
TEST(OpTable, RowsAreConsistent) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const OpSpec& op : OpTable()) {
    EXPECT_TRUE(seen.emplace(op.domain, op.op_type).second) << op.op_type << " has two rows";
    EXPECT_LE(op.since, op.until) << op.op_type;
    std::set<int> indices;
    for (const InputSpec& input : op.inputs) {
      EXPECT_TRUE(indices.insert(input.index).second) << op.op_type << " lists input " << input.index << " twice";
      if (input.role == Role::kWeight) {
        EXPECT_NE(input.fans.kind, FanRule::Kind::kNone) << op.op_type << " weight " << input.index << " has no fans";
      }
      if (input.fans.kind == FanRule::Kind::kBiasOf && input.fans.weight_input >= 0) {
        const InputSpec* weight = op.Input(input.fans.weight_input);
        ASSERT_NE(weight, nullptr) << op.op_type;
        EXPECT_EQ(weight->role, Role::kWeight) << op.op_type << " bias " << input.index;
      }
      if (input.fixed != nullptr) {
        EXPECT_EQ(input.role, Role::kOther) << op.op_type << " " << input.index;
      }
      EXPECT_GE(input.parts.count, 1) << op.op_type;
    }
  }
}

TEST(OpTable, DescribesEveryListedInput) {
  size_t inputs = 0;
  for (const OpSpec& op : OpTable()) inputs += op.inputs.size();
  const proto::OpTableListing listing = DescribeOpTable();
  ASSERT_EQ(static_cast<size_t>(listing.inputs_size()), inputs);
  const auto gemm_b = std::find_if(listing.inputs().begin(), listing.inputs().end(), [](const auto& input) {
    return input.op_type() == "Gemm" && input.input() == "1 B";
  });
  ASSERT_NE(gemm_b, listing.inputs().end());
  EXPECT_EQ(gemm_b->domain(), "ai.onnx");
  EXPECT_EQ(gemm_b->role(), "weight");
  EXPECT_EQ(gemm_b->fans(), "[K, N]: fan_in = K, fan_out = N (transB=1: [N, K])");
}

// docs/ops.md's "Supported ops" list is the table's (regenerate it with `onnx-reinit ops --markdown`).
TEST(OpTable, DocsListTheSupportedOpsOfTheTable) {
  std::ifstream in(std::string(TESTDATA_DIR) + "/../docs/ops.md");
  ASSERT_TRUE(in.good());
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- ops:begin (onnx-reinit ops --markdown) -->\n", end = "<!-- ops:end -->";
  const size_t from = page.find(begin), to = page.find(end);
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  EXPECT_EQ(page.substr(from + begin.size(), to - from - begin.size()), OpTableMarkdown())
      << "docs/ops.md's supported ops differ from the op table: paste `onnx-reinit ops --markdown` between the markers";
}

}  // namespace
}  // namespace onnx_reinit
