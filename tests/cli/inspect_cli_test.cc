// End-to-end tests of `onnx-reinit stats`, `verify`, `diff`, `ops` and the re-init `--report`.
#include <algorithm>
#include <filesystem>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "google/protobuf/util/message_differencer.h"
#include "onnx_reinit/op_table.h"
#include "onnx_reinit/report.pb.h"
#include "onnx_reinit/stats.pb.h"
#include "tests/testing/cli_runner.h"

namespace onnx_reinit {
namespace {

using namespace ::onnx_reinit::testing;  // NOLINT: test helpers
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

std::string Reinit(const TempDir& dir, const std::string& fixture, const std::string& scheme,
                   std::vector<std::string> extra = {}) {
  const std::string output = dir / (fixture + "." + scheme + ".onnx");
  std::vector<std::string> args = {CopyFixture(dir, fixture), "--scheme", scheme, "-o", output, "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  const CommandResult result = RunTool(args);
  EXPECT_EQ(result.status, 0) << result;
  return output;
}

TEST(OpsCli, TablePrintsEachInputWithItsRoleAndFanRule) {
  const CommandResult result = RunTool({"ops"});
  ASSERT_EQ(result.status, 0) << result;
  const std::vector<std::string> lines = Lines(result.out);
  ASSERT_EQ(lines.size(), 1u + DescribeOpTable().inputs_size()) << result;
  EXPECT_THAT(lines[0], AllOf(StartsWith("domain"), HasSubstr("op"), HasSubstr("input"), HasSubstr("role"),
                              HasSubstr("fans"), HasSubstr("parts"), HasSubstr("storage")));
  EXPECT_THAT(lines[1], AllOf(StartsWith("ai.onnx"), HasSubstr("Conv"), HasSubstr("1 W"), HasSubstr("weight"),
                              HasSubstr("[M, C/group, k...]")));
  EXPECT_TRUE(result.err.empty()) << result;
}

TEST(OpsCli, JsonAndMarkdownAreTheTable) {
  const CommandResult json = RunTool({"ops", "--json"});
  ASSERT_EQ(json.status, 0) << json;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(ParseJson<proto::OpTableListing>(json.out),
                                                                 DescribeOpTable()));
  const CommandResult markdown = RunTool({"ops", "--markdown"});
  ASSERT_EQ(markdown.status, 0) << markdown;
  EXPECT_EQ(markdown.out, OpTableMarkdown());
  EXPECT_EQ(RunTool({"ops", "--json", "--markdown"}).status, 2);
}

TEST(StatsCli, TablePrintsEveryFloatTensorAndTotals) {
  TempDir dir;
  const CommandResult result = RunTool({"stats", CopyFixture(dir, "int_and_shape.onnx")});
  ASSERT_EQ(result.status, 0) << result;
  const std::vector<std::string> lines = Lines(result.out);
  ASSERT_EQ(lines.size(), 6u) << result;
  EXPECT_THAT(lines[0], AllOf(StartsWith("tensor"), HasSubstr("mean"), HasSubstr("std"), HasSubstr("zeros"),
                              HasSubstr("fan_in")));
  EXPECT_THAT(lines[1], AllOf(StartsWith("conv_W"), HasSubstr("Conv:1"), HasSubstr("weight")));
  EXPECT_EQ(lines[5], "4 tensors, 369 parameters; float32 1.44 KiB");
}

TEST(StatsCli, JsonCarriesEveryField) {
  TempDir dir;
  const CommandResult result =
      RunTool({"stats", CopyFixture(dir, "torch_cnn.onnx"), "--json", "--scheme", "he", "--hist"});
  ASSERT_EQ(result.status, 0) << result;
  for (const char* field : {"\"model\"",     "\"tensors\"",     "\"totals\"",         "\"name\"",
                            "\"op_type\"",   "\"input_index\"", "\"role\"",           "\"dtype\"",
                            "\"shape\"",     "\"count\"",       "\"mean\"",           "\"std\"",
                            "\"min\"",       "\"max\"",         "\"zeros\"",          "\"nan\"",
                            "\"inf\"",       "\"fan_in\"",      "\"fan_out\"",        "\"target_std\"",
                            "\"std_ratio\"", "\"histogram\"",   "\"bytes_per_dtype\""}) {
    EXPECT_THAT(result.out, HasSubstr(field));
  }
  const auto report = ParseJson<proto::StatsReport>(result.out);
  ASSERT_EQ(report.tensors_size(), 8);
  EXPECT_EQ(report.tensors(0).name(), "onnx::Conv_23");
  EXPECT_EQ(report.tensors(0).fan_in(), 27);
  EXPECT_EQ(report.tensors(0).histogram().counts_size(), 16);
  EXPECT_EQ(report.totals().parameters(), 554);
}

TEST(StatsCli, NumbersAreIdenticalForAnyThreadCount) {
  TempDir dir;
  const std::string model = CopyFixture(dir, "dtypes.onnx");
  const CommandResult one = RunTool({"stats", model, "--json", "--threads", "1"});
  const CommandResult three = RunTool({"stats", model, "--json", "--threads", "3"});
  ASSERT_EQ(one.status, 0) << one;
  EXPECT_EQ(one.out, three.out);
}

// A minimal RFC 4180 reader: quoted cells may hold commas and doubled quotes; lines end in CRLF.
std::vector<std::vector<std::string>> ParseCsv(const std::string& csv) {
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < csv.size(); ++i) {
    const char c = csv[i];
    if (quoted) {
      if (c == '"' && i + 1 < csv.size() && csv[i + 1] == '"') {
        rows.back().back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        rows.back().back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().emplace_back();
    } else if (c == '\r' && i + 1 < csv.size() && csv[i + 1] == '\n') {
      rows.emplace_back(1);
      ++i;
    } else {
      rows.back().back() += c;
    }
  }
  rows.pop_back();  // after the last CRLF
  return rows;
}

TEST(StatsCli, CsvHasTheJsonNumbersExactly) {
  TempDir dir;
  const std::string model = CopyFixture(dir, "torch_cnn.onnx");
  const CommandResult csv = RunTool({"stats", model, "--csv", "--scheme", "he", "--hist"});
  const CommandResult json = RunTool({"stats", model, "--json", "--scheme", "he", "--hist"});
  ASSERT_EQ(csv.status, 0) << csv;
  const auto report = ParseJson<proto::StatsReport>(json.out);
  const std::vector<std::vector<std::string>> rows = ParseCsv(csv.out);
  ASSERT_EQ(rows.size(), 1u + report.tensors_size());
  const std::vector<std::string>& header = rows[0];
  auto column = [&](const std::string& name) {
    const auto at = std::find(header.begin(), header.end(), name);
    EXPECT_NE(at, header.end()) << name;
    return at - header.begin();
  };
  for (int t = 0; t < report.tensors_size(); ++t) {
    const std::vector<std::string>& row = rows[t + 1];
    const proto::TensorStats& expected = report.tensors(t);
    ASSERT_EQ(row.size(), header.size());
    EXPECT_EQ(row[column("name")], expected.name());
    EXPECT_EQ(row[column("shape")], absl::StrCat("[", absl::StrJoin(expected.shape(), ", "), "]"));
    for (const auto& [name, value] : std::vector<std::pair<std::string, double>>{{"mean", expected.mean()},
                                                                                 {"std", expected.std()},
                                                                                 {"min", expected.min()},
                                                                                 {"max", expected.max()},
                                                                                 {"zeros", expected.zeros()}}) {
      EXPECT_EQ(std::strtod(row[column(name)].c_str(), nullptr), value) << expected.name() << " " << name;
    }
    EXPECT_EQ(row[column("fan_in")], expected.has_fan_in() ? absl::StrCat(expected.fan_in()) : "");
    EXPECT_EQ(row[column("histogram.counts")],
              absl::StrCat("[", absl::StrJoin(expected.histogram().counts(), ", "), "]"));
  }
}

TEST(StatsCli, HashAddsTheSha256ToTableJsonAndCsv) {
  TempDir dir;
  const std::string model = CopyFixture(dir, "torch_cnn.onnx");
  const CommandResult table = RunTool({"stats", model, "--hash"});
  const CommandResult json = RunTool({"stats", model, "--hash", "--json"});
  const CommandResult csv = RunTool({"stats", model, "--hash", "--csv"});
  ASSERT_EQ(table.status, 0) << table;
  const auto report = ParseJson<proto::StatsReport>(json.out);
  ASSERT_EQ(report.tensors(0).sha256().size(), 64u);
  EXPECT_THAT(Lines(table.out)[0], HasSubstr("sha256"));
  EXPECT_THAT(table.out, HasSubstr(report.tensors(0).sha256()));
  EXPECT_EQ(Lines(table.out).back(), "sha256 of all tensors: " + report.tensors_sha256());
  const std::vector<std::vector<std::string>> rows = ParseCsv(csv.out);
  const auto column = std::find(rows[0].begin(), rows[0].end(), "sha256") - rows[0].begin();
  for (int t = 0; t < report.tensors_size(); ++t) EXPECT_EQ(rows[t + 1][column], report.tensors(t).sha256());
}

TEST(StatsCli, CsvAndJsonExcludeEachOther) {
  TempDir dir;
  const CommandResult result = RunTool({"stats", CopyFixture(dir, "torch_cnn.onnx"), "--csv", "--json"});
  EXPECT_EQ(result.status, 2) << result;
}

TEST(StatsCli, ExitsTwoOnBadOptionsAndOneOnABadModelOrAnUnwritableFile) {
  TempDir dir;
  const std::string model = CopyFixture(dir, "torch_cnn.onnx");
  EXPECT_EQ(RunTool({"stats", model, "--scheme", "he", "--std", "2"}).status, 2);
  EXPECT_EQ(RunTool({"stats", CopyFixture(dir, "malformed/truncated.onnx")}).status, 1);
  EXPECT_EQ(RunTool({"stats", model, "--html", dir / "no/dir/r.html"}).status, 1);
}

TEST(StatsCli, BadModelIsAnError) {
  TempDir dir;
  ExpectOneLineError(RunTool({"stats", CopyFixture(dir, "malformed/truncated.onnx")}),
                     {"truncated.onnx", "not an ONNX model"});
}

TEST(InspectCli, AmbiguousModelsAreErrorsNamingTheFile) {
  TempDir dir;
  const std::string bad = CopyFixture(dir, "malformed/duplicate_initializer.onnx");
  const std::string good = CopyFixture(dir, "torch_cnn.onnx");
  const std::string problem = bad + ": two initializers are named 'W'";
  ExpectOneLineError(RunTool({"stats", bad}), {problem});
  ExpectOneLineError(RunTool({"verify", bad, "--scheme", "he"}), {problem});
  const CommandResult diff = RunTool({"diff", good, bad});
  ExpectOneLineError(diff, {problem});
  EXPECT_EQ(diff.status, 2) << diff;
}

TEST(VerifyCli, PassesOnAFreshReinitAndFailsOnAnotherScheme) {
  TempDir dir;
  const std::string he = Reinit(dir, "torch_dcgan.onnx", "he");
  const CommandResult pass = RunTool({"verify", he, "--scheme", "he"});
  EXPECT_EQ(pass.status, 0) << pass;
  EXPECT_THAT(pass.out, StartsWith("ok: 2 weights"));

  const CommandResult fail = RunTool({"verify", he, "--scheme", "xavier_uniform"});
  EXPECT_EQ(fail.status, 1) << fail;
  EXPECT_THAT(fail.out, AllOf(HasSubstr("net.0.weight"), HasSubstr("FAILED: 2 of 2 weights")));
}

TEST(VerifyCli, FailsOnPyTorchDefaultWeightsAgainstHe) {
  TempDir dir;
  const CommandResult result = RunTool({"verify", CopyFixture(dir, "torch_cnn.onnx"), "--scheme", "he", "--json"});
  EXPECT_EQ(result.status, 1) << result;
  const auto report = ParseJson<proto::VerifyReport>(result.out);
  EXPECT_EQ(report.failed(), 4);
}

TEST(InspectCli, TensorsOfNewerDataTypesAreNamedNotLeftOut) {
  TempDir dir;
  const std::string model = CopyFixture(dir, "malformed/float8_weight.onnx");
  const CommandResult stats = RunTool({"stats", model});
  ASSERT_EQ(stats.status, 0) << stats;
  EXPECT_EQ(Lines(stats.out).back(),
            "not read: 1 tensor of data types newer than this build's ONNX library: 'W' (FLOAT8E4M3FN)");
  const auto json = ParseJson<proto::StatsReport>(RunTool({"stats", model, "--json"}).out);
  ASSERT_EQ(json.unread_size(), 1);
  EXPECT_EQ(json.unread(0).name(), "W");

  const CommandResult verify = RunTool({"verify", model, "--scheme", "he"});
  EXPECT_EQ(verify.status, 1) << verify;
  EXPECT_EQ(verify.out, "FAILED: verify checked no weight of " + model +
                            " against he_normal\nnot judged: 'W' (weight, FLOAT8E4M3FN): data type "
                            "FLOAT8E4M3FN (17) is newer than this build's ONNX library\n");
  const CommandResult verify_json = RunTool({"verify", model, "--scheme", "he", "--json"});
  EXPECT_EQ(verify_json.status, 1) << verify_json;
  const auto report = ParseJson<proto::VerifyReport>(verify_json.out);
  EXPECT_FALSE(report.passed());
  ASSERT_EQ(report.unjudged_size(), 1);
  EXPECT_EQ(report.unjudged(0).dtype(), "FLOAT8E4M3FN");
}

TEST(VerifyCli, CountsTheTensorsItDoesNotCheckByRole) {
  TempDir dir;
  const std::string he = Reinit(dir, "torch_cnn.onnx", "he");
  const CommandResult result = RunTool({"verify", he, "--scheme", "he"});
  EXPECT_EQ(result.status, 0) << result;
  EXPECT_EQ(Lines(result.out).back(), "not checked (verify checks weights only): 4 bias; --json lists them");
}

TEST(VerifyCli, GithubFormatAnnotatesEachFailingWeight) {
  TempDir dir;
  const std::string model = CopyFixture(dir, "torch_cnn.onnx");
  const CommandResult result = RunTool({"verify", model, "--scheme", "he", "--format", "github"});
  EXPECT_EQ(result.status, 1) << result;
  const std::vector<std::string> lines = Lines(result.out);
  const auto annotations = std::count_if(
      lines.begin(), lines.end(), [](const std::string& line) { return absl::StartsWith(line, "::error file="); });
  EXPECT_EQ(annotations, 4);  // the four weights with PyTorch's default init
  EXPECT_THAT(lines[0], StartsWith("::error file=" + model +
                                   ",title=onnx%3A%3AConv_23::'onnx::Conv_23' does not "
                                   "match he_normal: std "));
  EXPECT_THAT(result.out, HasSubstr("FAILED: 4 of 4 weights"));
  EXPECT_EQ(RunTool({"verify", model, "--scheme", "he", "--format", "yaml"}).status, 2);
}

TEST(VerifyCli, JunitIsWrittenForSeveralModelsAndNotOnError) {
  TempDir dir;
  const std::string fresh = Reinit(dir, "torch_cnn.onnx", "he");
  const std::string original = CopyFixture(dir, "torch_cnn.onnx");
  const CommandResult result = RunTool({"verify", fresh, original, "--scheme", "he", "--junit", dir / "v.xml"});
  EXPECT_EQ(result.status, 1) << result;
  EXPECT_THAT(result.out,
              AllOf(HasSubstr("ok: 4 weights of " + fresh), HasSubstr("FAILED: 4 of 4 weights of " + original)));
  const std::string xml = ReadFile(dir / "v.xml");
  EXPECT_THAT(xml, HasSubstr(R"(<testsuites name="onnx-reinit verify" tests="8" failures="4" skipped="0">)"));

  const CommandResult error =
      RunTool({"verify", fresh, CopyFixture(dir, "malformed/empty.onnx"), "--scheme", "he", "--junit", dir / "e.xml"});
  ExpectOneLineError(error, {"empty.onnx"});
  EXPECT_EQ(error.status, 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "e.xml"));
}

TEST(VerifyCli, ErrorsExitTwo) {
  TempDir dir;
  const CommandResult missing_scheme = RunTool({"verify", CopyFixture(dir, "torch_cnn.onnx")});
  EXPECT_EQ(missing_scheme.status, 2) << missing_scheme;
  const CommandResult bad_model = RunTool({"verify", CopyFixture(dir, "malformed/empty.onnx"), "--scheme", "he"});
  EXPECT_EQ(bad_model.status, 2) << bad_model;
}

TEST(DiffCli, ExitCodesFollowDiff) {
  TempDir dir;
  const std::string original = CopyFixture(dir, "torch_cnn.onnx");
  // Biases kept, so that the diff lists the four weights only.
  const std::string reinitialized = Reinit(dir, "torch_cnn.onnx", "he", {"--rule", "role:bias=keep"});

  const CommandResult same = RunTool({"diff", original, original});
  EXPECT_EQ(same.status, 0) << same;
  EXPECT_EQ(same.out, "0 tensors differ, 8 identical\n");

  const CommandResult changed = RunTool({"diff", original, reinitialized});
  EXPECT_EQ(changed.status, 1) << changed;
  EXPECT_THAT(changed.out,
              AllOf(HasSubstr("fc.weight"), HasSubstr("values"), HasSubstr("4 tensors differ, 4 identical")));
  EXPECT_THAT(changed.out, ::testing::Not(HasSubstr("fc.bias")));

  const CommandResult structural = RunTool({"diff", original, CopyFixture(dir, "torch_dcgan.onnx")});
  EXPECT_EQ(structural.status, 1) << structural;
  EXPECT_THAT(structural.out, AllOf(HasSubstr("only in A"), HasSubstr("only in B")));

  const CommandResult error = RunTool({"diff", original, CopyFixture(dir, "malformed/empty.onnx")});
  EXPECT_EQ(error.status, 2) << error;
}

TEST(DiffCli, JsonListsTheDifferences) {
  TempDir dir;
  const std::string original = CopyFixture(dir, "torch_cnn.onnx");
  const CommandResult result = RunTool({"diff", original, Reinit(dir, "torch_cnn.onnx", "he"), "--json"});
  EXPECT_EQ(result.status, 1) << result;
  const auto report = ParseJson<proto::DiffReport>(result.out);
  EXPECT_EQ(report.differing(), 8);  // weights and (zeroed) biases
  EXPECT_EQ(report.tensors(0).change(), proto::TensorDiff::VALUES);
}

TEST(ReinitCli, ReportHasStatisticsBeforeAndAfter) {
  TempDir dir;
  const std::string report_path = dir / "report.json";
  const CommandResult result = RunTool(
      {CopyFixture(dir, "torch_cnn.onnx"), "--scheme", "he", "-o", dir / "out.onnx", "--report", report_path, "-q"});
  ASSERT_EQ(result.status, 0) << result;
  const auto report = ParseJson<proto::ReinitReport>(ReadFile(report_path));
  ASSERT_EQ(report.tensors_size(), 8);
  const proto::TensorRecord& fc = report.tensors(6);
  EXPECT_EQ(fc.name(), "fc.weight");
  EXPECT_EQ(fc.before().count(), 160);
  EXPECT_NE(fc.before().std(), fc.after().std());
  EXPECT_NEAR(fc.after().std(), fc.distribution().std(), 0.5 * fc.distribution().std());
  EXPECT_EQ(report.totals().tensors(), 8);
  EXPECT_EQ(report.totals().parameters(), 554);
  EXPECT_EQ(report.tensors(7).role(), "bias");
  EXPECT_EQ(report.tensors(7).after().std(), 0.0);
}

}  // namespace
}  // namespace onnx_reinit
