// ONNX Runtime's fused and contrib ops (op_table.h rows), on fixtures built by their specs
// (testdata/generate_contrib_models.py) and saved by ORT's own optimizer
// (testdata/generate_ort_optimized.js): every learned tensor's role and fans against the spec, the
// std drawn against the scheme's, and everything else left byte for byte.
#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/roles.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using testing::FindInitializer;
using testing::FindUse;
using testing::LoadTestdata;
using testing::ReadValues;

// What the op's spec says a tensor is; fans 0 where the role has none.
struct Expected {
  Role role;
  int64_t fan_in = 0, fan_out = 0;
};

void ExpectRolesAndFans(const std::string& fixture, const std::map<std::string, Expected>& expected) {
  onnx::ModelProto model = LoadTestdata(fixture);
  const GraphAnalysis analysis = AnalyzeGraph(model);
  for (const auto& [name, want] : expected) {
    const TensorUse& use = FindUse(analysis, name);
    EXPECT_EQ(RoleName(use.role), RoleName(want.role)) << fixture << " " << name << ": " << use.reason;
    if (want.fan_in == 0 && want.fan_out == 0) continue;
    ASSERT_TRUE(use.fans.has_value()) << name;
    EXPECT_EQ(use.fans->fan_in, want.fan_in) << name;
    if (use.role != Role::kBias) {
      EXPECT_EQ(use.fans->fan_out, want.fan_out) << name;
    }
  }
}

double Std(const std::vector<double>& values) {
  double mean = 0, squares = 0;
  for (double v : values) mean += v / values.size();
  for (double v : values) squares += (v - mean) * (v - mean);
  return std::sqrt(squares / values.size());
}

// The sample std of n normal draws is within 6 standard errors (relative 1/sqrt(2n)) of sigma.
void ExpectStd(const std::vector<double>& values, double sigma, const std::string& what) {
  EXPECT_NEAR(Std(values), sigma, sigma * 6 / std::sqrt(2.0 * values.size())) << what;
}

// Re-initializes with He and checks every tensor: weights He-distributed with their fans,
// embeddings N(0, 1), biases and norm biases zeros, norm scales ones, the rest unchanged.
void ExpectHeDefaults(const std::string& fixture) {
  onnx::ModelProto before = LoadTestdata(fixture);
  onnx::ModelProto model = before;
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  ASSERT_TRUE(Reinitialize(model, options).ok());
  const GraphAnalysis analysis = AnalyzeGraph(before);
  for (const TensorUse& use : analysis.tensors) {
    onnx::TensorProto* after = FindInitializer(model, use.name);
    ASSERT_NE(after, nullptr) << use.name;
    const std::vector<double> values = ReadValues(*after);
    switch (use.role) {
      case Role::kWeight: ExpectStd(values, std::sqrt(2.0 / use.fans->fan_in), fixture + " " + use.name); break;
      case Role::kEmbedding: ExpectStd(values, 1.0, fixture + " " + use.name); break;
      case Role::kBias:
      case Role::kNormBias: EXPECT_THAT(values, ::testing::Each(0.0)) << use.name; break;
      case Role::kNormScale: EXPECT_THAT(values, ::testing::Each(1.0)) << use.name; break;
      default:
        EXPECT_EQ(after->SerializeAsString(), FindInitializer(before, use.name)->SerializeAsString())
            << fixture << " " << use.name << " (" << use.reason << ") changed";
    }
  }
  for (int n = 0; n < model.graph().node_size(); ++n) {
    EXPECT_EQ(model.graph().node(n).SerializeAsString(), before.graph().node(n).SerializeAsString());
  }
}

TEST(ContribOps, BertLayerAsOrtsTransformerOptimizerWritesIt) {
  ExpectRolesAndFans("ort_contrib_bert.onnx",
                     {
                         // EmbedLayerNormalization: tables [V, H] as nn.Embedding (fan_in = H), then its LayerNorm.
                         {"word_embedding", {Role::kEmbedding, 32, 16}},
                         {"position_embedding", {Role::kEmbedding, 32, 4}},
                         {"segment_embedding", {Role::kEmbedding, 32, 2}},
                         {"emb_gamma", {Role::kNormScale}},
                         {"emb_beta", {Role::kNormBias}},
                         // Attention: weights [in, 3 * hidden], each of Q, K, V a [32, 32] layer; bias of fan_in 32.
                         {"qkv_weight", {Role::kWeight, 32, 32}},
                         {"qkv_bias", {Role::kBias, 32}},
                         // SkipLayerNormalization's bias is the dense MatMul's (fan_in 32 and 64).
                         {"attn_out_bias", {Role::kBias, 32}},
                         {"ln1_gamma", {Role::kNormScale}},
                         {"ln1_beta", {Role::kNormBias}},
                         {"ffn_in_bias", {Role::kBias, 32}},  // BiasGelu
                         {"ffn_out_weight", {Role::kWeight, 64, 32}},
                         {"ffn_out_bias", {Role::kBias, 64}},
                         {"head_bias", {Role::kBias, 32}},           // FastGelu
                         {"qkv_packed_bias", {Role::kBias, 32}},     // MultiHeadAttention, after the q MatMul
                         {"fused_weight", {Role::kWeight, 32, 16}},  // FusedMatMul B [N, K] with transB=1
                         {"rms_scale", {Role::kNormScale}},          // SimplifiedLayerNormalization, default domain
                         {"skip_rms_gamma", {Role::kNormScale}},
                         {"skip_rms_bias", {Role::kBias, 32}},  // after the FusedMatMul
                     });
  ExpectHeDefaults("ort_contrib_bert.onnx");
}

TEST(ContribOps, AttentionPartsHaveTheFansOfQkvHiddenSizes) {
  onnx::ModelProto model = LoadTestdata("ort_contrib_attention_sizes.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TensorUse& weight = FindUse(analysis, "qkv_weight");
  ASSERT_EQ(weight.parts.size(), 3u);
  EXPECT_EQ(weight.parts[2].begin, 32);
  EXPECT_EQ(weight.parts[2].size, 8);
  EXPECT_EQ(weight.parts[2].fans, (Fans{16, 8}));
  // Xavier: std sqrt(2 / (16 + 16)) for Q and K, sqrt(2 / (16 + 8)) for the narrower V.
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kXavierNormal;
  ASSERT_TRUE(Reinitialize(model, options).ok());
  const std::vector<double> values = ReadValues(*FindInitializer(model, "qkv_weight"));
  std::vector<double> qk, v;
  for (size_t e = 0; e < values.size(); ++e) (e % 40 < 32 ? qk : v).push_back(values[e]);
  ExpectStd(qk, std::sqrt(2.0 / 32), "q and k parts");
  ExpectStd(v, std::sqrt(2.0 / 24), "v part");
}

TEST(ContribOps, LlmLayerAsTheGenaiBuilderWritesIt) {
  ExpectRolesAndFans("ort_contrib_llm.onnx", {
                                                 {"input_norm", {Role::kNormScale}},
                                                 {"q_proj", {Role::kWeight, 64, 64}},
                                                 {"post_norm", {Role::kNormScale}},
                                                 {"gemm_weight", {Role::kWeight, 64, 64}},
                                                 {"gemm_bias", {Role::kBias, 64}},
                                                 {"conv_weight", {Role::kWeight, 64, 8}},
                                                 {"conv_bias", {Role::kBias, 64}},
                                             });
  onnx::ModelProto model = LoadTestdata("ort_contrib_llm.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  for (const char* cache : {"cos_cache", "sin_cache"}) {
    const TensorUse& use = FindUse(analysis, cache);
    EXPECT_EQ(use.role, Role::kOther) << cache;
    EXPECT_TRUE(use.fixed) << cache;
    EXPECT_THAT(use.reason, ::testing::HasSubstr("cos/sin cache")) << cache;
  }
  ExpectHeDefaults("ort_contrib_llm.onnx");
}

TEST(ContribOps, CudaOnlyOpsNhwcConvGroupNormBiasAddBiasSplitGelu) {
  ExpectRolesAndFans("ort_contrib_cuda_noort.onnx", {
                                                        // NhwcConv W [M, kH, kW, C]: 8 * 9 in, 16 * 9 out.
                                                        {"nhwc_weight", {Role::kWeight, 72, 144}},
                                                        {"nhwc_bias", {Role::kBias, 72}},
                                                        {"gn_gamma", {Role::kNormScale}},
                                                        {"gn_beta", {Role::kNormBias}},
                                                        {"add_bias", {Role::kBias}},
                                                        {"split_bias", {Role::kBias}},
                                                    });
  ExpectHeDefaults("ort_contrib_cuda_noort.onnx");
}

// The models ORT's optimizer saves (FusedConv, FusedMatMul, SkipLayerNormalization, Gemm) hold the
// learned tensors of the model it read: each has the role and fans it has there.
void ExpectSameRolesAsTheExport(const std::string& optimized, const std::string& exported) {
  onnx::ModelProto original = LoadTestdata(exported);
  onnx::ModelProto model = LoadTestdata(optimized);
  const GraphAnalysis reference = AnalyzeGraph(original);
  const GraphAnalysis analysis = AnalyzeGraph(model);
  int learned = 0;
  for (const TensorUse& use : analysis.tensors) {
    if (use.role == Role::kOther || use.role == Role::kParameter) continue;
    ++learned;
    const auto same = std::find_if(reference.tensors.begin(), reference.tensors.end(),
                                   [&](const TensorUse& u) { return u.name == use.name; });
    if (same == reference.tensors.end()) continue;  // a tensor the optimizer made (a fused one)
    EXPECT_EQ(RoleName(use.role), RoleName(same->role)) << optimized << " " << use.name;
    EXPECT_EQ(use.fans.has_value(), same->fans.has_value()) << use.name;
    if (use.fans && same->fans && use.role == Role::kWeight) {
      EXPECT_EQ(*use.fans, *same->fans) << use.name;
    }
  }
  EXPECT_GT(learned, 0);
  ExpectHeDefaults(optimized);
}

TEST(ContribOps, CnnSavedByOrtsExtendedOptimizer) {
  onnx::ModelProto model = LoadTestdata("ort_extended_torch_cnn.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  int fused_conv_tensors = 0;
  for (const TensorUse& use : analysis.tensors) {
    fused_conv_tensors += use.reader != nullptr && use.reader->op_type() == "FusedConv" && use.role != Role::kOther;
  }
  EXPECT_EQ(fused_conv_tensors, 2);  // its weight and bias
  ExpectSameRolesAsTheExport("ort_extended_torch_cnn.onnx", "torch_cnn.onnx");
}

TEST(ContribOps, TransformerSavedByOrtsOptimizer) {
  ExpectSameRolesAsTheExport("ort_extended_torch_transformer.onnx", "torch_transformer.onnx");
  ExpectSameRolesAsTheExport("ort_all_torch_transformer.onnx", "torch_transformer.onnx");
}

// QGemm's B has its per-column scales along the axis of N: axis 0 of [N, K] with transB = 1, axis
// 1 of [K, N] without; its int32 bias C is requantized in steps of a_scale (input 1) * b_scale.
TEST(ContribOps, QGemmWeightsAndBiasesAreRequantizedAlongTheColumnsOfB) {
  onnx::ModelProto model = LoadTestdata("ort_contrib_qgemm.onnx");
  ReinitOptions options;
  options.policy.scheme.kind = SchemeKind::kHeNormal;
  options.requantize = true;
  auto report = Reinitialize(model, options);
  ASSERT_TRUE(report.ok()) << report.status();
  std::map<std::string, const proto::RequantizedTensor*> by_name;
  for (const proto::RequantizedTensor& record : report->requantized()) by_name[record.name()] = &record;
  ASSERT_EQ(by_name.size(), 4u);
  EXPECT_EQ(by_name["fc1_B"]->axis(), 0);
  EXPECT_EQ(by_name["fc1_B"]->fan_in(), 16);
  EXPECT_EQ(by_name["fc2_B"]->axis(), 1);
  EXPECT_EQ(by_name["fc2_B"]->fan_in(), 8);
  const std::vector<double> a_scale = ReadValues(*FindInitializer(model, "a_scale"));
  const std::vector<double> h_scale = ReadValues(*FindInitializer(model, "h_scale"));
  for (const auto& [bias, weight, activation] :
       {std::make_tuple("fc1_C", "fc1_B", a_scale[0]), std::make_tuple("fc2_C", "fc2_B", h_scale[0])}) {
    const proto::RequantizedTensor& record = *by_name[bias];
    ASSERT_EQ(record.scales_size(), by_name[weight]->scales_size()) << bias;
    for (int g = 0; g < record.scales_size(); ++g) {
      EXPECT_DOUBLE_EQ(record.scales(g), activation * by_name[weight]->scales(g)) << bias << " " << g;
    }
  }
  // a_scale and h_scale were calibrated on the old weights (the QuantizeLinear's is static).
  EXPECT_THAT(report->warnings(),
              ::testing::Contains(::testing::HasSubstr("requantized 2 tensors; activation scales")));
}

}  // namespace
}  // namespace onnx_reinit
