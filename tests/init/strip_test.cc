#include "onnx_reinit/strip.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/options.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/temp_dir.h"

namespace onnx_reinit {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

// One run: a fixture, the recipe it is stripped with, and the layout flags of both runs.
struct Case {
  std::string name;
  std::string fixture;  // under testdata/
  std::string recipe;   // text format
  std::string layout;   // text format: external_data, embed, size_threshold
};

std::ostream& operator<<(std::ostream& out, const Case& c) { return out << c.name; }

class StripTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    for (const char* sub : {"direct", "stripped", "materialized"}) fs::create_directory(dir_ / sub);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static proto::Recipe Parse(const std::string& text) {
    auto recipe = ParseRecipe(text, "test");
    EXPECT_TRUE(recipe.ok()) << recipe.status();
    return recipe.ok() ? *recipe : proto::Recipe();
  }

  // Copies the fixture (and its data file) into the test's folder, so that outputs land beside it.
  std::string Input(const std::string& fixture) const {
    const fs::path source = fs::path(TESTDATA_DIR) / fixture;
    const fs::path copy = dir_ / source.filename();
    fs::copy_file(source, copy);
    const fs::path data = source.string() + ".data";
    if (fs::exists(data)) fs::copy_file(data, copy.string() + ".data");
    return copy.string();
  }

  // Strips `input` with `recipe`, materializes it with `layout`, and returns the path written.
  absl::StatusOr<std::string> RoundTrip(const std::string& input, const proto::Recipe& recipe,
                                        const proto::Recipe& layout) {
    auto stripped = StripFile(input, Path("stripped/small.onnx"), recipe);
    if (!stripped.ok()) return stripped.status();
    auto options = MaterializeOptions(Path("stripped/small.onnx"), layout);
    if (!options.ok()) return options.status();
    if (!options->has_value()) return absl::InternalError("not stripped");
    auto written = ReinitializeFile(Path("stripped/small.onnx"), Path("materialized/out.onnx"), **options);
    if (!written.ok()) return written.status();
    return Path("materialized/out.onnx");
  }

  const testing::TempDir temp_;
  const fs::path dir_ = temp_.path();
};

TEST_P(StripTest, MaterializingWritesTheBytesOfADirectRun) {
  const Case& c = GetParam();
  const std::string input = Input(c.fixture);
  proto::Recipe recipe = Parse(c.recipe);
  const proto::Recipe layout = Parse(c.layout);
  proto::Recipe direct_recipe = recipe;
  direct_recipe.MergeFrom(layout);
  auto direct_options = ToRewriteOptions(direct_recipe);
  ASSERT_TRUE(direct_options.ok()) << direct_options.status();
  auto direct = ReinitializeFile(input, Path("direct/out.onnx"), *direct_options);
  ASSERT_TRUE(direct.ok()) << direct.status();

  auto materialized = RoundTrip(input, recipe, layout);
  ASSERT_TRUE(materialized.ok()) << materialized.status();
  EXPECT_EQ(Read(*materialized), Read(Path("direct/out.onnx")));
  EXPECT_EQ(fs::exists(Path("materialized/out.onnx.data")), fs::exists(Path("direct/out.onnx.data")));
  EXPECT_EQ(Read(Path("materialized/out.onnx.data")), Read(Path("direct/out.onnx.data")));
  EXPECT_FALSE(fs::exists(Path("stripped/small.onnx.data")));
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, StripTest,
    ::testing::Values(
        Case{"cnn", "torch_cnn.onnx", "scheme: 'he' seed: 3", ""},
        Case{"cnn_external_out", "torch_cnn.onnx", "scheme: 'he' seed: 3", "external_data: true size_threshold: 64"},
        Case{"transformer_rules", "torch_transformer.onnx",
             "scheme: 'xavier_uniform' seed: 11 rules: 'role:bias=normal:std=0.01' rules: 'name:.*norm.*=keep'", ""},
        Case{"lstm_gates", "torch_lstm_text.onnx", "scheme: 'torch' seed: 2 lstm_forget_bias: 1", ""},
        Case{"gru_gates", "torch_gru_text.onnx", "scheme: 'he' seed: 2 rnn_recurrence: 'scheme'", ""},
        Case{"fp16", "dtypes.onnx", "scheme: 'he' seed: 4", ""},
        Case{"bf16", "dtypes_noort.onnx", "scheme: 'he' seed: 4", ""},
        Case{"qdq_requantized", "quantized_qdq.onnx", "scheme: 'he' seed: 6 requantize: true", ""},
        Case{"qoperator_requantized", "quantized_qoperator.onnx", "scheme: 'he' seed: 6 requantize: true", ""},
        Case{"nbits_external", "external/quantized_nbits.onnx", "scheme: 'he' seed: 8 requantize: true", ""},
        Case{"nbits_external_kept", "external/quantized_nbits.onnx",
             "scheme: 'he' seed: 8 requantize: true exclude: 'head'", ""},
        Case{"nbits_external_kept_moved_out", "external/quantized_nbits.onnx",
             "scheme: 'he' seed: 8 requantize: true exclude: 'head'", "external_data: true size_threshold: 0"},
        Case{"nbits_external_embedded", "external/quantized_nbits.onnx", "scheme: 'he' seed: 8 requantize: true",
             "embed: true"},
        Case{"only_selection", "torch_vit.onnx", "scheme: 'normal' std: 0.02 seed: 9 exclude: 'head'", ""}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

class StripRefusalTest : public StripTest {};

// Changes the stored hash of `tensor` in the stripped model at `path`.
void CorruptHash(const std::string& path, const std::string& tensor) {
  onnx::ModelProto model = *LoadModel(path);
  for (onnx::StringStringEntryProto& entry : *model.mutable_metadata_props()) {
    if (entry.key() != "onnx_reinit.strip.tensor." + tensor) continue;
    std::string value = entry.value();
    value[7] = value[7] == '0' ? '1' : '0';  // the first hex digit after "sha256="
    entry.set_value(value);
  }
  ASSERT_TRUE(SaveModel(model, path).ok());
}

TEST_F(StripRefusalTest, ADifferingHashIsRefusedNamingTheTensorAndWritesNothing) {
  const std::string input = Input("torch_cnn.onnx");
  ASSERT_TRUE(StripFile(input, Path("stripped/small.onnx"), Parse("scheme: 'he'")).ok());
  CorruptHash(Path("stripped/small.onnx"), "fc.weight");
  const std::string before = Read(Path("stripped/small.onnx"));
  auto options = MaterializeOptions(Path("stripped/small.onnx"), proto::Recipe());
  ASSERT_TRUE(options.ok() && options->has_value()) << options.status();
  for (const char* layout : {"", "external_data: true size_threshold: 0"}) {
    auto chosen = MaterializeOptions(Path("stripped/small.onnx"), Parse(layout));
    ASSERT_TRUE(chosen.ok()) << chosen.status();
    auto written = ReinitializeFile(Path("stripped/small.onnx"), Path("materialized/out.onnx"), **chosen);
    EXPECT_THAT(std::string(written.status().message()), AllOf(HasSubstr("tensor 'fc.weight'"), HasSubstr("SHA-256")))
        << layout;
    EXPECT_TRUE(fs::is_empty(dir_ / "materialized")) << layout;
  }
  EXPECT_EQ(Read(Path("stripped/small.onnx")), before);
}

TEST_F(StripRefusalTest, AnotherFillContractIsRefused) {
  ASSERT_TRUE(StripFile(Input("torch_cnn.onnx"), Path("stripped/small.onnx"), Parse("scheme: 'he'")).ok());
  onnx::ModelProto model = *LoadModel(Path("stripped/small.onnx"));
  for (onnx::StringStringEntryProto& entry : *model.mutable_metadata_props()) {
    if (entry.key() == "onnx_reinit.strip.fill_contract") entry.set_value(std::to_string(kFillContract + 1));
  }
  ASSERT_TRUE(SaveModel(model, Path("stripped/small.onnx")).ok());
  auto options = MaterializeOptions(Path("stripped/small.onnx"), proto::Recipe());
  EXPECT_THAT(std::string(options.status().message()), HasSubstr("fill contract"));
}

TEST_F(StripRefusalTest, OptionsThatChangeValuesAreRefusedWhenMaterializing) {
  ASSERT_TRUE(StripFile(Input("torch_cnn.onnx"), Path("stripped/small.onnx"), Parse("scheme: 'he'")).ok());
  auto options = MaterializeOptions(Path("stripped/small.onnx"), Parse("seed: 4"));
  EXPECT_THAT(std::string(options.status().message()), HasSubstr("carries its recipe"));
}

// What is left is the graph, names, shapes and the recipe: a few bytes per tensor.
TEST_F(StripRefusalTest, TheStrippedModelIsAFractionOfTheInput) {
  const std::string input = Input("torch_vit.onnx");
  ASSERT_TRUE(StripFile(input, Path("stripped/small.onnx"), Parse("scheme: 'he'")).ok());
  EXPECT_LT(fs::file_size(Path("stripped/small.onnx")) * 5, fs::file_size(input));
}

TEST_F(StripRefusalTest, StrippedTensorsCarryPolygraphysMarksAndTheRecipe) {
  ASSERT_TRUE(StripFile(Input("torch_cnn.onnx"), Path("stripped/small.onnx"), Parse("scheme: 'he' seed: 7")).ok());
  onnx::ModelProto model = *LoadModel(Path("stripped/small.onnx"));
  EXPECT_TRUE(absl::EndsWith(model.doc_string(), "TRT_WEIGHTLESS"));
  int marked = 0;
  for (const onnx::TensorProto& tensor : model.graph().initializer()) {
    if (tensor.doc_string() != "TRT_WEIGHTLESS/") continue;
    ++marked;
    EXPECT_TRUE(tensor.has_raw_data());
    EXPECT_TRUE(tensor.raw_data().empty());
    EXPECT_GT(tensor.dims_size(), 0);
  }
  EXPECT_GT(marked, 0);
  std::map<std::string, std::string> props;
  for (const auto& entry : model.metadata_props()) props[entry.key()] = entry.value();
  EXPECT_EQ(props["onnx_reinit.strip.fill_contract"], std::to_string(kFillContract));
  EXPECT_THAT(props["onnx_reinit.strip.recipe"], AllOf(HasSubstr("scheme: \"he\""), HasSubstr("seed: 7")));
  EXPECT_THAT(props["onnx_reinit.strip.tensor.fc.weight"], HasSubstr("sha256="));
}

TEST_F(StripRefusalTest, AStrippedModelIsNotStrippedAgain) {
  ASSERT_TRUE(StripFile(Input("torch_cnn.onnx"), Path("stripped/small.onnx"), Parse("scheme: 'he'")).ok());
  auto again = StripFile(Path("stripped/small.onnx"), Path("again.onnx"), Parse("scheme: 'he'"));
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("stripped already"));
}

}  // namespace
}  // namespace onnx_reinit
