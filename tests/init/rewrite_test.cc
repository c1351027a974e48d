#include "onnx_reinit/rewrite.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/external_data.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/policy.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/temp_dir.h"

namespace onnx_reinit {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

class RewriteTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Writes `fixture` with every float initializer moved to the data file `data_name` (at offsets
  // `stride` apart), as onnx.save_model(..., save_as_external_data=True) would.
  std::string WriteExternal(const std::string& fixture, const std::string& data_name, int64_t stride = 0) {
    onnx::ModelProto model = testing::LoadTestdata(fixture);
    std::string data;
    for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
      if (!tensor.has_raw_data() || !FloatTypeOf(tensor.data_type())) continue;
      if (stride > 0) data.resize((data.size() + stride - 1) / stride * stride, '\0');
      const size_t offset = data.size();
      data += tensor.raw_data();
      tensor.clear_raw_data();
      tensor.set_data_location(onnx::TensorProto::EXTERNAL);
      for (const auto& [key, value] : {std::pair<std::string, std::string>{"location", data_name},
                                       {"offset", std::to_string(offset)},
                                       {"length", std::to_string(data.size() - offset)}}) {
        auto* entry = tensor.add_external_data();
        entry->set_key(key);
        entry->set_value(value);
      }
    }
    std::ofstream(Path(data_name), std::ios::binary) << data;
    const std::string path = Path(fixture);
    EXPECT_TRUE(SaveModel(model, path).ok());
    return path;
  }

  RewriteOptions Options() const {
    RewriteOptions options;
    options.reinit.policy.scheme.kind = SchemeKind::kHeNormal;
    options.reinit.seed = 5;
    return options;
  }

  // The values of every float initializer of the model file at `path`, wherever they are stored.
  static std::map<std::string, std::vector<double>> Values(const std::string& path) {
    auto mapped = MappedModel::Open(path);
    EXPECT_TRUE(mapped.ok()) << mapped.status();
    std::map<std::string, std::vector<double>> values;
    if (!mapped.ok()) return values;
    for (onnx::TensorProto& tensor : *mapped->model().mutable_graph()->mutable_initializer()) {
      if (!FloatTypeOf(tensor.data_type())) continue;
      auto bound = BindValues(tensor, tensor.name(), mapped->payloads());
      EXPECT_TRUE(bound.ok()) << bound.status();
      std::vector<double> read(bound->size());
      bound->Read(0, bound->size(), read.data());
      values[tensor.name()] = read;
    }
    return values;
  }

  testing::TempDir temp_;
  fs::path dir_ = temp_.path();
};

TEST_F(RewriteTest, InPlaceRewriteEqualsTheInMemoryResultByteForByte) {
  for (const char* fixture :
       {"torch_cnn.onnx", "torch_transformer.onnx", "lstm_onnx.onnx", "subgraph_if.onnx", "via_ops.onnx"}) {
    SCOPED_TRACE(fixture);
    const std::string output = Path("out.onnx");
    auto report = ReinitializeFile(testing::TestdataPath(fixture), output, Options());
    ASSERT_TRUE(report.ok()) << report.status();
    onnx::ModelProto model = testing::LoadTestdata(fixture);
    ASSERT_TRUE(Reinitialize(model, Options().reinit).ok());
    EXPECT_EQ(Read(output), model.SerializeAsString());
  }
}

TEST_F(RewriteTest, StatisticsOfEveryPathAreThoseOfTheInMemoryRewrite) {
  RewriteOptions options = Options();
  options.reinit.with_statistics = true;
  onnx::ModelProto model = testing::LoadTestdata("torch_cnn.onnx");
  auto expected = Reinitialize(model, options.reinit);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_GT(expected->tensors(0).after().count(), 0);
  const std::string embedded = testing::TestdataPath("torch_cnn.onnx");
  const std::string external = WriteExternal("torch_cnn.onnx", "cnn.data", 4096);
  for (const auto& [input, layout] :
       {std::pair{embedded, RewriteOptions::Layout::kKeep}, std::pair{external, RewriteOptions::Layout::kKeep},
        std::pair{embedded, RewriteOptions::Layout::kExternal}}) {
    SCOPED_TRACE(input + (layout == RewriteOptions::Layout::kExternal ? " moved out" : ""));
    options.layout = layout;
    options.size_threshold = 0;
    auto report = ReinitializeFile(input, Path("out.onnx"), options);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->tensors_size(), expected->tensors_size());
    for (int t = 0; t < report->tensors_size(); ++t) {
      EXPECT_EQ(report->tensors(t).before().SerializeAsString(), expected->tensors(t).before().SerializeAsString());
      EXPECT_EQ(report->tensors(t).after().SerializeAsString(), expected->tensors(t).after().SerializeAsString())
          << report->tensors(t).name();
    }
    EXPECT_EQ(report->totals().SerializeAsString(), expected->totals().SerializeAsString());
  }
}

TEST_F(RewriteTest, ExternalTensorsThatAreNotRewrittenKeepTheirBytes) {
  const std::string input = WriteExternal("torch_cnn.onnx", "weights.bin", 4096);
  const std::map<std::string, std::vector<double>> before = Values(input);
  RewriteOptions options = Options();
  const std::string rewritten = before.begin()->first;
  // The whole name, its dots escaped.
  options.reinit.only = *NamePattern::Compile("^" + absl::StrReplaceAll(rewritten, {{".", "\\."}}) + "$");
  for (RewriteOptions::Layout layout : {RewriteOptions::Layout::kKeep, RewriteOptions::Layout::kExternal}) {
    options.layout = layout;
    ASSERT_TRUE(ReinitializeFile(input, Path("out.onnx"), options).ok());
    const std::map<std::string, std::vector<double>> after = Values(Path("out.onnx"));
    ASSERT_EQ(after.size(), before.size());
    for (const auto& [name, values] : before) {
      if (name == rewritten) {
        EXPECT_NE(after.at(name), values) << name;
      } else {
        EXPECT_EQ(after.at(name), values) << name;
      }
    }
  }
}

TEST_F(RewriteTest, VarintPayloadsFallBackToTheInMemoryPathWithANote) {
  const std::string output = Path("out.onnx");
  auto report = ReinitializeFile(testing::TestdataPath("dtypes.onnx"), output, Options());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->notes(), ::testing::Contains(HasSubstr("rewrote the model in memory")));
  onnx::ModelProto model = testing::LoadTestdata("dtypes.onnx");
  ASSERT_TRUE(Reinitialize(model, Options().reinit).ok());
  EXPECT_EQ(Read(output), model.SerializeAsString());
}

TEST_F(RewriteTest, ExternalDataGetsANewAlignedDataFileWithTheSameValuesAsEmbedded) {
  const std::string input = WriteExternal("torch_cnn.onnx", "weights.bin");
  const std::string input_model = Read(input), input_data = Read(Path("weights.bin"));
  const std::string output = Path("out.onnx");
  auto report = ReinitializeFile(input, output, Options());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(fs::exists(Path("out.onnx.data")));
  EXPECT_EQ(Read(input), input_model);
  EXPECT_EQ(Read(Path("weights.bin")), input_data);

  onnx::ModelProto embedded = testing::LoadTestdata("torch_cnn.onnx");
  ASSERT_TRUE(Reinitialize(embedded, Options().reinit).ok());
  ASSERT_TRUE(SaveModel(embedded, Path("embedded.onnx")).ok());
  EXPECT_EQ(Values(output), Values(Path("embedded.onnx")));

  auto written = LoadModel(output);
  ASSERT_TRUE(written.ok());
  for (const onnx::TensorProto& tensor : written->graph().initializer()) {
    ASSERT_EQ(tensor.data_location(), onnx::TensorProto::EXTERNAL) << tensor.name();
    for (const auto& entry : tensor.external_data()) {
      if (entry.key() == "location") {
        EXPECT_EQ(entry.value(), "out.onnx.data");
      } else if (entry.key() == "offset") {
        EXPECT_EQ(std::stoll(entry.value()) % kExternalDataAlignment, 0);
      }
    }
  }
}

TEST_F(RewriteTest, ErrorsStartWithTheInputFileOnceWhateverItsName) {
  const fs::path previous = fs::current_path();
  fs::current_path(dir_);
  // "W" is also the name of the fixture's weight, so the error would contain it without the file.
  fs::copy_file(testing::TestdataPath("malformed/float8_weight.onnx"), "W");
  auto unfillable = ReinitializeFile("W", "out.onnx", Options());
  fs::copy_file(testing::TestdataPath("malformed/truncated.onnx"), "t");
  auto truncated = ReinitializeFile("t", "out.onnx", Options());
  fs::current_path(previous);
  ASSERT_FALSE(unfillable.ok());
  EXPECT_THAT(std::string(unfillable.status().message()),
              ::testing::StartsWith("W: tensor 'W' (weight of MatMul 'matmul') has data type FLOAT8E4M3FN"));
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(std::string(truncated.status().message()), ::testing::StartsWith("t: not an ONNX model"));
}

TEST_F(RewriteTest, AnOutputThatIsTheInputUnderAnyNameIsRefusedAndTheInputKept) {
  const std::string input = Path("model.onnx");
  fs::copy_file(testing::TestdataPath("torch_cnn.onnx"), input);
  const std::string before = Read(input);
  fs::create_symlink("model.onnx", Path("symlink.onnx"));
  fs::create_hard_link(input, Path("hardlink.onnx"));
  for (const std::string& output :
       {input, dir_.string() + "/./model.onnx", Path("symlink.onnx"), Path("hardlink.onnx")}) {
    SCOPED_TRACE(output);
    for (const bool dry_run : {false, true}) {
      RewriteOptions options = Options();
      options.reinit.dry_run = dry_run;
      auto report = ReinitializeFile(input, output, options);
      ASSERT_FALSE(report.ok());
      EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string(report.status().message()),
                  AllOf(::testing::StartsWith(input + ": "), HasSubstr(output), HasSubstr("overwrite the input")));
    }
    EXPECT_EQ(Read(input), before);
  }
  EXPECT_TRUE(fs::is_symlink(Path("symlink.onnx")));
  EXPECT_EQ(fs::hard_link_count(input), 2u);
}

// "<input>: " once at the start, and nowhere else in the message.
void ExpectNamesInputOnce(const absl::Status& status, const std::string& input) {
  const std::string message(status.message());
  EXPECT_THAT(message, ::testing::StartsWith(input + ": "));
  EXPECT_EQ(message.find(input, 1), std::string::npos) << message;
}

TEST_F(RewriteTest, ErrorsNameTheInputOnceOnEveryPath) {
  const std::string input = Path("model.onnx");
  ASSERT_TRUE(SaveModel(testing::LoadTestdata("torch_cnn.onnx"), input).ok());
  // Opening it (a missing file), the in-place path (a rule), the parsing path (--embed), a refusal.
  RewriteOptions rule = Options();
  rule.reinit.policy.rules.push_back(*ParseRule("role:bias=orthogonal"));
  RewriteOptions embedded = rule;
  embedded.layout = RewriteOptions::Layout::kEmbed;
  const std::string missing = Path("missing.onnx");
  ExpectNamesInputOnce(ReinitializeFile(missing, Path("out.onnx"), Options()).status(), missing);
  ExpectNamesInputOnce(ReinitializeFile(input, Path("out.onnx"), rule).status(), input);
  ExpectNamesInputOnce(ReinitializeFile(input, Path("out.onnx"), embedded).status(), input);
  fs::create_symlink("model.onnx", Path("link.onnx"));
  ExpectNamesInputOnce(ReinitializeFile(input, Path("link.onnx"), Options()).status(), input);
  EXPECT_FALSE(fs::exists(Path("out.onnx")));
}

TEST_F(RewriteTest, ErrorsCarryTheirKind) {
  const std::string input = Path("model.onnx");
  ASSERT_TRUE(SaveModel(testing::LoadTestdata("torch_cnn.onnx"), input).ok());
  EXPECT_EQ(ErrorKindOf(ReinitializeFile(input, input, Options()).status()), ErrorKind::kUsage);
  EXPECT_EQ(ErrorKindOf(ReinitializeFile(Path("missing.onnx"), Path("out.onnx"), Options()).status()),
            ErrorKind::kFile);
  RewriteOptions strict = Options();
  strict.reinit.strict = true;
  strict.reinit.policy.rules.push_back(*ParseRule("name:nothing=zeros"));
  EXPECT_EQ(ErrorKindOf(ReinitializeFile(input, Path("out.onnx"), strict).status()), ErrorKind::kStrict);
}

TEST_F(RewriteTest, AnOutputOrOutputDataFileThatIsAnInputDataFileIsRefusedAndTheDataKept) {
  // The output's data file is OUT.data: out.onnx would write the input's own data file.
  const std::string input = WriteExternal("torch_cnn.onnx", "out.onnx.data");
  const std::string data_before = Read(Path("out.onnx.data"));
  fs::create_symlink("out.onnx.data", Path("data_link"));
  for (const std::string& output : {Path("out.onnx"), Path("out.onnx.data"), Path("data_link")}) {
    SCOPED_TRACE(output);
    for (const RewriteOptions::Layout layout : {RewriteOptions::Layout::kKeep, RewriteOptions::Layout::kExternal}) {
      RewriteOptions options = Options();
      options.layout = layout;
      auto report = ReinitializeFile(input, output, options);
      ASSERT_FALSE(report.ok());
      EXPECT_THAT(std::string(report.status().message()),
                  AllOf(::testing::StartsWith(input + ": "), HasSubstr("would overwrite the input's data file")));
      EXPECT_EQ(Read(Path("out.onnx.data")), data_before);
      EXPECT_FALSE(fs::exists(Path("out.onnx")));
    }
  }
  // An embedding run writes no data file, so the same name is no danger there.
  RewriteOptions embed = Options();
  embed.layout = RewriteOptions::Layout::kEmbed;
  EXPECT_TRUE(ReinitializeFile(input, Path("out.onnx"), embed).ok());
  EXPECT_EQ(Read(Path("out.onnx.data")), data_before);
}

TEST_F(RewriteTest, ExternalLocationsAreValidatedBeforeAnythingIsWritten) {
  struct Case {
    std::string key, value, expected;
  };
  for (const Case& c : std::vector<Case>{{"location", "/etc/passwd", "is absolute"},
                                         {"location", "../escape.bin", "leaves the model's folder"},
                                         {"location", "missing.bin", "No such file"},
                                         {"offset", "100000", "past the end"},
                                         {"length", "7", "does not fit its shape"}}) {
    SCOPED_TRACE(c.value);
    const std::string input = WriteExternal("torch_cnn.onnx", "weights.bin");
    auto model = LoadModel(input);
    ASSERT_TRUE(model.ok());
    for (auto& entry : *model->mutable_graph()->mutable_initializer(0)->mutable_external_data()) {
      if (entry.key() == c.key) entry.set_value(c.value);
    }
    ASSERT_TRUE(SaveModel(*model, input).ok());
    auto report = ReinitializeFile(input, Path("out.onnx"), Options());
    ASSERT_FALSE(report.ok());
    EXPECT_THAT(std::string(report.status().message()), HasSubstr(c.expected));
    EXPECT_THAT(std::string(report.status().message()), HasSubstr(model->graph().initializer(0).name()));
    EXPECT_FALSE(fs::exists(Path("out.onnx")));
    EXPECT_FALSE(fs::exists(Path("out.onnx.data")));
  }
}

TEST_F(RewriteTest, ASymlinkOutOfTheModelFolderIsRefused) {
  const std::string input = WriteExternal("torch_cnn.onnx", "weights.bin");
  fs::create_directory(Path("inner"));
  fs::rename(input, Path("inner/model.onnx"));
  fs::create_symlink(Path("weights.bin"), Path("inner/weights.bin"));
  auto report = ReinitializeFile(Path("inner/model.onnx"), Path("inner/out.onnx"), Options());
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("outside the model's folder"));
}

TEST_F(RewriteTest, ExternalDataOptionMovesLargeTensorsOutAndEmbedBringsThemBack) {
  RewriteOptions options = Options();
  options.layout = RewriteOptions::Layout::kExternal;
  options.size_threshold = 256;  // the four weights (>= 256 bytes) move; the biases (<= 64) stay
  auto report = ReinitializeFile(testing::TestdataPath("torch_cnn.onnx"), Path("ext.onnx"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  auto external = LoadModel(Path("ext.onnx"));
  ASSERT_TRUE(external.ok());
  for (const onnx::TensorProto& tensor : external->graph().initializer()) {
    const bool large = tensor.data_location() == onnx::TensorProto::EXTERNAL;
    EXPECT_EQ(large, tensor.dims_size() > 1) << tensor.name();
  }
  onnx::ModelProto embedded = testing::LoadTestdata("torch_cnn.onnx");
  ASSERT_TRUE(Reinitialize(embedded, options.reinit).ok());
  ASSERT_TRUE(SaveModel(embedded, Path("embedded.onnx")).ok());
  EXPECT_EQ(Values(Path("ext.onnx")), Values(Path("embedded.onnx")));

  options.layout = RewriteOptions::Layout::kEmbed;
  options.reinit.policy.rules = {*ParseRule("name:.*=keep")};  // a pure layout change
  ASSERT_TRUE(ReinitializeFile(Path("ext.onnx"), Path("back.onnx"), options).ok());
  EXPECT_FALSE(HasExternalData(*LoadModel(Path("back.onnx"))));
  EXPECT_EQ(Read(Path("back.onnx")), Read(Path("embedded.onnx")));
}

TEST_F(RewriteTest, MovingOutAFloatTensorWhosePayloadDoesNotFitItsShapeIsRefused) {
  // A tensor no node reads is left as it is, however malformed; moved out, it would become an
  // external range that does not fit its shape, and the output would not open again.
  onnx::ModelProto model = testing::LoadTestdata("torch_cnn.onnx");
  onnx::TensorProto& unread = *model.mutable_graph()->add_initializer();
  unread.set_name("unread");
  unread.set_data_type(onnx::TensorProto::FLOAT);
  unread.add_dims(35);
  unread.set_raw_data(std::string(60, '\0'));
  ASSERT_TRUE(SaveModel(model, Path("short.onnx")).ok());
  ASSERT_TRUE(ReinitializeFile(Path("short.onnx"), Path("kept.onnx"), Options()).ok());

  RewriteOptions options = Options();
  options.layout = RewriteOptions::Layout::kExternal;
  options.size_threshold = 0;
  auto refused = ReinitializeFile(Path("short.onnx"), Path("out.onnx"), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              AllOf(HasSubstr("'unread'"), HasSubstr("raw_data holds 60 bytes but its shape needs 140")));
  EXPECT_FALSE(fs::exists(Path("out.onnx")));
  EXPECT_FALSE(fs::exists(Path("out.onnx.data")));
}

TEST_F(RewriteTest, WeightStrippedModelsNeedMaterialize) {
  onnx::ModelProto stripped = testing::LoadTestdata("torch_cnn.onnx");
  for (onnx::TensorProto& tensor : *stripped.mutable_graph()->mutable_initializer()) tensor.clear_raw_data();
  ASSERT_TRUE(SaveModel(stripped, Path("stripped.onnx")).ok());
  auto refused = ReinitializeFile(Path("stripped.onnx"), Path("out.onnx"), Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              AllOf(HasSubstr("holds 0 values"), HasSubstr("look stripped"), HasSubstr("--materialize")));
  EXPECT_FALSE(fs::exists(Path("out.onnx")));

  RewriteOptions options = Options();
  options.materialize = true;
  auto report = ReinitializeFile(Path("stripped.onnx"), Path("out.onnx"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->warnings(), ::testing::Contains(HasSubstr("materialized 8 tensors")));
  onnx::ModelProto expected = testing::LoadTestdata("torch_cnn.onnx");
  ASSERT_TRUE(Reinitialize(expected, options.reinit).ok());
  ASSERT_TRUE(SaveModel(expected, Path("expected.onnx")).ok());
  EXPECT_EQ(Values(Path("out.onnx")), Values(Path("expected.onnx")));
}

TEST_F(RewriteTest, MaterializingMoreThanTheMachinesMemoryIsAnErrorNamingTheTensor) {
  onnx::ModelProto stripped = testing::NewModel();
  onnx::TensorProto& huge = *testing::AddInitializer(*stripped.mutable_graph(), "huge", {});
  huge.clear_raw_data();
  huge.add_dims(int64_t{1} << 29);
  huge.add_dims(int64_t{1} << 29);
  testing::AddNode(*stripped.mutable_graph(), "MatMul", {"x", "huge"}, {"y"});
  ASSERT_TRUE(SaveModel(stripped, Path("stripped.onnx")).ok());
  RewriteOptions options = Options();
  options.materialize = true;
  auto report = ReinitializeFile(Path("stripped.onnx"), Path("out.onnx"), options);
  EXPECT_TRUE(absl::IsResourceExhausted(report.status())) << report.status();
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("tensor 'huge': materializing it takes"));
  EXPECT_FALSE(fs::exists(Path("out.onnx")));
}

// Polygraphy's `surgeon weight-strip`: empty raw_data, "TRT_WEIGHTLESS/" on each stripped
// initializer and "-TRT_WEIGHTLESS" after the model's doc_string.
TEST_F(RewriteTest, PolygraphyWeightlessModelsSayHowToMaterializeThem) {
  onnx::ModelProto stripped = testing::LoadTestdata("torch_cnn.onnx");
  stripped.set_doc_string("cnn-TRT_WEIGHTLESS");
  for (onnx::TensorProto& tensor : *stripped.mutable_graph()->mutable_initializer()) {
    tensor.set_raw_data("");
    tensor.set_doc_string("TRT_WEIGHTLESS/");
  }
  ASSERT_TRUE(SaveModel(stripped, Path("weightless.onnx")).ok());
  auto refused = ReinitializeFile(Path("weightless.onnx"), Path("out.onnx"), Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              AllOf(HasSubstr("raw_data holds 0 bytes"), HasSubstr("marked TRT_WEIGHTLESS"),
                    HasSubstr("--materialize gives such tensors fresh values")));
  EXPECT_FALSE(fs::exists(Path("out.onnx")));

  RewriteOptions options = Options();
  options.materialize = true;
  auto report = ReinitializeFile(Path("weightless.onnx"), Path("out.onnx"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->tensors_size(), 8);
  const onnx::ModelProto out = *LoadModel(Path("out.onnx"));
  EXPECT_EQ(out.doc_string(), "cnn");  // no longer weightless: Polygraphy would overwrite the values
  for (const onnx::TensorProto& tensor : out.graph().initializer()) EXPECT_EQ(tensor.doc_string(), "");
}

TEST_F(RewriteTest, AMissingDataFileIsMaterializedOnRequest) {
  const std::string input = WriteExternal("torch_cnn.onnx", "weights.bin");
  fs::remove(Path("weights.bin"));
  EXPECT_FALSE(ReinitializeFile(input, Path("out.onnx"), Options()).ok());
  RewriteOptions options = Options();
  options.materialize = true;
  auto report = ReinitializeFile(input, Path("out.onnx"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->tensors_size(), 8);
}

TEST_F(RewriteTest, DryRunWritesNothing) {
  RewriteOptions options = Options();
  options.reinit.dry_run = true;
  auto report = ReinitializeFile(testing::TestdataPath("torch_cnn.onnx"), Path("out.onnx"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->tensors_size(), 8);
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace onnx_reinit
