// End-to-end tests of the onnx-reinit command line: runs the built binary (ONNX_REINIT_BINARY) as a
// subprocess, with stdout and stderr captured separately, in a fresh temporary directory per test.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/scheme.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

namespace fs = std::filesystem;
using namespace ::onnx_reinit::testing;  // NOLINT: test helpers
using ::onnx_reinit::testing::FindInitializer;
using ::onnx_reinit::testing::ReadValues;
using ::onnx_reinit::testing::TestdataPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// The values of initializer `name` in the model file at `path`.
std::vector<double> InitializerValues(const std::string& path, const std::string& name) {
  auto model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  onnx::TensorProto* tensor = FindInitializer(*model, name);
  EXPECT_NE(tensor, nullptr) << name << " not in " << path;
  if (tensor == nullptr) return {};
  return ReadValues(*tensor);
}

// The serialized TensorProto of initializer `name` in the model file at `path` (any data type).
std::string InitializerBytes(const std::string& path, const std::string& name) {
  auto model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return "";
  onnx::TensorProto* tensor = FindInitializer(*model, name);
  EXPECT_NE(tensor, nullptr) << name << " not in " << path;
  return tensor == nullptr ? "" : tensor->SerializeAsString();
}

TEST(Cli, DefaultOutputIsWrittenBesideTheInput) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  const std::string before = ReadFile(input);

  const CommandResult result = RunTool({input, "--scheme", "he"});

  ASSERT_EQ(result.status, 0) << result;
  EXPECT_EQ(result.err, "") << result;
  const std::string output = dir / "torch_cnn.reinit.onnx";
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("torch_cnn.onnx", "torch_cnn.reinit.onnx"));
  EXPECT_EQ(ReadFile(input), before) << "the input was modified";
  const std::string after = ReadFile(output);
  EXPECT_EQ(after.size(), before.size());  // raw_data float32: same sizes, new values
  EXPECT_NE(after, before) << "the output has the input's bytes";
  EXPECT_TRUE(LoadModel(output).ok());

  const std::vector<std::string> lines = Lines(result.out);
  ASSERT_EQ(lines.size(), 10u) << result;  // header, 4 weights and 4 biases, summary
  EXPECT_THAT(static_cast<std::vector<std::string>>(absl::StrSplit(lines[0], ' ', absl::SkipEmpty())),
              ElementsAre("tensor", "node", "role", "op", "shape", "dtype", "fan_in/out", "values", "rule"));
  EXPECT_THAT(lines[1], StartsWith("onnx::Conv_23 "));
  EXPECT_THAT(lines[7], StartsWith("fc.weight "));
  EXPECT_THAT(lines[7], HasSubstr("Gemm"));
  EXPECT_THAT(lines[8], StartsWith("fc.bias "));
  EXPECT_THAT(lines[8], HasSubstr("const 0"));
  EXPECT_THAT(lines[9], StartsWith("re-initialized 8 tensors (554 values) with he_normal, seed 0, "));
  EXPECT_TRUE(absl::EndsWith(lines[9], " -> " + output)) << lines[9];
}

TEST(Cli, DefaultOutputForANameWithoutTheOnnxExtension) {
  TempDir dir;
  fs::copy_file(TestdataPath("torch_mlp_matmul.onnx"), dir / "model");

  const CommandResult result = RunTool({dir / "model", "--scheme", "lecun_uniform", "--quiet"});

  ASSERT_EQ(result.status, 0) << result;
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("model", "model.reinit.onnx"));
}

TEST(Cli, OutputFlagIsHonoured) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  const std::string before = ReadFile(input);
  fs::create_directory(dir / "out");
  const std::string output = dir / "out/new name.onnx";

  const CommandResult result = RunTool({input, "--scheme", "xavier_uniform", "-o", output});

  ASSERT_EQ(result.status, 0) << result;
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("out", "torch_cnn.onnx"));
  EXPECT_THAT(ListDir(dir / "out"), ElementsAre("new name.onnx"));
  EXPECT_EQ(ReadFile(input), before);
  EXPECT_TRUE(LoadModel(output).ok());
  const std::vector<std::string> lines = Lines(result.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), StartsWith("re-initialized 8 tensors (554 values) with xavier_uniform"));
  EXPECT_TRUE(absl::EndsWith(lines.back(), " -> " + output)) << lines.back();

  // The long spelling writes the same bytes.
  const std::string long_output = dir / "out/long.onnx";
  ASSERT_EQ(RunTool({input, "--scheme", "xavier_uniform", "--output", long_output, "-q"}).status, 0);
  EXPECT_EQ(ReadFile(long_output), ReadFile(output));
}

TEST(Cli, AnExistingOutputIsReplaced) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  ASSERT_EQ(RunTool({input, "--scheme", "he", "-o", dir / "fresh.onnx", "-q"}).status, 0);
  WriteFile(dir / "old.onnx", "stale bytes that are not a model");

  const CommandResult result = RunTool({input, "--scheme", "he", "-o", dir / "old.onnx", "-q"});

  ASSERT_EQ(result.status, 0) << result;
  EXPECT_EQ(ReadFile(dir / "old.onnx"), ReadFile(dir / "fresh.onnx"));
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("fresh.onnx", "old.onnx", "torch_cnn.onnx"));
}

TEST(Cli, OutputFileGetsTheModeOfAPlainCreate) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  const mode_t umask_now = ::umask(022);
  const CommandResult result = RunTool({input, "--scheme", "he", "-q"});
  ::umask(umask_now);

  ASSERT_EQ(result.status, 0) << result;
  struct stat info;
  ASSERT_EQ(::stat((dir / "torch_cnn.reinit.onnx").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);  // 0666 & ~022, not mkstemp's 0600
}

// Output bytes for `fixture` with the given extra flags.
std::string ReinitBytes(const TempDir& dir, const std::string& fixture, const std::string& name,
                        const std::vector<std::string>& flags) {
  const std::string input = CopyFixture(dir, fixture);
  std::vector<std::string> args = {input, "--scheme", "he_uniform", "-q", "-o", dir / name};
  args.insert(args.end(), flags.begin(), flags.end());
  const CommandResult result = RunTool(args);
  EXPECT_EQ(result.status, 0) << result;
  EXPECT_EQ(ReadFile(input), ReadFile(TestdataPath(fixture))) << "the input was modified";
  return ReadFile(dir / name);
}

TEST(Cli, ThreadCountDoesNotChangeTheBytes) {
  for (const std::string fixture : {"torch_cnn.onnx", "dtypes.onnx"}) {
    SCOPED_TRACE(fixture);
    TempDir dir;
    const std::string one = ReinitBytes(dir, fixture, "t1.onnx", {"--threads", "1"});
    const std::string two = ReinitBytes(dir, fixture, "t2.onnx", {"--threads", "2"});
    const std::string seven = ReinitBytes(dir, fixture, "t7.onnx", {"--threads", "7"});
    const std::string all = ReinitBytes(dir, fixture, "t0.onnx", {"--threads", "0"});
    ASSERT_FALSE(one.empty());
    EXPECT_NE(one, ReadFile(TestdataPath(fixture))) << "nothing was re-initialized";
    EXPECT_TRUE(one == two) << "--threads 1 and --threads 2 differ";
    EXPECT_TRUE(one == seven) << "--threads 1 and --threads 7 differ";
    EXPECT_TRUE(one == all) << "--threads 1 and --threads 0 differ";
  }
}

TEST(Cli, SeedDecidesTheBytes) {
  for (const std::string fixture : {"torch_cnn.onnx", "dtypes.onnx"}) {
    SCOPED_TRACE(fixture);
    TempDir dir;
    const std::string first = ReinitBytes(dir, fixture, "a.onnx", {"--seed", "1234"});
    const std::string again = ReinitBytes(dir, fixture, "b.onnx", {"--seed", "1234"});
    const std::string other = ReinitBytes(dir, fixture, "c.onnx", {"--seed", "1235"});
    const std::string by_default = ReinitBytes(dir, fixture, "d.onnx", {});
    const std::string explicit_default = ReinitBytes(dir, fixture, "e.onnx", {"--seed", std::to_string(kDefaultSeed)});
    ASSERT_FALSE(first.empty());
    EXPECT_TRUE(first == again) << "the same seed gave different bytes";
    EXPECT_TRUE(first != other) << "another seed gave the same bytes";
    EXPECT_EQ(first.size(), other.size());
    EXPECT_TRUE(by_default == explicit_default) << "the default seed is not " << kDefaultSeed;
    EXPECT_TRUE(by_default != first);
  }
}

TEST(Cli, OnlyRewritesTheMatchingWeights) {
  TempDir dir;
  const std::string original = TestdataPath("torch_cnn.onnx");  // read here, never given to the tool
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  const std::string full = dir / "full.onnx";
  const std::string only = dir / "only.onnx";
  ASSERT_EQ(RunTool({input, "--scheme", "he", "--seed", "7", "-q", "-o", full}).status, 0);

  const CommandResult result = RunTool({input, "--scheme", "he", "--seed", "7", "--only", "^fc\\.weight$", "-o", only});

  ASSERT_EQ(result.status, 0) << result;
  const std::vector<std::string> lines = Lines(result.out);
  ASSERT_EQ(lines.size(), 4u) << result;  // header, fc.weight, the count left unchanged, summary
  EXPECT_THAT(lines[1], StartsWith("fc.weight "));
  EXPECT_THAT(lines[2], StartsWith("7 tensors left unchanged"));
  EXPECT_THAT(lines[3], StartsWith("re-initialized 1 tensor (160 values) with he_normal, seed 7"));

  // The selected weight gets the values it gets in the full run; the others keep the input's.
  EXPECT_EQ(InitializerValues(only, "fc.weight"), InitializerValues(full, "fc.weight"));
  EXPECT_NE(InitializerValues(only, "fc.weight"), InitializerValues(original, "fc.weight"));
  for (const std::string name : {"onnx::Conv_23", "dw.weight", "gconv.weight"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(InitializerBytes(only, name), InitializerBytes(original, name));
    EXPECT_NE(InitializerValues(full, name), InitializerValues(original, name));
  }
  // Not selected: the bias keeps its values; in the full run it is zeroed (its role's default).
  EXPECT_EQ(InitializerBytes(only, "fc.bias"), InitializerBytes(original, "fc.bias"));
  EXPECT_THAT(InitializerValues(full, "fc.bias"), ::testing::Each(0.0));
  EXPECT_EQ(ReadFile(input), ReadFile(original)) << "the input was modified";
}

TEST(Cli, ExcludeKeepsTheMatchingWeights) {
  TempDir dir;
  const std::string original = TestdataPath("dtypes.onnx");  // read here, never given to the tool
  const std::string input = CopyFixture(dir, "dtypes.onnx");
  const std::string full = dir / "full.onnx";
  const std::string excluded = dir / "excluded.onnx";
  ASSERT_EQ(RunTool({input, "--scheme", "normal", "--std", "0.5", "-q", "-o", full}).status, 0);

  const CommandResult result =
      RunTool({input, "--scheme", "normal", "--std", "0.5", "-q", "--exclude", "f16", "-o", excluded});

  ASSERT_EQ(result.status, 0) << result;
  for (const std::string name : {"w_f16_raw", "w_f16_int32_data"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(InitializerBytes(excluded, name), InitializerBytes(original, name));
  }
  for (const std::string name : {"w_f32_raw", "w_f32_float_data", "w_f64_double_data"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(InitializerValues(excluded, name), InitializerValues(full, name));
    EXPECT_NE(InitializerValues(excluded, name), InitializerValues(original, name));
  }
  // Behind a Cast to float it is still a weight, and matches the exclusion pattern only by name.
  EXPECT_NE(InitializerValues(full, "w_bf16_raw_behind_cast"), InitializerValues(original, "w_bf16_raw_behind_cast"));
  EXPECT_EQ(ReadFile(input), ReadFile(original)) << "the input was modified";
}

TEST(Cli, ConstantSchemeWritesTheValue) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "int_and_shape.onnx");
  const std::string output = dir / "c.onnx";
  const CommandResult result = RunTool({input, "--scheme", "constant", "--value", "0.25", "-o", output});

  ASSERT_EQ(result.status, 0) << result;
  EXPECT_THAT(InitializerValues(output, "conv_W"), ::testing::Each(0.25));
  EXPECT_EQ(InitializerValues(output, "conv_W").size(), 4u * 3 * 3 * 3);
  EXPECT_THAT(InitializerValues(output, "conv_B"), ::testing::Each(0.0));  // a bias: zeros
  for (const std::string name : {"reshape_shape", "mul_scale", "add_bias"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(InitializerBytes(output, name), InitializerBytes(TestdataPath("int_and_shape.onnx"), name));
  }
  EXPECT_EQ(ReadFile(input), ReadFile(TestdataPath("int_and_shape.onnx")));
}

TEST(Cli, MissingInputIsAnErrorNamingTheFile) {
  TempDir dir;
  const std::string missing = dir / "missing.onnx";

  const CommandResult result = RunTool({missing, "--scheme", "he"});

  // CLI11 rejects it while parsing (CLI::ExistingFile), so this is a usage error.
  ExpectUsageError(result, {missing, "does not exist"});
  EXPECT_THAT(ListDir(dir.path()), IsEmpty());
}

TEST(Cli, MalformedInputsAreErrorsAndWriteNothing) {
  for (const std::string name : {"not_a_model.onnx", "truncated.onnx", "empty.onnx"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    const std::string input = CopyFixture(dir, "malformed/" + name);
    const std::string before = ReadFile(input);

    const CommandResult result = RunTool({input, "--scheme", "he"});

    ExpectOneLineError(result, {input, "not an ONNX model"});
    EXPECT_EQ(result.status, 1) << result;
    // No output, no leftover temporary file.
    EXPECT_THAT(ListDir(dir.path()), ElementsAre(name));
    EXPECT_EQ(ReadFile(input), before);
  }
}

TEST(Cli, AmbiguousModelsAreRefusedBeforeWritingAnything) {
  const std::pair<std::string, std::string> cases[] = {
      {"duplicate_initializer.onnx", "two initializers are named 'W'"},
      {"raw_and_float_data.onnx", "tensor 'W' holds values both in raw_data and in a typed field"},
      {"identity_cycle.onnx", "node 'identity_a' (Identity) depends on its own output (a cycle in the graph)"},
      {"gemm_transb_string.onnx", "node 'gemm' (Gemm): attribute 'transB' must be INT"},
      {"undefined_dtype.onnx", "tensor 'W' has data type UNDEFINED"},
      {"float8_weight.onnx",
       "tensor 'W' (weight of MatMul 'matmul') has data type FLOAT8E4M3FN (17), which "
       "onnx-reinit cannot fill"},
  };
  for (const auto& [name, problem] : cases) {
    for (const std::vector<std::string>& flags : {std::vector<std::string>{}, {"--external-data"}, {"--dry-run"}}) {
      SCOPED_TRACE(name + (flags.empty() ? "" : " " + flags[0]));
      TempDir dir;
      const std::string input = CopyFixture(dir, "malformed/" + name);
      const std::string before = ReadFile(input);
      std::vector<std::string> args = {input, "--scheme", "he", "-o", dir / "out.onnx"};
      args.insert(args.end(), flags.begin(), flags.end());

      const CommandResult result = RunTool(args);

      ExpectOneLineError(result, {input + ": " + problem});
      EXPECT_EQ(result.status, 1) << result;
      EXPECT_THAT(ListDir(dir.path()), ElementsAre(name));
      EXPECT_EQ(ReadFile(input), before);
    }
  }
}

TEST(Cli, MalformedInputWithExplicitOutputWritesNothing) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "malformed/truncated.onnx");
  const std::string output = dir / "out.onnx";

  const CommandResult result = RunTool({input, "--scheme", "he", "-o", output});

  ExpectOneLineError(result, {input});
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("truncated.onnx"));
}

TEST(Cli, UnknownSchemeIsAUsageErrorListingTheSchemes) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");

  const CommandResult result = RunTool({input, "--scheme", "foo"});

  ExpectUsageError(result, {"foo", "he_normal", "xavier_uniform", "lecun_normal", "zeros"});
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("torch_cnn.onnx"));
}

TEST(Cli, MissingSchemeIsAUsageError) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");

  const CommandResult result = RunTool({input});

  ExpectUsageError(result, {"--scheme"});
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("torch_cnn.onnx"));
}

TEST(Cli, ParameterThatDoesNotFitTheSchemeIsAnError) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");

  const CommandResult result = RunTool({input, "--scheme", "he", "--std", "2"});

  ExpectOneLineError(result, {"--std", "he_normal"});
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("torch_cnn.onnx"));
}

TEST(Cli, ConstantWithoutValueIsAnError) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");

  const CommandResult result = RunTool({input, "--scheme", "constant"});

  ExpectOneLineError(result, {"constant", "--value"});
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("torch_cnn.onnx"));
}

TEST(Cli, OutOfRangeParametersAreErrors) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");

  ExpectOneLineError(RunTool({input, "--scheme", "normal", "--std", "-1"}), {"--std"});
  ExpectOneLineError(RunTool({input, "--scheme", "uniform", "--low", "2", "--high", "1"}), {"--low", "--high"});
  ExpectUsageError(RunTool({input, "--scheme", "he", "--threads", "2000"}), {"--threads"});
  ExpectUsageError(RunTool({input, "--scheme", "he", "--mode", "fan_sideways"}), {"fan_sideways", "fan_in"});
  ExpectOneLineError(RunTool({input, "--scheme", "he", "--only", "("}), {"--only"});
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("torch_cnn.onnx"));
}

TEST(Cli, RefusesToOverwriteTheInput) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  const std::string before = ReadFile(input);
  fs::create_symlink("torch_cnn.onnx", dir / "link.onnx");

  // The same file under several spellings.
  for (const std::string& output : {input, dir.path() + "/./torch_cnn.onnx", dir / "link.onnx"}) {
    SCOPED_TRACE(output);
    const CommandResult result = RunTool({input, "--scheme", "he", "-o", output});
    ExpectOneLineError(result, {output, "overwrite the input"});
    EXPECT_EQ(result.status, 2) << result;  // a usage error
    EXPECT_EQ(ReadFile(input), before);
    EXPECT_THAT(ListDir(dir.path()), ElementsAre("link.onnx", "torch_cnn.onnx"));
  }
  EXPECT_TRUE(fs::is_symlink(dir / "link.onnx"));
}

TEST(Cli, QuietPrintsNothing) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");

  const CommandResult result = RunTool({input, "--scheme", "he", "--quiet"});

  EXPECT_EQ(result.status, 0) << result;
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "");
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("torch_cnn.onnx", "torch_cnn.reinit.onnx"));
}

TEST(Cli, WarningsGoToStderrUnlessQuiet) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "shared_two_consumers.onnx");

  const CommandResult loud = RunTool({input, "--scheme", "he", "-o", dir / "loud.onnx"});
  ASSERT_EQ(loud.status, 0) << loud;
  const std::vector<std::string> warnings = Lines(loud.err);
  ASSERT_EQ(warnings.size(), 1u) << loud;
  EXPECT_THAT(warnings[0], StartsWith("onnx-reinit: warning: "));
  EXPECT_THAT(warnings[0], HasSubstr("shared_W"));
  EXPECT_THAT(loud.out, HasSubstr("re-initialized 1 tensor (24 values) with he_normal"));

  const CommandResult quiet = RunTool({input, "--scheme", "he", "-q", "-o", dir / "quiet.onnx"});
  EXPECT_EQ(quiet.status, 0) << quiet;
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(ReadFile(dir / "loud.onnx"), ReadFile(dir / "quiet.onnx"));
}

TEST(Cli, HelpListsEverySchemeAndTheDefaultSeed) {
  const CommandResult result = RunTool({"--help"});

  EXPECT_EQ(result.status, 0) << result;
  EXPECT_EQ(result.err, "");
  const std::vector<std::string> schemes = {"zeros",     "ones",           "constant",      "uniform",
                                            "normal",    "xavier_uniform", "xavier_normal", "he_uniform",
                                            "he_normal", "lecun_uniform",  "lecun_normal",  "xavier",
                                            "he"};
  for (const std::string& scheme : schemes) EXPECT_THAT(result.out, HasSubstr(scheme));
  for (const std::string& scheme : SchemeNames()) EXPECT_THAT(result.out, HasSubstr(scheme));

  const std::vector<std::string> lines = Lines(result.out);
  auto seed_line = std::find_if(lines.begin(), lines.end(),
                                [](const std::string& line) { return absl::StrContains(line, "--seed"); });
  ASSERT_NE(seed_line, lines.end()) << result;
  EXPECT_THAT(*seed_line, HasSubstr(absl::StrCat("=", kDefaultSeed))) << *seed_line;
  for (const std::string flag : {"--output", "--threads", "--only", "--exclude", "--quiet", "--value", "--std",
                                 "--mode", "--nonlinearity", "--gain"}) {
    EXPECT_THAT(result.out, HasSubstr(flag));
  }
}

TEST(Cli, OutputInAMissingDirectoryIsAnError) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  const std::string output = dir / "no/such/dir/out.onnx";

  const CommandResult result = RunTool({input, "--scheme", "he", "-o", output});

  ExpectOneLineError(result, {output});
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("torch_cnn.onnx"));
}

TEST(Cli, OutputThatIsADirectoryIsAnError) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  fs::create_directory(dir / "sub");

  const CommandResult result = RunTool({input, "--scheme", "he", "-o", dir / "sub"});

  ExpectOneLineError(result, {dir / "sub"});
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("sub", "torch_cnn.onnx"));
  EXPECT_THAT(ListDir(dir / "sub"), IsEmpty());
}

TEST(Cli, RulesOverrideTheRoleDefaults) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  const std::string output = dir / "out.onnx";
  const CommandResult result = RunTool({input, "--scheme", "he", "-o", output, "--rule", "role:bias=keep", "--rule",
                                        "name:fc\\.weight=normal:std=0.02", "--rule", "op:Conv=ones"});
  ASSERT_EQ(result.status, 0) << result;
  const std::string original = TestdataPath("torch_cnn.onnx");
  EXPECT_EQ(InitializerBytes(output, "fc.bias"), InitializerBytes(original, "fc.bias"));
  EXPECT_THAT(InitializerValues(output, "dw.weight"), ::testing::Each(1.0));
  const std::vector<double> head = InitializerValues(output, "fc.weight");
  double squares = 0;
  for (double x : head) squares += x * x;
  EXPECT_NEAR(std::sqrt(squares / head.size()), 0.02, 0.01);
  EXPECT_THAT(result.out, HasSubstr("--rule op:Conv=ones"));
}

TEST(Cli, RecipeGivesTheSameBytesAsTheEquivalentFlags) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_lstm_text.onnx");
  WriteFile(dir / "recipe.textproto",
            "scheme: \"xavier_uniform\"\n"
            "rules: \"role:bias=keep\"\n"
            "rules: \"name:emb\\\\..*=normal:std=0.1\"\n"
            "seed: 42\n"
            "lstm_forget_bias: 1\n");
  const CommandResult from_recipe = RunTool({input, "--recipe", dir / "recipe.textproto", "-o", dir / "a.onnx", "-q"});
  ASSERT_EQ(from_recipe.status, 0) << from_recipe;
  const CommandResult from_flags =
      RunTool({input, "--scheme", "xavier_uniform", "--rule", "role:bias=keep", "--rule",
               "name:emb\\..*=normal:std=0.1", "--seed", "42", "--lstm-forget-bias", "1", "-o", dir / "b.onnx", "-q"});
  ASSERT_EQ(from_flags.status, 0) << from_flags;
  EXPECT_EQ(ReadFile(dir / "a.onnx"), ReadFile(dir / "b.onnx"));

  // Flags win over the recipe.
  ASSERT_EQ(RunTool({input, "--recipe", dir / "recipe.textproto", "--seed", "43", "-o", dir / "c.onnx", "-q"}).status,
            0);
  EXPECT_NE(ReadFile(dir / "c.onnx"), ReadFile(dir / "a.onnx"));
}

TEST(Cli, BadRecipeAndBadRuleAreUsageErrors) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  WriteFile(dir / "bad.textproto", "scheme: \"he\"\nrulez: \"x\"\n");
  ExpectOneLineError(RunTool({input, "--recipe", dir / "bad.textproto"}), {"bad.textproto", "line 2"});
  EXPECT_EQ(RunTool({input, "--recipe", dir / "bad.textproto"}).status, 2);
  const CommandResult rule = RunTool({input, "--scheme", "he", "--rule", "role:nope=zeros"});
  ExpectOneLineError(rule, {"unknown role 'nope'"});
  EXPECT_EQ(rule.status, 2);
  const CommandResult no_scheme = RunTool({input});
  ExpectOneLineError(no_scheme, {"--scheme"});
  EXPECT_EQ(ListDir(dir.path()), (std::vector<std::string>{"bad.textproto", "torch_cnn.onnx"}));
}

TEST(Cli, DryRunPrintsThePlanAndWritesNothing) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "int_and_shape.onnx");
  const CommandResult result = RunTool({input, "--scheme", "he", "--dry-run"});
  ASSERT_EQ(result.status, 0) << result;
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("int_and_shape.onnx"));
  EXPECT_THAT(result.out, HasSubstr("default for bias"));
  EXPECT_THAT(result.out, HasSubstr("left unchanged"));
  EXPECT_THAT(result.out, HasSubstr("mul_scale"));
  EXPECT_THAT(Lines(result.out).back(),
              StartsWith("dry run: would re-initialize 2 tensors (112 values) with he_normal"));
}

TEST(Cli, RequantizeListsTheNewScalesAndWritesIntegers) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "quantized_qdq.onnx");
  const CommandResult plan = RunTool({input, "--scheme", "he", "--requantize", "--dry-run"});
  ASSERT_EQ(plan.status, 0) << plan;
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("quantized_qdq.onnx"));
  EXPECT_THAT(plan.out, HasSubstr("8 scales along axis 0"));
  EXPECT_THAT(plan.out, HasSubstr("would requantize 7 quantized tensors"));
  EXPECT_THAT(plan.err, HasSubstr("calibrated on the old weights"));

  const std::string output = dir / "out.onnx";
  const CommandResult run = RunTool({input, "--scheme", "he", "--requantize", "-o", output});
  ASSERT_EQ(run.status, 0) << run;
  EXPECT_THAT(run.out, HasSubstr("requantized 7 quantized tensors"));
  EXPECT_NE(ReadFile(output), ReadFile(input));
  // Without the flag the quantized weights are listed as left unchanged, and nothing changes.
  const CommandResult plain = RunTool({input, "--scheme", "he", "--dry-run"});
  ASSERT_EQ(plain.status, 0) << plain;
  EXPECT_THAT(plain.out, HasSubstr("--requantize rewrites it"));
  EXPECT_THAT(plain.out, Not(HasSubstr("would requantize")));
}

TEST(Cli, StrictRefusesARuleWithoutEffectWithExitTwoAndNoOutput) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_vit.onnx");
  const std::string output = dir / "out.onnx";
  const CommandResult warned = RunTool({input, "--scheme", "he", "--rule", "name:pos_embedding=zeros", "-o", output});
  ASSERT_EQ(warned.status, 0) << warned;
  EXPECT_THAT(warned.err, HasSubstr("warning: rule 'name:pos_embedding=zeros' matches no tensor"));
  EXPECT_THAT(warned.err, HasSubstr("2 parameters keep their trained values: class_token, encoder.pos_embedding"));
  std::filesystem::remove(output);
  const CommandResult strict =
      RunTool({input, "--scheme", "he", "--rule", "name:pos_embedding=zeros", "--strict", "-o", output});
  EXPECT_EQ(strict.status, 2) << strict;
  EXPECT_THAT(strict.err,
              HasSubstr("error: " + input + ": --strict: rule 'name:pos_embedding=zeros' matches no tensor"));
  EXPECT_FALSE(std::filesystem::exists(output));
  const CommandResult nothing = RunTool({input, "--scheme", "he", "--only", "nothing", "--strict", "-o", output});
  EXPECT_EQ(nothing.status, 2) << nothing;
  EXPECT_FALSE(std::filesystem::exists(output));
}

TEST(Cli, TableShowsTheReadingNodeAndUntieReportsItsCopies) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_vit.onnx");
  const CommandResult result =
      RunTool({input, "--scheme", "he", "--bias", "torch", "--untie", "--only", "mlp", "-o", dir / "out.onnx"});
  ASSERT_EQ(result.status, 0) << result;
  EXPECT_THAT(result.out,
              ::testing::ContainsRegex("onnx::MatMul_214 +/encoder/layers/encoder_layer_0/mlp/mlp.0/MatMul +weight"));
  EXPECT_THAT(result.out, HasSubstr("untied 'conv_proj.bias': norm_bias 'conv_proj.bias.norm_bias' for "
                                    "/encoder/layers/encoder_layer_0/ln_1/Add_1"));
  EXPECT_TRUE(LoadModel(dir / "out.onnx").ok());
}

}  // namespace
}  // namespace onnx_reinit
