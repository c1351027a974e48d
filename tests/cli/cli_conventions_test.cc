// The CLI's conventions: --version, the version in reports, "-" for stdin and stdout, scheme
// aliases and suggestions, --help's examples and the man page.
#include <regex>
#include <set>

#include "absl/strings/str_replace.h"
#include "onnx_reinit/scheme.h"
#include "onnx_reinit/version.h"
#include "tests/testing/cli_runner.h"

namespace onnx_reinit {
namespace {

using testing::CommandResult;
using testing::CopyFixture;
using ::testing::ElementsAre;
using testing::ExpectOneLineError;
using ::testing::HasSubstr;
using testing::Lines;
using testing::ListDir;
using testing::ReadFile;
using testing::RunTool;
using testing::TempDir;

const std::string kVersionLine = std::string("onnx-reinit ") + kVersion + "\n";

TEST(CliConventions, VersionIsOneLineWithTheProjectVersion) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, {"stats", "--version"}, {"diff", "--version"}}) {
    const CommandResult result = RunTool(args);
    EXPECT_EQ(result.status, 0) << result;
    EXPECT_EQ(result.out, kVersionLine);
    EXPECT_EQ(result.err, "");
  }
  EXPECT_THAT(kVersion, ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
}

TEST(CliConventions, JsonReportsCarryTheVersion) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  const std::string version_field = std::string("\"version\": \"") + kVersion + "\"";
  ASSERT_EQ(RunTool({input, "--scheme", "he", "-q", "--report", dir / "r.json"}).status, 0);
  EXPECT_THAT(ReadFile(dir / "r.json"), HasSubstr(version_field));
  EXPECT_THAT(RunTool({"stats", input, "--json"}).out, HasSubstr(version_field));
  EXPECT_THAT(RunTool({"diff", input, input, "--json"}).out, HasSubstr(version_field));
  EXPECT_THAT(RunTool({"verify", input, "--scheme", "he", "--json"}).out, HasSubstr(version_field));
}

TEST(CliConventions, StdinToStdoutGivesTheBytesOfAFileRun) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  ASSERT_EQ(RunTool({input, "--scheme", "he", "-q", "-o", dir / "file.onnx"}).status, 0);

  const CommandResult piped = RunTool({"-", "--scheme", "he", "-o", "-"}, input);

  ASSERT_EQ(piped.status, 0) << piped;
  EXPECT_EQ(piped.out, ReadFile(dir / "file.onnx"));
  EXPECT_THAT(piped.err, HasSubstr("re-initialized 8 tensors"));  // the table goes to stderr
  const CommandResult to_file = RunTool({"-", "--scheme", "he", "-q", "-o", dir / "from_stdin.onnx"}, input);
  ASSERT_EQ(to_file.status, 0) << to_file;
  EXPECT_EQ(ReadFile(dir / "from_stdin.onnx"), ReadFile(dir / "file.onnx"));
}

TEST(CliConventions, StdioErrorsAreOneLineAndNameTheDash) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  testing::WriteFile(dir / "garbage", "not a model");

  const CommandResult no_output = RunTool({"-", "--scheme", "he"}, input);
  ExpectOneLineError(no_output, {"stdin", "-o"});
  EXPECT_EQ(no_output.status, 2);
  const CommandResult garbage = RunTool({"-", "--scheme", "he", "-o", dir / "out.onnx"}, dir / "garbage");
  ExpectOneLineError(garbage, {"-: not an ONNX model"});
  EXPECT_EQ(garbage.status, 1);
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("garbage", "torch_cnn.onnx"));
}

TEST(CliConventions, ExternalDataThroughStdioIsAClearError) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  ASSERT_EQ(
      RunTool({input, "--scheme", "he", "-q", "--external-data", "--size-threshold", "64", "-o", dir / "ext.onnx"})
          .status,
      0);

  ExpectOneLineError(RunTool({dir / "ext.onnx", "--scheme", "he", "-o", "-"}), {"-o -", "external data"});
  ExpectOneLineError(RunTool({"-", "--scheme", "he", "-o", dir / "out.onnx"}, dir / "ext.onnx"),
                     {"external data", "instead of -"});
  ExpectOneLineError(RunTool({input, "--scheme", "he", "--external-data", "-o", "-"}), {"--external-data"});
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("ext.onnx", "ext.onnx.data", "torch_cnn.onnx"));
}

TEST(CliConventions, TorchAndKerasNamesGiveTheBytesOfTheirTargets) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  for (const auto& [alias, target] : std::vector<std::pair<std::string, std::string>>{
           {"kaiming_uniform", "he_uniform"}, {"glorot_normal", "xavier_truncated_normal"}}) {
    ASSERT_EQ(RunTool({input, "--scheme", alias, "-q", "-o", dir / "alias.onnx"}).status, 0);
    ASSERT_EQ(RunTool({input, "--scheme", target, "-q", "-o", dir / "target.onnx"}).status, 0);
    EXPECT_EQ(ReadFile(dir / "alias.onnx"), ReadFile(dir / "target.onnx")) << alias;
  }
}

TEST(CliConventions, UnknownSchemeSuggestsTheClosestName) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  const CommandResult result = RunTool({input, "--scheme", "glorot_unifrom"});
  testing::ExpectUsageError(result, {"unknown scheme 'glorot_unifrom' (did you mean 'glorot_uniform'?)"});
}

TEST(CliConventions, HelpEndsWithExamples) {
  for (const std::string command : {"", "stats", "verify", "diff"}) {
    const CommandResult result =
        RunTool(command.empty() ? std::vector<std::string>{"--help"} : std::vector<std::string>{command, "--help"});
    ASSERT_EQ(result.status, 0) << result;
    const std::string examples = result.out.substr(result.out.rfind("Examples:"));
    EXPECT_THAT(examples, HasSubstr("  onnx-reinit " + command)) << command;
  }
}

TEST(CliConventions, ManPageDocumentsEveryFlag) {
  const std::string page =
      absl::StrReplaceAll(ReadFile(std::string(TESTDATA_DIR) + "/../docs/onnx-reinit.1"), {{"\\-", "-"}});
  const std::regex flag("--[a-z][a-z-]+");
  std::set<std::string> flags;
  for (const std::string command : {"", "stats", "verify", "diff"}) {
    const std::string help =
        RunTool(command.empty() ? std::vector<std::string>{"--help"} : std::vector<std::string>{command, "--help"}).out;
    for (auto it = std::sregex_iterator(help.begin(), help.end(), flag); it != std::sregex_iterator(); ++it) {
      flags.insert(it->str());
    }
  }
  EXPECT_GT(flags.size(), 30u);
  for (const std::string& name : flags) EXPECT_THAT(page, HasSubstr(name));
  for (const std::string& name : SchemeNames()) EXPECT_THAT(page, HasSubstr(name));
}

}  // namespace
}  // namespace onnx_reinit
