#include "onnx_reinit/html_report.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/tensor_data.h"
#include "onnx_reinit/verify.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kSide = 32;  // 1024 values: both of verify's bands above their 5% floor

SchemeOptions HeUniform() {
  SchemeOptions scheme;
  scheme.kind = SchemeKind::kHeUniform;
  return scheme;
}

// A MatMul weight drawn with he_uniform, rescaled so that its std is exactly `ratio` x the target.
onnx::ModelProto UniformWeightWithStdRatio(double ratio) {
  onnx::ModelProto model = testing::NewModel();
  testing::AddInitializer(*model.mutable_graph(), "w", {kSide, kSide});
  testing::AddNode(*model.mutable_graph(), "MatMul", {"x", "w"}, {"y"});
  ReinitOptions options;
  options.policy.scheme = HeUniform();
  EXPECT_TRUE(Reinitialize(model, options).ok());
  StatsOptions stats;
  stats.scheme = HeUniform();
  auto drawn = ComputeModelStats(model, stats);
  EXPECT_TRUE(drawn.ok());
  const double factor = ratio / drawn->tensors(0).std_ratio();
  auto values = TensorValues::Bind(*testing::FindInitializer(model, "w"), "w");
  EXPECT_TRUE(values.ok());
  for (int64_t i = 0; i < values->size(); ++i) {
    const double scaled = values->Read(i) * factor;
    values->Write(i, &scaled, 1);
  }
  return model;
}

std::string Page(onnx::ModelProto& model) {
  StatsOptions options;
  options.scheme = HeUniform();
  auto report = ComputeModelStats(model, options);
  EXPECT_TRUE(report.ok()) << report.status();
  return StatsReportToHtml(*report);
}

int64_t VerifyFailures(onnx::ModelProto& model) {
  VerifyOptions options;
  options.scheme = HeUniform();
  auto report = VerifyModel(model, options);
  EXPECT_TRUE(report.ok()) << report.status();
  return report->failed();
}

// The page marks a weight red exactly when verify fails it. For a uniform scheme verify's band is
// 1.58x narrower than a normal draw's, which the page used for every scheme: a std between the two
// bands fails verify, and must be red.
TEST(StatsReportToHtml, MarksWhatVerifyFailsWithVerifysUniformBand) {
  const double n = kSide * kSide;
  const double normal_band = 6 * std::sqrt(2.0 / n) / 2, uniform_band = 6 * std::sqrt(0.8 / n) / 2;
  ASSERT_GT(uniform_band, 0.05);

  onnx::ModelProto between = UniformWeightWithStdRatio(1 + (uniform_band + normal_band) / 2);
  EXPECT_EQ(VerifyFailures(between), 1);
  EXPECT_THAT(Page(between), HasSubstr("<tr class=\"bad\">"));

  onnx::ModelProto inside = UniformWeightWithStdRatio(1 + uniform_band / 2);
  EXPECT_EQ(VerifyFailures(inside), 0);
  EXPECT_THAT(Page(inside), Not(HasSubstr("<tr class=\"bad\">")));
}

// torch_transformer.onnx (PyTorch's TransformerEncoderLayer, opset 14) decomposes its LayerNorms
// into scalar constants: their histograms go in one collapsed group after every learned tensor's.
TEST(StatsReportToHtml, PutsFixedConstantsInOneCollapsedGroupAfterTheLearnedTensors) {
  onnx::ModelProto model = testing::LoadTestdata("torch_transformer.onnx");
  auto report = ComputeModelStats(model, {});
  ASSERT_TRUE(report.ok()) << report.status();
  int fixed = 0;
  for (const proto::TensorStats& t : report->tensors()) fixed += t.fixed();
  ASSERT_GT(fixed, 0);
  const std::string page = StatsReportToHtml(*report);
  const size_t group = page.find("<details id=\"fixed\"><summary>" + std::to_string(fixed) + " fixed constants");
  ASSERT_NE(group, std::string::npos);
  const size_t histograms_end = page.find("</section>", group);
  for (const proto::TensorStats& t : report->tensors()) {
    const size_t cell = page.find("<div class=\"hist\" data-name=\"" + t.name() + "\"");
    ASSERT_NE(cell, std::string::npos) << t.name();
    if (t.fixed()) {
      EXPECT_GT(cell, group) << t.name();
      EXPECT_LT(cell, histograms_end) << t.name();
    } else {
      EXPECT_LT(cell, group) << t.name();
    }
  }
}

TEST(ComparisonReportHtml, NamesTheFileThatCannotBeRead) {
  const std::string good = testing::TestdataPath("torch_cnn.onnx");
  const std::string bad = testing::TestdataPath("malformed/truncated.onnx");
  auto page = ComparisonReportHtml(good, bad, {});
  EXPECT_THAT(std::string(page.status().message()), ::testing::StartsWith(bad + ": not an ONNX model"));
  auto same = ComparisonReportHtml(good, good, {});
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_THAT(*same, HasSubstr("Re-initialization of " + good));
}

}  // namespace
}  // namespace onnx_reinit
