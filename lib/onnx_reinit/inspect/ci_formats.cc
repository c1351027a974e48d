#include "onnx_reinit/ci_formats.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace onnx_reinit {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed UTF-8 sequence at text[i] (RFC 3629: no overlongs, no surrogates,
// nothing past U+10FFFF), or 0.
size_t Utf8Length(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  uint8_t low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + length > text.size() || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

std::string Command(absl::string_view command, const std::string& file, absl::string_view title,
                    absl::string_view message) {
  return absl::StrCat("::", command, " file=", EscapeGithubProperty(file), ",title=", EscapeGithubProperty(title),
                      "::", EscapeGithubData(message), "\n");
}

std::string NoWeightMessage(const proto::VerifyReport& report) {
  return absl::StrCat("verify checked no weight against ", report.scheme());
}

std::string Attribute(absl::string_view name, absl::string_view value) {
  return absl::StrCat(" ", name, "=\"", EscapeXml(value), "\"");
}

std::string Testcase(const proto::VerifyReport& report, absl::string_view name, absl::string_view inner) {
  std::string xml = absl::StrCat("    <testcase", Attribute("classname", report.model()), Attribute("name", name));
  return inner.empty() ? absl::StrCat(xml, "/>\n") : absl::StrCat(xml, ">", inner, "</testcase>\n");
}

std::string Failure(absl::string_view message) {
  return absl::StrCat("<failure", Attribute("message", message), Attribute("type", "verify"), ">", EscapeXml(message),
                      "</failure>");
}

std::string Testsuite(const proto::VerifyReport& report, int64_t& tests, int64_t& failures, int64_t& skipped) {
  std::string cases;
  int64_t suite_failures = report.failed();
  for (const proto::VerifyFinding& weight : report.weights()) {
    cases += Testcase(report, weight.name(), weight.problem().empty() ? "" : Failure(weight.problem()));
  }
  for (const proto::UnreadTensor& unjudged : report.unjudged()) {
    cases += Testcase(report, unjudged.name(), absl::StrCat("<skipped", Attribute("message", unjudged.reason()), "/>"));
  }
  if (report.weights().empty()) {
    cases += Testcase(report, "(weights)", Failure(NoWeightMessage(report)));
    ++suite_failures;
  }
  const int64_t suite_tests = report.weights_size() + report.unjudged_size() + (report.weights().empty() ? 1 : 0);
  tests += suite_tests;
  failures += suite_failures;
  skipped += report.unjudged_size();
  return absl::StrCat("  <testsuite", Attribute("name", report.model()), Attribute("tests", absl::StrCat(suite_tests)),
                      Attribute("failures", absl::StrCat(suite_failures)),
                      Attribute("skipped", absl::StrCat(report.unjudged_size())), ">\n", cases, "  </testsuite>\n");
}

}  // namespace

std::string EscapeGithubData(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '%': out += "%25"; break;
      case '\r': out += "%0D"; break;
      case '\n': out += "%0A"; break;
      default: out += c;
    }
  }
  return out;
}

std::string EscapeGithubProperty(absl::string_view text) {
  std::string out;
  for (char c : EscapeGithubData(text)) {
    switch (c) {
      case ':': out += "%3A"; break;
      case ',': out += "%2C"; break;
      default: out += c;
    }
  }
  return out;
}

std::string EscapeXml(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8Length(text, i);
    const char c = text[i];
    if (length == 0 || (static_cast<uint8_t>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')) {
      out += kReplacement;
      i += length == 0 ? 1 : length;
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.append(text.data() + i, length);
    }
    i += length;
  }
  return out;
}

std::string VerifyReportToGithub(const proto::VerifyReport& report) {
  std::string out;
  for (const proto::VerifyFinding& weight : report.weights()) {
    if (weight.problem().empty()) continue;
    out += Command("error", report.model(), weight.name(),
                   absl::StrFormat("'%s' does not match %s: %s", weight.name(), report.scheme(), weight.problem()));
  }
  if (report.weights().empty()) out += Command("error", report.model(), "onnx-reinit verify", NoWeightMessage(report));
  for (const proto::UnreadTensor& unjudged : report.unjudged()) {
    out += Command("warning", report.model(), unjudged.name(),
                   absl::StrFormat("'%s' (%s, %s) not judged: %s", unjudged.name(), unjudged.role(), unjudged.dtype(),
                                   unjudged.reason()));
  }
  return out;
}

std::string VerifyReportsToJunit(absl::Span<const proto::VerifyReport> reports) {
  int64_t tests = 0, failures = 0, skipped = 0;
  std::string suites;
  for (const proto::VerifyReport& report : reports) suites += Testsuite(report, tests, failures, skipped);
  return absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites",
                      Attribute("name", "onnx-reinit verify"), Attribute("tests", absl::StrCat(tests)),
                      Attribute("failures", absl::StrCat(failures)), Attribute("skipped", absl::StrCat(skipped)), ">\n",
                      suites, "</testsuites>\n");
}

}  // namespace onnx_reinit
