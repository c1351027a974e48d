#include "onnx_reinit/requantize.h"

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/rewrite.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/reinit_report.h"
#include "tests/testing/temp_dir.h"

namespace onnx_reinit {
namespace {

using testing::AddInitializer;
using testing::AddInput;
using testing::AddNode;
using ::testing::Contains;
using ::testing::ElementsAre;
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

// The values of an int8, uint8 or int32 tensor, from raw_data or int32_data.
std::vector<int64_t> Integers(const onnx::TensorProto& tensor) {
  std::vector<int64_t> values;
  if (!tensor.has_raw_data()) return std::vector<int64_t>(tensor.int32_data().begin(), tensor.int32_data().end());
  const std::string& raw = tensor.raw_data();
  if (tensor.data_type() == onnx::TensorProto::INT32) {
    for (size_t k = 0; k < raw.size(); k += 4) {
      int32_t value;
      std::memcpy(&value, raw.data() + k, 4);
      values.push_back(value);
    }
  } else {
    for (char c : raw) {
      values.push_back(tensor.data_type() == onnx::TensorProto::INT8 ? static_cast<int8_t>(c)
                                                                     : static_cast<uint8_t>(c));
    }
  }
  return values;
}

// The group (scale index) of each element of a tensor of `dims`, per tensor (axis -1) or per axis.
int64_t GroupOf(const std::vector<int64_t>& dims, int64_t axis, int64_t element) {
  if (axis < 0) return 0;
  int64_t inner = 1;
  for (size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
  return (element / inner) % dims[axis];
}

// An int8 or uint8 initializer in raw_data, every value `value`.
void AddBytes(onnx::GraphProto& graph, const std::string& name, const std::vector<int64_t>& dims, int32_t type,
              char value) {
  onnx::TensorProto* tensor = AddInitializer(graph, name, dims, type);
  int64_t count = 1;
  for (int64_t dim : dims) count *= dim;
  tensor->set_raw_data(std::string(static_cast<size_t>(count), value));
}

std::vector<int64_t> Dims(const onnx::TensorProto& tensor) { return {tensor.dims().begin(), tensor.dims().end()}; }

TEST(Requantize, RewritesEveryWeightAndBiasOfTheQdqFixture) {
  onnx::ModelProto model = LoadTestdata("quantized_qdq.onnx");
  const proto::ReinitReport report = ReinitOk(model, Requantizing());
  std::vector<std::string> names;
  for (const proto::RequantizedTensor& record : report.requantized()) names.push_back(record.name());
  EXPECT_THAT(names,
              ElementsAre("conv.weight_quantized", "conv.bias_quantized", "fc.weight_quantized", "fc.bias_quantized",
                          "onnx::MatMul_20_quantized", "proj.weight_quantized", "head.weight_quantized"));
  for (const proto::SkippedTensor& skipped : report.skipped()) {
    EXPECT_NE(skipped.role(), "quantized") << skipped.name();
    // The rewritten scales are not listed as left unchanged; activation scales are.
    EXPECT_EQ(skipped.name().find("weight_scale"), std::string::npos) << skipped.name();
    EXPECT_EQ(skipped.name().find("bias_quantized_scale"), std::string::npos) << skipped.name();
  }
  EXPECT_EQ(FindSkipped(report, "input_scale")->role(), "other");
  EXPECT_THAT(report.warnings(), Contains(HasSubstr("calibrated on the old weights")));
}

TEST(Requantize, UsesTheFansOfTheOpAfterDequantizeLinearAndItsViews) {
  onnx::ModelProto model = LoadTestdata("quantized_qdq.onnx");
  const proto::ReinitReport report = ReinitOk(model, Requantizing());
  const proto::RequantizedTensor& conv = *FindRequantized(report, "conv.weight_quantized");
  EXPECT_EQ(conv.op_type(), "Conv");
  EXPECT_EQ(conv.fan_in(), 27);
  EXPECT_EQ(conv.axis(), 0);
  EXPECT_DOUBLE_EQ(conv.distribution().std(), std::sqrt(2.0 / 27));
  const proto::RequantizedTensor& gemm = *FindRequantized(report, "fc.weight_quantized");  // [10, 8], transB=1
  EXPECT_EQ(gemm.fan_in(), 8);
  EXPECT_EQ(gemm.axis(), -1);
  const proto::RequantizedTensor& proj = *FindRequantized(report, "proj.weight_quantized");  // [4, 6] -> Transpose
  EXPECT_EQ(proj.via(), "DequantizeLinear -> Transpose");
  EXPECT_EQ(proj.fan_in(), 6);
  EXPECT_EQ(proj.fan_out(), 4);
}

// Every scale group's largest |q - zero_point| is exactly its number of levels (the largest |w|
// lands on it), and the scale tensors hold the recorded scales.
TEST(Requantize, ScalesAreTheLargestMagnitudeOverTheLevels) {
  onnx::ModelProto model = LoadTestdata("quantized_qdq.onnx");
  const proto::ReinitReport report = ReinitOk(model, Requantizing());
  for (const std::string name : {"conv.weight", "fc.weight", "onnx::MatMul_20", "proj.weight", "head.weight"}) {
    SCOPED_TRACE(name);
    const proto::RequantizedTensor& record = *FindRequantized(report, name + "_quantized");
    onnx::TensorProto& weight = *FindInitializer(model, name + "_quantized");
    const std::vector<int64_t> q = Integers(weight);
    std::vector<int64_t> largest(record.scales_size(), 0);
    for (size_t e = 0; e < q.size(); ++e) {
      const int64_t g = GroupOf(Dims(weight), record.axis(), static_cast<int64_t>(e));
      largest[g] = std::max<int64_t>(largest[g], std::abs(q[e] - record.zero_points(g)));
    }
    EXPECT_THAT(largest, ::testing::ElementsAreArray(record.levels()));
    const std::vector<double> scales = ReadValues(*FindInitializer(model, name + "_scale"));
    EXPECT_THAT(scales, ::testing::ElementsAreArray(record.scales()));
  }
  EXPECT_THAT(FindRequantized(report, "conv.weight_quantized")->levels(), Contains(127));
  // uint8 with zero point 120: the symmetric range about it is 120 - 0 = 120 levels each way.
  EXPECT_THAT(FindRequantized(report, "head.weight_quantized")->levels(), ElementsAre(120));
}

// Independent reference: the float weight of the same name, shape and op that plain
// re-initialization writes, quantized by hand with max|w| / 127 per output channel.
TEST(Requantize, EqualsTheFloatWeightOfTheSameNameQuantizedSymmetrically) {
  onnx::ModelProto reference = NewModel();
  onnx::GraphProto& graph = *reference.mutable_graph();
  AddInput(graph, "x", {1, 3, 8, 8});
  AddInitializer(graph, "conv.weight_quantized", {8, 3, 3, 3});
  AddNode(graph, "Conv", {"x", "conv.weight_quantized"}, {"y"});
  ReinitOptions float_options = Requantizing();
  float_options.requantize = false;
  ReinitOk(reference, float_options);
  const std::vector<double> w = ReadValues(*FindInitializer(reference, "conv.weight_quantized"));

  onnx::ModelProto model = LoadTestdata("quantized_qdq.onnx");
  ReinitOk(model, Requantizing());
  const std::vector<int64_t> q = Integers(*FindInitializer(model, "conv.weight_quantized"));
  const std::vector<double> scales = ReadValues(*FindInitializer(model, "conv.weight_scale"));
  ASSERT_EQ(q.size(), w.size());
  for (int channel = 0; channel < 8; ++channel) {
    double largest = 0;
    for (int k = 0; k < 27; ++k) largest = std::max(largest, std::abs(w[channel * 27 + k]));
    const float scale = static_cast<float>(largest / 127);
    EXPECT_EQ(scales[channel], scale) << channel;
    for (int k = 0; k < 27; ++k) {
      EXPECT_EQ(q[channel * 27 + k], std::nearbyint(w[channel * 27 + k] / scale)) << channel << "," << k;
    }
  }
}

TEST(Requantize, KeepsZeroPointsDtypesShapesAndStorage) {
  const onnx::ModelProto original = LoadTestdata("quantized_qdq.onnx");
  onnx::ModelProto model = original;
  ReinitOk(model, Requantizing());
  // The 5 weights, their scales, the 2 biases and their scales change; nothing else does.
  std::vector<std::string> changed;
  for (int i = 0; i < original.graph().initializer_size(); ++i) {
    const onnx::TensorProto& before = original.graph().initializer(i);
    const onnx::TensorProto& after = model.graph().initializer(i);
    SCOPED_TRACE(before.name());
    EXPECT_EQ(after.data_type(), before.data_type());
    EXPECT_EQ(Dims(after), Dims(before));
    EXPECT_EQ(after.has_raw_data(), before.has_raw_data());
    EXPECT_EQ(after.int32_data_size(), before.int32_data_size());
    EXPECT_EQ(after.raw_data().size(), before.raw_data().size());
    if (after.SerializeAsString() != before.SerializeAsString()) changed.push_back(before.name());
  }
  EXPECT_THAT(changed, ::testing::UnorderedElementsAre(
                           "conv.weight_quantized", "conv.weight_scale", "conv.bias_quantized",
                           "conv.bias_quantized_scale", "fc.weight_quantized", "fc.weight_scale", "fc.bias_quantized",
                           "fc.bias_quantized_scale", "onnx::MatMul_20_quantized", "onnx::MatMul_20_scale",
                           "proj.weight_quantized", "proj.weight_scale", "head.weight_quantized", "head.weight_scale"));
  EXPECT_EQ(FindInitializer(model, "head.weight_quantized")->int32_data_size(), 20);
}

// The dequantized values have the scheme's std, plus the rounding error's variance step^2 / 12,
// within 6 standard errors of a sample std (1/sqrt(2n) relative for normal values, 0.447/sqrt(n)
// for uniform ones).
TEST(Requantize, DequantizedStdIsTheSchemesTargetStd) {
  for (const SchemeKind scheme : {SchemeKind::kHeNormal, SchemeKind::kXavierUniform}) {
    SCOPED_TRACE(SchemeName(scheme));
    onnx::ModelProto model = NewModel();
    onnx::GraphProto& graph = *model.mutable_graph();
    AddInput(graph, "x", {4, 256});
    AddBytes(graph, "w_q", {256, 512}, onnx::TensorProto::INT8, 1);
    AddInitializer(graph, "w_scale", {512});
    AddBytes(graph, "w_zero_point", {512}, onnx::TensorProto::INT8, 0);
    SetIntAttribute(*AddNode(graph, "DequantizeLinear", {"w_q", "w_scale", "w_zero_point"}, {"w"}), "axis", 1);
    AddNode(graph, "MatMul", {"x", "w"}, {"y"});
    const proto::ReinitReport report = ReinitOk(model, Requantizing(2, 7, scheme));
    ASSERT_EQ(report.requantized_size(), 1);
    const proto::RequantizedTensor& record = report.requantized(0);
    const double n = 256.0 * 512;
    const bool normal = scheme == SchemeKind::kHeNormal;
    const double target = normal ? std::sqrt(2.0 / 256) : std::sqrt(2.0 / (256 + 512));
    double mean_square_step = 0;
    for (double s : record.scales()) mean_square_step += s * s / record.scales_size();
    const double expected = std::sqrt(target * target + mean_square_step / 12);
    const double relative_error = normal ? 1 / std::sqrt(2 * n) : 0.447 / std::sqrt(n);
    EXPECT_NEAR(record.after().std(), expected, 6 * relative_error * expected);
    EXPECT_NEAR(record.after().mean(), 0, 6 * target / std::sqrt(n));
    // The dequantized values in the model are those of the record.
    const std::vector<int64_t> q = Integers(*FindInitializer(model, "w_q"));
    const std::vector<double> scales = ReadValues(*FindInitializer(model, "w_scale"));
    double sum = 0, sum2 = 0;
    for (size_t e = 0; e < q.size(); ++e) {
      const double value = q[e] * scales[e % 512];
      sum += value;
      sum2 += value * value;
    }
    EXPECT_NEAR(std::sqrt(sum2 / n - (sum / n) * (sum / n)), record.after().std(), 1e-9);
  }
}

TEST(Requantize, SameBytesForAnyThreadCount) {
  onnx::ModelProto one = LoadTestdata("quantized_qdq.onnx");
  onnx::ModelProto seven = one;
  ReinitOk(one, Requantizing(1));
  ReinitOk(seven, Requantizing(7));
  EXPECT_EQ(one.SerializeAsString(), seven.SerializeAsString());
}

TEST(Requantize, WithoutTheFlagQuantizedTensorsAreListedAndUnchanged) {
  const onnx::ModelProto original = LoadTestdata("quantized_qdq.onnx");
  onnx::ModelProto model = original;
  ReinitOptions options = Requantizing();
  options.requantize = false;
  const proto::ReinitReport report = ReinitOk(model, options);
  EXPECT_EQ(model.SerializeAsString(), original.SerializeAsString());
  EXPECT_EQ(report.requantized_size(), 0);
  EXPECT_THAT(FindSkipped(report, "conv.weight_quantized")->reason(), HasSubstr("--requantize"));
  EXPECT_THAT(FindSkipped(report, "conv.bias_quantized")->reason(), HasSubstr("quantized bias"));
}

TEST(Requantize, DryRunReportsButWritesNothing) {
  const onnx::ModelProto original = LoadTestdata("quantized_qdq.onnx");
  onnx::ModelProto model = original;
  ReinitOptions options = Requantizing();
  options.dry_run = true;
  const proto::ReinitReport dry = ReinitOk(model, options);
  EXPECT_EQ(model.SerializeAsString(), original.SerializeAsString());
  const proto::ReinitReport real = ReinitOk(model, Requantizing());
  ASSERT_EQ(dry.requantized_size(), real.requantized_size());
  for (int i = 0; i < dry.requantized_size(); ++i) {
    EXPECT_EQ(dry.requantized(i).SerializeAsString(), real.requantized(i).SerializeAsString());
  }
}

TEST(Requantize, RulesApplyAsToFloatWeights) {
  onnx::ModelProto model = LoadTestdata("quantized_qdq.onnx");
  ReinitOptions options = Requantizing();
  for (const char* text : {"name:fc\\.weight_quantized=keep", "op:MatMul=normal:std=0.05"}) {
    auto rule = ParseRule(text);
    ASSERT_TRUE(rule.ok()) << rule.status();
    options.policy.rules.push_back(*rule);
  }
  const proto::ReinitReport report = ReinitOk(model, options);
  EXPECT_THAT(FindSkipped(report, "fc.weight_quantized")->reason(), HasSubstr("--rule"));
  EXPECT_THAT(FindSkipped(report, "fc.bias_quantized")->reason(), HasSubstr("is not requantized"));
  EXPECT_DOUBLE_EQ(FindRequantized(report, "onnx::MatMul_20_quantized")->distribution().std(), 0.05);
}

TEST(Requantize, RoleQuantizedRulesMatchQuantizedWeightsAndBiases) {
  onnx::ModelProto model = LoadTestdata("quantized_qdq.onnx");
  const onnx::ModelProto original = model;
  ReinitOptions options = Requantizing();
  auto keep = ParseRule("role:quantized=keep");
  ASSERT_TRUE(keep.ok()) << keep.status();
  options.policy.rules.push_back(*keep);
  const proto::ReinitReport report = ReinitOk(model, options);
  EXPECT_EQ(report.requantized_size(), 0);
  EXPECT_THAT(FindSkipped(report, "conv.weight_quantized")->reason(), HasSubstr("--rule role:quantized=keep"));
  EXPECT_EQ(model.SerializeAsString(), original.SerializeAsString());

  ReinitOptions normal = Requantizing();
  auto rule = ParseRule("role:quantized=normal:std=0.05");
  ASSERT_TRUE(rule.ok()) << rule.status();
  normal.policy.rules.push_back(*rule);
  const proto::ReinitReport drawn = ReinitOk(model, normal);
  EXPECT_DOUBLE_EQ(FindRequantized(drawn, "conv.weight_quantized")->distribution().std(), 0.05);
  EXPECT_DOUBLE_EQ(FindRequantized(drawn, "conv.bias_quantized")->distribution().std(), 0.05);
}

// QDQ biases: int32 round(b / (x_scale * w_scale)) with the new w_scale, and their scale tensor
// x_scale * w_scale; with --bias torch the dequantized values are U(+-1/sqrt(fan_in)).
TEST(Requantize, QdqBiasFollowsTheNewWeightScale) {
  onnx::ModelProto model = LoadTestdata("quantized_qdq.onnx");
  ReinitOptions options = Requantizing();
  options.policy.bias = BiasInit::kTorch;
  const proto::ReinitReport report = ReinitOk(model, options);
  const std::vector<double> w_scales = ReadValues(*FindInitializer(model, "conv.weight_scale"));
  const std::vector<double> b_scales = ReadValues(*FindInitializer(model, "conv.bias_quantized_scale"));
  const double x_scale = ReadValues(*FindInitializer(model, "input_scale"))[0];
  const std::vector<int64_t> q = Integers(*FindInitializer(model, "conv.bias_quantized"));
  ASSERT_EQ(b_scales.size(), 8u);
  const double bound = 1 / std::sqrt(27.0);
  for (int c = 0; c < 8; ++c) {
    EXPECT_FLOAT_EQ(b_scales[c], x_scale * w_scales[c]);
    EXPECT_LE(std::abs(q[c] * b_scales[c]), bound + b_scales[c] / 2) << c;
  }
  EXPECT_EQ(FindRequantized(report, "conv.bias_quantized")->distribution().kind(), proto::Distribution::UNIFORM);
  // The default bias policy, zeros, gives zero integers.
  onnx::ModelProto zeros = LoadTestdata("quantized_qdq.onnx");
  ReinitOk(zeros, Requantizing());
  EXPECT_THAT(Integers(*FindInitializer(zeros, "fc.bias_quantized")), ::testing::Each(0));
}

TEST(Requantize, QOperatorWeightsAndTheQLinearConvBias) {
  onnx::ModelProto model = LoadTestdata("quantized_qoperator.onnx");
  ReinitOptions options = Requantizing();
  options.policy.bias = BiasInit::kTorch;
  const proto::ReinitReport report = ReinitOk(model, options);
  const proto::RequantizedTensor& conv = *FindRequantized(report, "conv_w");
  EXPECT_EQ(conv.op_type(), "QLinearConv");
  EXPECT_EQ(conv.fan_in(), 27);
  EXPECT_EQ(conv.axis(), 0);
  EXPECT_EQ(FindRequantized(report, "mm_w")->fan_in(), 8);
  EXPECT_EQ(FindRequantized(report, "mm_w")->axis(), -1);
  const std::vector<double> w_scales = ReadValues(*FindInitializer(model, "conv_w_scale"));
  const double x_scale = ReadValues(*FindInitializer(model, "x_scale"))[0];
  const proto::RequantizedTensor& bias = *FindRequantized(report, "conv_b");
  const std::vector<int64_t> q = Integers(*FindInitializer(model, "conv_b"));
  for (int c = 0; c < 8; ++c) {
    EXPECT_DOUBLE_EQ(bias.scales(c), x_scale * w_scales[c]);
    EXPECT_LE(std::abs(q[c] * bias.scales(c)), 1 / std::sqrt(27.0) + bias.scales(c) / 2) << c;
  }
  for (const char* name : {"ci_w", "mi_w"}) {
    EXPECT_THAT(FindSkipped(report, name)->reason(), HasSubstr("has no weight scale"));
  }
  EXPECT_THAT(report.warnings(), Contains(HasSubstr("left 2 quantized tensors unchanged")));
}

// A model with two DequantizeLinear weights; `shared_scale` makes them read one scale tensor.
onnx::ModelProto TwoQdqWeights(bool shared_scale, uint8_t zero_point = 128) {
  onnx::ModelProto model = NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInput(graph, "x", {2, 4});
  for (const std::string name : {"a", "b"}) {
    AddBytes(graph, name + "_q", {4, 4}, onnx::TensorProto::UINT8, 1);
    if (name == "a" || !shared_scale) AddInitializer(graph, name + "_scale", {});
    AddBytes(graph, name + "_zero_point", {}, onnx::TensorProto::UINT8, static_cast<char>(zero_point));
    AddNode(graph, "DequantizeLinear", {name + "_q", shared_scale ? "a_scale" : name + "_scale", name + "_zero_point"},
            {name + "_w"});
    AddNode(graph, "MatMul", {name == "a" ? "x" : "a_y", name + "_w"}, {name + "_y"});
  }
  return model;
}

TEST(Requantize, WarnsOnlyAboutTensorsItCouldNotRequantizeNotThoseTheUserLeftOut) {
  onnx::ModelProto model = TwoQdqWeights(/*shared_scale=*/false);
  ReinitOptions options = Requantizing();
  options.policy.rules.push_back(*ParseRule("name:a_q=keep"));
  options.exclude = *NamePattern::Compile("b_q");
  const proto::ReinitReport report = ReinitOk(model, options);
  EXPECT_THAT(FindSkipped(report, "a_q")->reason(), HasSubstr("--rule name:a_q=keep"));
  EXPECT_EQ(FindSkipped(report, "b_q")->reason(), "not selected (--only/--exclude)");
  EXPECT_THAT(report.warnings(), ::testing::Not(Contains(HasSubstr("quantized tensors unchanged"))));
}

TEST(Requantize, LeavesWeightsWithASharedScaleUnchangedAndSaysWhy) {
  onnx::ModelProto model = TwoQdqWeights(/*shared_scale=*/true);
  const onnx::ModelProto original = model;
  const proto::ReinitReport report = ReinitOk(model, Requantizing());
  EXPECT_EQ(model.SerializeAsString(), original.SerializeAsString());
  for (const char* name : {"a_q", "b_q"}) {
    EXPECT_THAT(FindSkipped(report, name)->reason(), HasSubstr("'a_scale' is also read by other nodes"));
  }
  EXPECT_THAT(report.warnings(), Contains(HasSubstr("left 2 quantized tensors unchanged")));
  // Their own scales: both requantized.
  onnx::ModelProto own = TwoQdqWeights(/*shared_scale=*/false);
  EXPECT_EQ(ReinitOk(own, Requantizing()).requantized_size(), 2);
}

TEST(Requantize, LeavesAZeroPointWithoutRoomForBothSignsUnchanged) {
  onnx::ModelProto model = TwoQdqWeights(/*shared_scale=*/false, /*zero_point=*/0);
  const proto::ReinitReport report = ReinitOk(model, Requantizing());
  EXPECT_THAT(FindSkipped(report, "a_q")->reason(), HasSubstr("zero point 0 of uint8 leaves no room"));
}

TEST(Requantize, LeavesAScaleThatIsAGraphInputUnchanged) {
  onnx::ModelProto model = TwoQdqWeights(/*shared_scale=*/false);
  AddInput(*model.mutable_graph(), "a_scale", {});
  const proto::ReinitReport report = ReinitOk(model, Requantizing());
  EXPECT_THAT(FindSkipped(report, "a_q")->reason(), HasSubstr("'a_scale' is also a graph input"));
  EXPECT_EQ(report.requantized_size(), 1);
}

class RequantizeFile : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  testing::TempDir temp_;
  std::filesystem::path dir_ = temp_.path();
};

// The file-to-file path writes what the in-memory one computes; the new scales are payloads too,
// so the in-place path (which only copies payloads of tensors it streams) must not be taken.
TEST_F(RequantizeFile, WritesWhatTheInMemoryPathComputes) {
  RewriteOptions options;
  options.reinit = Requantizing();
  auto report = ReinitializeFile(testing::TestdataPath("quantized_qdq.onnx"), Path("out.onnx"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->notes(), Contains(HasSubstr("rewrote the model in memory")));
  auto written = LoadModel(Path("out.onnx"));
  ASSERT_TRUE(written.ok()) << written.status();
  onnx::ModelProto expected = LoadTestdata("quantized_qdq.onnx");
  ReinitOk(expected, Requantizing());
  EXPECT_EQ(written->SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(report->requantized_size(), 7);
}

}  // namespace
}  // namespace onnx_reinit
