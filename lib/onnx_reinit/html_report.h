// Stats reports as one self-contained HTML page, for people scanning hundreds of tensors.
//
// The page needs nothing from the network (inline CSS and SVG, a few lines of inline JavaScript to
// sort and filter the table) and opens offline. It shows: the model (file, producer, opset, IR,
// parameters and bytes by dtype); a chart, in graph order, of every weight's std on a log scale
// against the scheme's target std with verify's tolerance band (each weight's std_tolerance),
// offenders in red; a histogram per tensor (small multiples); a table with every column of `stats`,
// sortable and filterable.
// With two reports (before and after a re-initialization) every part shows both side by side.
#ifndef ONNX_REINIT_HTML_REPORT_H_
#define ONNX_REINIT_HTML_REPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/stats.pb.h"

namespace onnx_reinit {

// The page for one report (from ComputeModelStats, ideally with histograms).
std::string StatsReportToHtml(const proto::StatsReport& report);

// The page for a re-initialization: `before` of the input and `after` of the output, whose
// tensors are matched by name.
std::string ComparisonToHtml(const proto::StatsReport& before, const proto::StatsReport& after);

inline constexpr int kComparisonHistogramBins = 32;

// The page for a re-initialization of the file `input` into the file `output`: their StatsFile
// reports with `options` (kComparisonHistogramBins bins unless it sets others) side by side.
absl::StatusOr<std::string> ComparisonReportHtml(const std::string& input, const std::string& output,
                                                 StatsOptions options);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_HTML_REPORT_H_
