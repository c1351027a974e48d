#include "onnx_reinit/report_file.h"

#include "absl/strings/match.h"
#include "onnx_reinit/html_report.h"
#include "onnx_reinit/json_output.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {

namespace {

bool IsHtml(absl::string_view path) { return absl::EndsWith(path, ".html"); }

}  // namespace

bool ReportNeedsStatistics(absl::string_view path) { return !path.empty() && !IsHtml(path); }

absl::Status WriteReinitReport(const std::string& path, const proto::ReinitReport& report, const std::string& input,
                               const std::string& output, const SchemeOptions& scheme, int threads,
                               const OutputOptions& options) {
  if (!IsHtml(path) || report.dry_run()) return WriteFileAtomically(path, ToJson(report), options);
  StatsOptions statistics;
  statistics.threads = threads;
  statistics.scheme = scheme;
  ONNX_REINIT_ASSIGN_OR_RETURN(const std::string html, ComparisonReportHtml(input, output, statistics));
  return WriteFileAtomically(path, html, options);
}

}  // namespace onnx_reinit
