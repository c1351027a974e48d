// The transformer structure found in real torch.onnx.export output (testdata/
// generate_transformer_models.py), against the structure of the torch modules the generator wrote
// into testdata/transformer_models.expected.json: blocks, residual Adds, and each kind of
// projection, with and without constant folding.
#include <fstream>
#include <iterator>
#include <string>

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

google::protobuf::Struct ExpectedStructure(const std::string& fixture) {
  std::ifstream in(absl::StrCat(TESTDATA_DIR, "/transformer_models.expected.json"));
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  google::protobuf::Struct all;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &all).ok());
  return all.fields().at(fixture).struct_value().fields().at("structure").struct_value();
}

int Field(const google::protobuf::Struct& s, const std::string& key) {
  return static_cast<int>(s.fields().at(key).number_value());
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
  const auto& qkv = expected.fields().at("qkv").list_value().values();
  EXPECT_EQ(structure.Count(Projection::kQuery), static_cast<int>(qkv[0].number_value()));
  EXPECT_EQ(structure.Count(Projection::kKey), static_cast<int>(qkv[1].number_value()));
  EXPECT_EQ(structure.Count(Projection::kValue), static_cast<int>(qkv[2].number_value()));
  EXPECT_EQ(structure.Count(Projection::kPackedQkv), static_cast<int>(qkv[3].number_value()));
}

INSTANTIATE_TEST_SUITE_P(Exports, TransformerFixtures,
                         ::testing::Values("torch_bert.onnx", "torch_bert_nofold.onnx", "torch_gpt2.onnx",
                                           "torch_gpt2_nofold.onnx", "torch_llama.onnx", "torch_llama_nofold.onnx",
                                           "torch_megatron.onnx", "torch_megatron_nofold.onnx"));

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
