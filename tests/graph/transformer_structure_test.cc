// The transformer structure found in real torch.onnx.export output (testdata/
// generate_transformer_models.py), against the structure of the torch modules the generator wrote
// into testdata/transformer_models.expected.json: blocks, residual Adds, and each kind of
// projection, with and without constant folding.
#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/graph/transformer_structure.h"
#include "onnx_reinit/roles.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

// The structure of `fixture`, or for ONNX Runtime's optimization of one (ort_extended_NAME.onnx,
// generate_ort_optimized.js), of NAME: optimizing fuses ops, not blocks.
google::protobuf::Struct ExpectedStructure(std::string fixture) {
  constexpr absl::string_view kOptimized = "ort_extended_";
  if (absl::StartsWith(fixture, kOptimized)) fixture = fixture.substr(kOptimized.size());
  std::ifstream in(absl::StrCat(TESTDATA_DIR, "/transformer_models.expected.json"));
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  google::protobuf::Struct all;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &all).ok());
  return all.fields().at(fixture).struct_value().fields().at("structure").struct_value();
}

int Field(const google::protobuf::Struct& s, const std::string& key) {
  const auto it = s.fields().find(key);
  return it == s.fields().end() ? 0 : static_cast<int>(it->second.number_value());
}

int CrossAttentionBlocks(const TransformerStructure& structure) {
  return static_cast<int>(
      std::count_if(structure.blocks.begin(), structure.blocks.end(),
                    [](const TransformerBlock& b) { return b.cross_attention_residual != nullptr; }));
}

class TransformerFixtures : public ::testing::TestWithParam<const char*> {};

TEST_P(TransformerFixtures, FindsTheBlocksAndProjectionsTheTorchModuleHas) {
  onnx::ModelProto model = testing::LoadTestdata(GetParam());
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TransformerStructure structure = FindTransformerStructure(analysis);
  const google::protobuf::Struct expected = ExpectedStructure(GetParam());
  EXPECT_EQ(structure.doubt, "");
  EXPECT_EQ(static_cast<int>(structure.blocks.size()), Field(expected, "blocks"));
  EXPECT_EQ(static_cast<int>(structure.residual_adds.size()), Field(expected, "residual_adds"));
  EXPECT_EQ(structure.Count(Projection::kAttentionOutput), Field(expected, "attention_outputs"));
  EXPECT_EQ(structure.Count(Projection::kMlpDown), Field(expected, "mlp_downs"));
  EXPECT_EQ(structure.Count(Projection::kMlpUp), Field(expected, "mlp_ups"));
  EXPECT_EQ(CrossAttentionBlocks(structure), Field(expected, "cross_attentions"));
  const auto& qkv = expected.fields().at("qkv").list_value().values();
  EXPECT_EQ(structure.Count(Projection::kQuery), static_cast<int>(qkv[0].number_value()));
  EXPECT_EQ(structure.Count(Projection::kKey), static_cast<int>(qkv[1].number_value()));
  EXPECT_EQ(structure.Count(Projection::kValue), static_cast<int>(qkv[2].number_value()));
  EXPECT_EQ(structure.Count(Projection::kPackedQkv), static_cast<int>(qkv[3].number_value()));
}

INSTANTIATE_TEST_SUITE_P(Exports, TransformerFixtures,
                         ::testing::Values("torch_bert.onnx", "torch_bert_nofold.onnx", "torch_gpt2.onnx",
                                           "torch_gpt2_nofold.onnx", "torch_llama.onnx", "torch_llama_nofold.onnx",
                                           "torch_megatron.onnx", "torch_megatron_nofold.onnx", "torch_t5.onnx",
                                           "torch_t5_nofold.onnx", "torch_t5_v1_1.onnx", "torch_t5_v1_1_nofold.onnx"));

// ONNX Runtime's optimizer fuses residual Adds into SkipLayerNormalization (every one of BERT's
// post-LN residuals, the last of a pre-LN stack with its final norm), MatMul + Add into Gemm and
// the score MatMul into FusedMatMul: the blocks are the same.
INSTANTIATE_TEST_SUITE_P(OptimizedByOnnxRuntime, TransformerFixtures,
                         ::testing::Values("ort_extended_torch_bert.onnx", "ort_extended_torch_gpt2.onnx",
                                           "ort_extended_torch_llama.onnx", "ort_extended_torch_megatron.onnx",
                                           "ort_extended_torch_t5.onnx"));

// T5's factors read d_model, d_kv, n_heads and d_ff: from the head-split Reshape and the weights'
// widths, the same for every projection of every attention (cross-attention too) as in the module.
class T5Fixtures : public ::testing::TestWithParam<const char*> {};

TEST_P(T5Fixtures, AttentionWidthsRelativeBiasesAndLmHeadAreTheModules) {
  onnx::ModelProto model = testing::LoadTestdata(GetParam());
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TransformerStructure structure = FindTransformerStructure(analysis);
  const google::protobuf::Struct widths = ExpectedStructure(GetParam()).fields().at("attention_widths").struct_value();
  ASSERT_EQ(structure.doubt, "");
  for (const auto& [name, site] : structure.projections) {
    SCOPED_TRACE(name);
    switch (site.projection) {
      case Projection::kQuery:
      case Projection::kKey:
      case Projection::kValue:
      case Projection::kMlpUp: EXPECT_EQ(site.fan_in, Field(widths, "d_model")); break;
      case Projection::kMlpDown: EXPECT_EQ(site.fan_in, Field(widths, "d_ff")); break;
      default: break;
    }
    if (site.projection != Projection::kMlpUp && site.projection != Projection::kMlpDown) {
      EXPECT_EQ(site.heads, Field(widths, "n_heads"));
      EXPECT_EQ(site.head_size, Field(widths, "d_kv"));
    }
  }
  EXPECT_THAT(
      structure.position_biases,
      ::testing::UnorderedElementsAre(
          ::testing::Pair("encoder.block.0.self_attention.relative_attention_bias.weight", Field(widths, "d_model")),
          ::testing::Pair("decoder.block.0.self_attention.relative_attention_bias.weight", Field(widths, "d_model"))));
  EXPECT_EQ(structure.lm_heads.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Exports, T5Fixtures,
                         ::testing::Values("torch_t5.onnx", "torch_t5_nofold.onnx", "torch_t5_v1_1.onnx",
                                           "torch_t5_v1_1_nofold.onnx"));

TEST(TransformerStructure, BlocksAreInGraphOrderWithTheirProjections) {
  onnx::ModelProto model = testing::LoadTestdata("torch_llama_nofold.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TransformerStructure structure = FindTransformerStructure(analysis);
  ASSERT_EQ(structure.blocks.size(), 2u);
  EXPECT_EQ(structure.blocks[0].attention_residual->name(), "/layers.0/Add_2");
  const auto site = [&](const std::string& name) {
    const ProjectionSite& s = structure.projections.at(name);
    return absl::StrCat(ProjectionName(s.projection), "@", s.block);
  };
  EXPECT_EQ(site("layers.0.q_proj.weight"), "q@0");
  EXPECT_EQ(site("layers.1.k_proj.weight"), "k@1");
  EXPECT_EQ(site("layers.1.v_proj.weight"), "v@1");
  EXPECT_EQ(site("layers.0.o_proj.weight"), "attention output@0");
  EXPECT_EQ(site("layers.1.gate_proj.weight"), "mlp up@1");
  EXPECT_EQ(site("layers.1.down_proj.weight"), "mlp down@1");
  EXPECT_EQ(structure.projections.count("lm_head.weight"), 0u);  // after the blocks
}

// nn.TransformerEncoderLayer: one packed in_proj MatMul Sliced into q, k and v, and an out_proj Gemm
// whose output is reshaped and transposed back before the residual Add.
TEST(TransformerStructure, TorchEncoderLayerIsOneBlockWithAPackedQkv) {
  onnx::ModelProto model = testing::LoadTestdata("torch_transformer.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TransformerStructure structure = FindTransformerStructure(analysis);
  EXPECT_EQ(structure.doubt, "");
  EXPECT_EQ(structure.blocks.size(), 1u);
  EXPECT_EQ(structure.projections.at("onnx::MatMul_127").projection, Projection::kPackedQkv);
  EXPECT_EQ(structure.projections.at("layer.self_attn.out_proj.weight").projection, Projection::kAttentionOutput);
  EXPECT_EQ(structure.projections.at("onnx::MatMul_147").projection, Projection::kMlpUp);
  EXPECT_EQ(structure.projections.at("onnx::MatMul_148").projection, Projection::kMlpDown);
}

TEST(TransformerStructure, ResidualMlpsWithoutAttentionAreNoBlocksAndSayWhy) {
  onnx::ModelProto model = testing::LoadTestdata("torch_functions_flat.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_THAT(FindTransformerStructure(analysis).doubt, ::testing::HasSubstr("has no attention sublayer before it"));
}

TEST(TransformerStructure, FoldedPositionLookupIsAPositionalTable) {
  onnx::ModelProto model = testing::LoadTestdata("torch_bert.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  EXPECT_THAT(FindTransformerStructure(analysis).positional_tables,
              ::testing::ElementsAre("position_embeddings.weight"));
}

TEST(TransformerStructure, AConvNetHasNoBlocksAndSaysWhy) {
  onnx::ModelProto model = testing::LoadTestdata("torch_cnn.onnx");
  const GraphAnalysis analysis = AnalyzeGraph(model);
  const TransformerStructure structure = FindTransformerStructure(analysis);
  EXPECT_TRUE(structure.blocks.empty());
  EXPECT_EQ(structure.doubt, "no residual Add whose branch ends in a linear projection");
}

}  // namespace
}  // namespace onnx_reinit
