// verify's results in the formats CI systems read: GitHub Actions workflow commands (annotations
// on the run and the pull request) and JUnit XML (GitLab's artifacts:reports:junit, Jenkins, test
// report actions).
#ifndef ONNX_REINIT_CI_FORMATS_H_
#define ONNX_REINIT_CI_FORMATS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "onnx_reinit/stats.pb.h"

namespace onnx_reinit {

// One workflow command per line: `::error file=MODEL,title=TENSOR::MESSAGE` for each failing
// weight (and one when no weight was checked), `::warning ...` for each weight verify could not
// judge. Escaped as GitHub's toolkit escapes (EscapeGithubData, EscapeGithubProperty).
std::string VerifyReportToGithub(const proto::VerifyReport& report);

// <testsuites> with a <testsuite> per report (named by its model): a <testcase> per checked weight
// (classname the model, name the tensor), with a <failure> holding its problem when it fails, a
// skipped testcase per weight verify could not judge, and a failing one when it checked no weight.
std::string VerifyReportsToJunit(absl::Span<const proto::VerifyReport> reports);

// A workflow command's message: % CR LF as %25 %0D %0A.
std::string EscapeGithubData(absl::string_view text);
// A workflow command's property value: also : and , (as %3A %2C).
std::string EscapeGithubProperty(absl::string_view text);
// Text for XML 1.0 attributes and content: & < > " ' as entities, and what XML cannot hold (control
// characters other than tab, LF, CR; bytes that are not UTF-8) as U+FFFD.
std::string EscapeXml(absl::string_view text);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_CI_FORMATS_H_
