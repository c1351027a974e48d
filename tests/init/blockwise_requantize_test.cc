// --requantize, stats and verify on blockwise n-bit weights (MatMulNBits, GatherBlockQuantized),
// and the DynamicQuantizeMatMul weight of testdata/quantized_nbits.onnx
// (testdata/generate_nbits_models.py).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/blockwise.h"
#include "onnx_reinit/external_data.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/rewrite.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/verify.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/reinit_report.h"

namespace onnx_reinit {
namespace {

using testing::AddInitializer;
using testing::AddInput;
using testing::AddNode;
using testing::FindInitializer;
using testing::FindRequantized;
using testing::FindSkipped;
using ::testing::HasSubstr;
using testing::LoadTestdata;
using testing::NewModel;
using testing::ReadValues;
using testing::ReinitOk;
using testing::Requantizing;
using testing::SetIntAttribute;
using testing::TempDir;
using ::testing::UnorderedElementsAre;

constexpr char kFixture[] = "quantized_nbits.onnx";
constexpr uint64_t kSeed = 11;
// Its blockwise weights: name -> bits, block size, rows, columns, zero-point tensor.
struct Blockwise {
  int bits;
  int64_t block_size, rows, cols;
  std::string scales, zero_points;
};
const std::map<std::string, Blockwise>& FixtureWeights() {
  static const auto* weights = new std::map<std::string, Blockwise>{
      {"embed.qweight", {4, 32, 40, 64, "embed.scales", ""}},
      {"q4_sym.qweight", {4, 32, 48, 64, "q4_sym.scales", ""}},
      {"q4_zp.qweight", {4, 16, 40, 48, "q4_zp.scales", "q4_zp.qzeros"}},
      {"q8_zp.qweight", {8, 32, 24, 40, "q8_zp.scales", "q8_zp.qzeros"}},
  };
  return *weights;
}

BlockLayout LayoutOf(const Blockwise& w, bool padded_to_blocks) {
  BlockLayout layout;
  layout.bits = w.bits;
  layout.rows = w.rows;
  layout.cols = w.cols;
  layout.block_size = w.block_size;
  layout.row_stride = padded_to_blocks ? layout.blocks() * w.block_size : w.cols;
  return layout;
}

const uint8_t* Bytes(const onnx::TensorProto& tensor) {
  return reinterpret_cast<const uint8_t*>(tensor.raw_data().data());
}

TEST(BlockwiseRequantize, ListsBlockwiseWeightsAsQuantizedWithTheFansOfTheirAttributes) {
  onnx::ModelProto model = LoadTestdata(kFixture);
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const std::map<std::string, Fans> fans = {{"embed.qweight", {64, 40}},
                                            {"q4_sym.qweight", {64, 48}},
                                            {"q4_zp.qweight", {48, 40}},
                                            {"q8_zp.qweight", {40, 24}},
                                            {"head.qweight", {24, 16}}};
  for (const auto& [name, expected] : fans) {
    const TensorUse& use = testing::FindUse(analysis, name);
    EXPECT_EQ(use.role, Role::kQuantized) << name;
    ASSERT_TRUE(use.fans) << name;
    EXPECT_EQ(*use.fans, expected) << name;
  }
  const TensorUse& bias = testing::FindUse(analysis, "q4_zp.bias");
  EXPECT_EQ(bias.role, Role::kBias);
  EXPECT_EQ(bias.fans->fan_in, 48);
  EXPECT_TRUE(testing::FindUse(analysis, "q4_sym.scales").fixed);

  // Without --requantize they are listed, with the flag that rewrites them.
  ReinitOptions options = Requantizing(2, kSeed);
  options.requantize = false;
  const onnx::ModelProto original = model;
  const proto::ReinitReport report = ReinitOk(model, options);
  std::vector<std::string> quantized;
  for (const proto::SkippedTensor& skipped : report.skipped()) {
    if (skipped.role() == "quantized") {
      quantized.push_back(skipped.name());
      EXPECT_THAT(skipped.reason(), HasSubstr("--requantize"));
    }
  }
  EXPECT_THAT(quantized, UnorderedElementsAre("embed.qweight", "q4_sym.qweight", "q4_zp.qweight", "q8_zp.qweight",
                                              "head.qweight"));
}

// Every block of the written integers reaches its convention's levels (blockwise.h), and the
// dequantized values are within a step of the float values drawn for the weight's name: those a
// float tensor [rows, cols] of that name gets (fill.h), re-drawn here.
TEST(BlockwiseRequantize, WritesTheDrawnValuesQuantizedBlockByBlock) {
  onnx::ModelProto model = LoadTestdata(kFixture);
  const ReinitOptions options = Requantizing(2, kSeed);
  const proto::ReinitReport report = ReinitOk(model, options);
  for (const auto& [name, w] : FixtureWeights()) {
    SCOPED_TRACE(name);
    const proto::RequantizedTensor* record = FindRequantized(report, name);
    ASSERT_NE(record, nullptr);
    EXPECT_EQ(record->bits(), w.bits);
    EXPECT_EQ(record->block_size(), w.block_size);
    EXPECT_EQ(record->scale(), w.scales);
    EXPECT_EQ(record->zero_point(), w.zero_points);
    const BlockLayout layout = LayoutOf(w, name != "embed.qweight");
    const uint8_t* packed = Bytes(*FindInitializer(model, name));
    const std::vector<double> scales = ReadValues(*FindInitializer(model, w.scales));
    const uint8_t* zero_points = w.zero_points.empty() ? nullptr : Bytes(*FindInitializer(model, w.zero_points));
    const BlockConvention convention =
        zero_points != nullptr ? BlockConvention::kMinMax : BlockConvention::kSignedScale;  // ORT's, as generated

    onnx::TensorProto stand_in;
    stand_in.set_data_type(onnx::TensorProto::FLOAT);
    stand_in.add_dims(w.rows);
    stand_in.add_dims(w.cols);
    DetachedPayload none;
    none.size = w.rows * w.cols * 4;
    FillJob job{*TensorValues::BindDetached(stand_in, name, none), record->distribution(), StreamIdForName(name)};
    std::vector<double> drawn(w.rows * w.cols), dequantized(w.rows * w.cols);
    SampleRange(job, options.seed, 0, w.rows * w.cols, drawn.data());
    DequantizeRows(layout, packed, scales.data(), zero_points, w.rows, dequantized.data());
    for (int64_t r = 0; r < w.rows; ++r) {
      for (int64_t b = 0; b < layout.blocks(); ++b) {
        const double step = std::abs(scales[r * layout.blocks() + b]);
        const int zp = zero_points != nullptr ? UnpackValue(zero_points + r * layout.zero_point_row_bytes(), b, w.bits)
                                              : static_cast<int>(layout.default_zero_point());
        int largest = 0, low = 255, high = 0;
        for (int64_t k = b * w.block_size; k < std::min(w.cols, (b + 1) * w.block_size); ++k) {
          const int q = UnpackValue(packed + r * layout.row_bytes(), k, w.bits);
          largest = std::max(largest, std::abs(q - zp));
          low = std::min(low, q);
          high = std::max(high, q);
          ASSERT_LE(std::abs(dequantized[r * w.cols + k] - drawn[r * w.cols + k]), step * 1.001) << r << ", " << k;
        }
        if (convention == BlockConvention::kMinMax) {
          EXPECT_TRUE(low == 0 || high == layout.max_q()) << low << ".." << high;
        } else {
          EXPECT_EQ(largest, LevelsOf(convention, w.bits)) << "row " << r << ", block " << b;
        }
      }
    }
  }
}

TEST(BlockwiseRequantize, KeepsDtypesShapesAndEveryOtherByte) {
  const onnx::ModelProto original = LoadTestdata(kFixture);
  onnx::ModelProto model = original;
  ReinitOk(model, Requantizing(2, kSeed));
  std::vector<std::string> changed;
  for (int i = 0; i < original.graph().initializer_size(); ++i) {
    const onnx::TensorProto& before = original.graph().initializer(i);
    const onnx::TensorProto& after = model.graph().initializer(i);
    SCOPED_TRACE(before.name());
    EXPECT_EQ(after.data_type(), before.data_type());
    EXPECT_EQ(std::vector<int64_t>(after.dims().begin(), after.dims().end()),
              std::vector<int64_t>(before.dims().begin(), before.dims().end()));
    EXPECT_EQ(after.raw_data().size(), before.raw_data().size());
    if (after.SerializeAsString() != before.SerializeAsString()) changed.push_back(before.name());
  }
  EXPECT_THAT(changed,
              UnorderedElementsAre("embed.qweight", "embed.scales", "q4_sym.qweight", "q4_sym.scales", "q4_zp.qweight",
                                   "q4_zp.scales", "q4_zp.qzeros", "q4_zp.bias", "q8_zp.qweight", "q8_zp.scales",
                                   "q8_zp.qzeros", "head.qweight", "head.scales"));
  onnx::ModelProto without_initializers = model, original_without = original;
  without_initializers.mutable_graph()->clear_initializer();
  original_without.mutable_graph()->clear_initializer();
  EXPECT_EQ(without_initializers.SerializeAsString(), original_without.SerializeAsString());
}

TEST(BlockwiseRequantize, SameBytesForAnyThreadCountInMemoryAndFileToFile) {
  onnx::ModelProto one = LoadTestdata(kFixture);
  onnx::ModelProto five = one;
  const proto::ReinitReport in_memory = ReinitOk(one, Requantizing(1, kSeed));
  ReinitOk(five, Requantizing(5, kSeed));
  EXPECT_EQ(one.SerializeAsString(), five.SerializeAsString());

  TempDir dir;
  RewriteOptions options;
  options.reinit = Requantizing(3, kSeed);
  const std::string input = testing::CopyFixture(dir, kFixture);
  auto report = ReinitializeFile(input, dir / "out.onnx", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(testing::ReadFile(dir / "out.onnx"), one.SerializeAsString());
  // The streamed file-to-file path reports the same moments as the in-memory one.
  for (const auto& [name, w] : FixtureWeights()) {
    EXPECT_EQ(FindRequantized(*report, name)->after().SerializeAsString(),
              FindRequantized(in_memory, name)->after().SerializeAsString())
        << name;
  }
}

// A model whose tensors all live in a data file: the blockwise weights are rewritten there (the
// new data file holds the bytes the embedded fixture gets in memory); DynamicQuantizeMatMul's
// weight, requantized in memory only, is listed as left unchanged.
TEST(BlockwiseRequantize, RewritesBlockwiseWeightsInExternalData) {
  TempDir dir;
  std::filesystem::copy_file(testing::TestdataPath("external/quantized_nbits.onnx"), dir / "in.onnx");
  std::filesystem::copy_file(testing::TestdataPath("external/quantized_nbits.onnx.data"),
                             dir / "quantized_nbits.onnx.data");
  RewriteOptions options;
  options.reinit = Requantizing(2, kSeed);
  auto report = ReinitializeFile(dir / "in.onnx", dir / "out.onnx", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->requantized_size(), 4);
  const proto::SkippedTensor* head = FindSkipped(*report, "head.qweight");
  ASSERT_NE(head, nullptr);
  EXPECT_THAT(head->reason(), HasSubstr("external data"));

  auto written = LoadModel(dir / "out.onnx");
  ASSERT_TRUE(written.ok()) << written.status();
  auto data = ExternalData::Open(*written, dir / "out.onnx");
  ASSERT_TRUE(data.ok()) << data.status();
  onnx::ModelProto in_memory = LoadTestdata(kFixture);
  ReinitOk(in_memory, Requantizing(2, kSeed));
  onnx::ModelProto original = LoadTestdata(kFixture);
  for (const onnx::TensorProto& tensor : written->graph().initializer()) {
    SCOPED_TRACE(tensor.name());
    const DetachedPayload& payload = data->payloads().by_tensor.at(&tensor);
    const bool unchanged = tensor.name() == "head.qweight" || tensor.name() == "head.scales";
    EXPECT_EQ(std::string(payload.data, payload.size),
              FindInitializer(unchanged ? original : in_memory, tensor.name())->raw_data());
  }
}

TEST(BlockwiseRequantize, OpRulesTakeEffectUnderStrict) {
  onnx::ModelProto model = LoadTestdata(kFixture);
  ReinitOptions options = Requantizing(2, kSeed);
  options.strict = true;
  auto rule = ParseRule("op:MatMulNBits=normal:std=0.05");
  ASSERT_TRUE(rule.ok()) << rule.status();
  options.policy.rules.push_back(*rule);
  const proto::ReinitReport report = ReinitOk(model, options);
  for (const char* name : {"q4_sym.qweight", "q4_zp.qweight", "q8_zp.qweight"}) {
    const proto::RequantizedTensor* record = FindRequantized(report, name);
    ASSERT_NE(record, nullptr);
    EXPECT_EQ(record->rule(), "--rule op:MatMulNBits=normal:std=0.05");
  }
  EXPECT_EQ(FindRequantized(report, "embed.qweight")->rule(), "default for embedding");

  // Without --requantize a rule that matches only such tensors takes no effect: strict refuses.
  // (op:MatMulNBits also matches the float bias of q4_zp, which it does take.)
  onnx::ModelProto again = LoadTestdata(kFixture);
  options.requantize = false;
  options.policy.rules = {*ParseRule("name:q4_sym\\.qweight=normal:std=0.05")};
  auto refused = Reinitialize(again, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("quantized (rewritten only with --requantize)"));
}

// The fixture's weights are trained-like (std 0.02): verify reads them dequantized and fails them;
// after --requantize they pass. stats reads the same dequantized values.
TEST(BlockwiseRequantize, VerifyAndStatsReadTheDequantizedValues) {
  onnx::ModelProto model = LoadTestdata(kFixture);
  VerifyOptions verify;
  verify.scheme.kind = SchemeKind::kHeNormal;
  auto trained = VerifyModel(model, verify);
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_EQ(trained->weights_size(), 3);  // the MatMulNBits weights (DynamicQuantizeMatMul's is int8 QOperator)
  EXPECT_EQ(trained->failed(), 3);
  for (const proto::VerifyFinding& finding : trained->weights()) EXPECT_NEAR(finding.std(), 0.02, 0.004);

  const proto::ReinitReport report = ReinitOk(model, Requantizing(2, kSeed));
  auto fresh = VerifyModel(model, verify);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->weights_size(), 3);
  EXPECT_EQ(fresh->failed(), 0);

  StatsOptions stats_options;
  stats_options.scheme = verify.scheme;
  auto stats = ComputeModelStats(model, stats_options);
  ASSERT_TRUE(stats.ok()) << stats.status();
  int rows = 0;
  for (const proto::TensorStats& row : stats->tensors()) {
    if (row.role() != "quantized") continue;
    ++rows;
    EXPECT_NEAR(row.std(), FindRequantized(report, row.name())->after().std(), 1e-12) << row.name();
  }
  EXPECT_EQ(rows, 4);
}

// Orthogonal weights are judged by their singular values, which verify does not read from a
// dequantized matrix: each blockwise weight is named as not judged, none passes silently.
TEST(BlockwiseRequantize, VerifyNamesBlockwiseWeightsItCannotJudge) {
  onnx::ModelProto model = LoadTestdata(kFixture);
  VerifyOptions verify;
  verify.scheme.kind = SchemeKind::kOrthogonal;
  auto report = VerifyModel(model, verify);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->weights_size(), 0);
  EXPECT_FALSE(report->passed());
  std::vector<std::string> unjudged;
  for (const proto::UnreadTensor& entry : report->unjudged()) {
    if (absl::StrContains(entry.reason(), "blockwise")) unjudged.push_back(entry.name());
  }
  EXPECT_THAT(unjudged, ::testing::UnorderedElementsAre("q4_sym.qweight", "q4_zp.qweight", "q8_zp.qweight"));
}

// A MatMulNBits weight [N, K] = [512, 1024] in each convention: the dequantized std is the scheme's
// target plus the rounding error's variance, E[step^2] / 12, within 6 standard errors of a sample
// std (1/sqrt(2n) relative for normal values). ORT's signed scale also clips the short side of each
// block (values past L - 1/2 steps opposite the largest): at 4 bits that lowers the std by about
// 0.35%, 3.6 standard errors at this size, which the formula leaves out.
TEST(BlockwiseRequantize, DequantizedStdIsTheTargetWithinSamplingTolerance) {
  struct Case {
    int bits;
    int64_t block_size;
    bool zero_points;
    float old_scale;  // its sign decides between the signed and the symmetric convention
  };
  for (const Case& c : {Case{4, 32, false, -0.01f}, Case{4, 32, false, 0.01f}, Case{4, 16, true, 0.01f},
                        Case{8, 32, true, 0.01f}, Case{8, 64, false, -0.01f}}) {
    SCOPED_TRACE(absl::StrFormat("bits %d, block %d, zero points %d, old scale %g", c.bits, c.block_size, c.zero_points,
                                 c.old_scale));
    constexpr int64_t kN = 512, kK = 1024;
    const int64_t blocks = kK / c.block_size;
    onnx::ModelProto model = NewModel();
    onnx::GraphProto& graph = *model.mutable_graph();
    AddInput(graph, "x", {1, kK});
    onnx::TensorProto* b =
        AddInitializer(graph, "w", {kN, blocks, c.block_size * c.bits / 8}, onnx::TensorProto::UINT8);
    b->set_raw_data(std::string(kN * blocks * c.block_size * c.bits / 8, '\0'));
    onnx::TensorProto* scales = AddInitializer(graph, "w_scales", {kN, blocks});
    std::vector<float> old(kN * blocks, c.old_scale);
    scales->set_raw_data(std::string(reinterpret_cast<const char*>(old.data()), old.size() * 4));
    std::vector<std::string> inputs = {"x", "w", "w_scales"};
    if (c.zero_points) {
      onnx::TensorProto* zp = AddInitializer(graph, "w_zp", {kN, (blocks * c.bits + 7) / 8}, onnx::TensorProto::UINT8);
      zp->set_raw_data(std::string(kN * ((blocks * c.bits + 7) / 8), '\x88'));
      inputs.push_back("w_zp");
    }
    onnx::NodeProto* node = AddNode(graph, "MatMulNBits", inputs, {"y"});
    node->set_domain("com.microsoft");
    SetIntAttribute(*node, "K", kK);
    SetIntAttribute(*node, "N", kN);
    SetIntAttribute(*node, "bits", c.bits);
    SetIntAttribute(*node, "block_size", c.block_size);
    const proto::ReinitReport report = ReinitOk(model, Requantizing(2, kSeed));
    ASSERT_EQ(report.requantized_size(), 1);
    const proto::RequantizedTensor& record = report.requantized(0);
    const double n = static_cast<double>(kN * kK);
    const double target = std::sqrt(2.0 / kK);
    double mean_square_step = 0;
    for (double s : ReadValues(*FindInitializer(model, "w_scales"))) mean_square_step += s * s / (kN * blocks);
    const double expected = std::sqrt(target * target + mean_square_step / 12);
    const double standard_error = expected / std::sqrt(2 * n);
    EXPECT_NEAR(record.after().std(), expected, 6 * standard_error);
    EXPECT_NEAR(record.after().mean(), 0, 6 * target / std::sqrt(n));
    std::cout << "[ measured ] bits " << c.bits << ", block " << c.block_size << ", zero points " << c.zero_points
              << ", old scale " << c.old_scale << ": std " << record.after().std() << " vs " << expected << " = "
              << (record.after().std() - expected) / standard_error << " standard errors\n";
  }
}

TEST(BlockwiseRequantize, ListsAGIdxWeightWithTheReason) {
  onnx::ModelProto model = NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInput(graph, "x", {1, 32});
  onnx::TensorProto* b = AddInitializer(graph, "w", {4, 1, 16}, onnx::TensorProto::UINT8);
  b->set_raw_data(std::string(64, '\x88'));
  AddInitializer(graph, "w_scales", {4, 1});
  onnx::TensorProto* g_idx = AddInitializer(graph, "g_idx", {32}, onnx::TensorProto::INT32);
  g_idx->set_raw_data(std::string(128, '\0'));
  onnx::NodeProto* node = AddNode(graph, "MatMulNBits", {"x", "w", "w_scales", "", "g_idx"}, {"y"});
  node->set_domain("com.microsoft");
  SetIntAttribute(*node, "K", 32);
  SetIntAttribute(*node, "N", 4);
  SetIntAttribute(*node, "bits", 4);
  SetIntAttribute(*node, "block_size", 32);
  const onnx::ModelProto original = model;
  const proto::ReinitReport report = ReinitOk(model, Requantizing(2, kSeed));
  EXPECT_EQ(report.requantized_size(), 0);
  const proto::SkippedTensor* skipped = FindSkipped(report, "w");
  ASSERT_NE(skipped, nullptr);
  EXPECT_THAT(skipped->reason(), HasSubstr("g_idx"));
  EXPECT_EQ(model.SerializeAsString(), original.SerializeAsString());
}

}  // namespace
}  // namespace onnx_reinit
