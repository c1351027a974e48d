// The report file of a re-initialization (the CLI's --report, Python's report=): JSON, or a
// self-contained HTML page for a path ending in ".html".
#ifndef ONNX_REINIT_REPORT_FILE_H_
#define ONNX_REINIT_REPORT_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "onnx_reinit/output_file.h"
#include "onnx_reinit/report.pb.h"
#include "onnx_reinit/scheme.h"

namespace onnx_reinit {

// Whether the re-initialization needs ReinitOptions::with_statistics (reinit.h) for a report at `path` (empty:
// none): the JSON report carries each tensor's moments before and after; the HTML page computes
// its own statistics, with histograms, from the two files after the run.
bool ReportNeedsStatistics(absl::string_view path);

// Writes `report`, of the re-initialization of the file `input` into the file `output`, to `path`
// as an OutputFile: the JSON document, or for a path ending in ".html" the page of
// ComparisonReportHtml, which judges the weights against `scheme` (the run's) on `threads` threads.
// A dry run wrote no output to compare, so its report is JSON whatever the path.
absl::Status WriteReinitReport(const std::string& path, const proto::ReinitReport& report, const std::string& input,
                               const std::string& output, const SchemeOptions& scheme, int threads,
                               const OutputOptions& options = {});

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_REPORT_FILE_H_
