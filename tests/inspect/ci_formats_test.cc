#include "onnx_reinit/ci_formats.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

using ::testing::HasSubstr;

// GitHub's toolkit (actions/toolkit, packages/core/src/command.ts: escapeData, escapeProperty).
TEST(EscapeGithub, EscapesAsGithubsToolkit) {
  EXPECT_EQ(EscapeGithubData("50% off\r\nnext: a,b"), "50%25 off%0D%0Anext: a,b");
  EXPECT_EQ(EscapeGithubProperty("50% off\r\nnext: a,b"), "50%25 off%0D%0Anext%3A a%2Cb");
  EXPECT_EQ(EscapeGithubProperty("%3A"), "%253A");  // escaped once, not twice
}

TEST(EscapeXml, EscapesMarkupAndReplacesWhatXmlCannotHold) {
  EXPECT_EQ(EscapeXml(R"(<a href="x">&'</a>)"), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
  EXPECT_EQ(EscapeXml("tab\tnew\nline"), "tab\tnew\nline");
  EXPECT_EQ(EscapeXml(std::string("nul\0bell\a", 9)),
            "nul\xEF\xBF\xBD"
            "bell\xEF\xBF\xBD");
  EXPECT_EQ(EscapeXml("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");  // UTF-8 kept
  EXPECT_EQ(EscapeXml("\xFF\xC3"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // not UTF-8
  EXPECT_EQ(EscapeXml("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
}

proto::VerifyReport Report() {
  proto::VerifyReport report;
  report.set_model("models/m.onnx");
  report.set_scheme("he_normal");
  report.add_weights()->set_name("conv.weight");
  proto::VerifyFinding& bad = *report.add_weights();
  bad.set_name("fc,weight: 1");
  bad.set_problem("std 0.5 is 2x the target 0.25 (tolerance 5.0%)");
  report.set_failed(1);
  proto::UnreadTensor& unjudged = *report.add_unjudged();
  unjudged.set_name("q");
  unjudged.set_role("quantized");
  unjudged.set_dtype("INT8");
  unjudged.set_reason("quantized (INT8): verify reads float weights only");
  return report;
}

TEST(VerifyReportToGithub, OneErrorPerFailingWeightAndAWarningPerUnjudgedOne) {
  EXPECT_EQ(VerifyReportToGithub(Report()),
            "::error file=models/m.onnx,title=fc%2Cweight%3A 1::'fc,weight: 1' does not match he_normal: std 0.5 "
            "is 2x the target 0.25 (tolerance 5.0%25)\n"
            "::warning file=models/m.onnx,title=q::'q' (quantized, INT8) not judged: quantized (INT8): verify "
            "reads float weights only\n");
  proto::VerifyReport empty;
  empty.set_model("m.onnx");
  empty.set_scheme("he_normal");
  EXPECT_EQ(VerifyReportToGithub(empty),
            "::error file=m.onnx,title=onnx-reinit verify::verify checked no weight against he_normal\n");
}

TEST(VerifyReportsToJunit, CountsTestsFailuresAndSkips) {
  const std::string xml = VerifyReportsToJunit({Report()});
  EXPECT_THAT(xml, HasSubstr(R"(<testsuites name="onnx-reinit verify" tests="3" failures="1" skipped="1">)"));
  EXPECT_THAT(xml, HasSubstr(R"(<testcase classname="models/m.onnx" name="conv.weight"/>)"));
  EXPECT_THAT(xml, HasSubstr(R"(<skipped message="quantized (INT8): verify reads float weights only"/>)"));
}

}  // namespace
}  // namespace onnx_reinit
