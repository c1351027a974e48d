#include "tools/stats_command.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/csv_report.h"
#include "onnx_reinit/html_report.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/options.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/json_output.h"
#include "tools/exit_status.h"
#include "tools/scheme_flags.h"
#include "tools/text_table.h"

namespace onnx_reinit::cli {
namespace {

constexpr int kHistogramBins = 16;
constexpr int kHtmlHistogramBins = 32;  // the same page as a re-initialization's

// One character per bin, its height proportional to the bin's count.
std::string Sparkline(const proto::Histogram& histogram) {
  static const char* const kBars[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const int64_t peak = *std::max_element(histogram.counts().begin(), histogram.counts().end());
  std::string line;
  for (int64_t count : histogram.counts()) {
    const int level = peak == 0 ? 0 : count == 0 ? 0 : 1 + static_cast<int>(7 * count / peak);
    line += kBars[level];
  }
  return line;
}

std::string Consumer(const proto::TensorStats& t) {
  return t.op_type().empty() ? "-" : absl::StrCat(t.op_type(), ":", t.input_index());
}

absl::StatusOr<proto::StatsReport> Compute(const StatsFlags& flags) {
  StatsOptions options;
  options.threads = flags.threads;
  // The HTML report draws a histogram per tensor.
  options.histogram_bins = flags.histogram ? kHistogramBins : !flags.html.empty() ? kHtmlHistogramBins : 0;
  options.spectral = flags.spectral;
  options.hash = flags.hash;
  if (!flags.scheme.scheme().empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(options.scheme, SchemeFromOptions(flags.scheme));
  }
  return StatsFile(flags.model, options);
}

// The note under the table naming the tensors stats could not read.
std::string FormatUnread(const proto::StatsReport& report) {
  if (report.unread().empty()) return "";
  std::vector<std::string> names;
  for (const proto::UnreadTensor& t : report.unread())
    names.push_back(absl::StrFormat("'%s' (%s)", t.name(), t.dtype()));
  return absl::StrFormat("not read: %d tensor%s of data types newer than this build's ONNX library: %s\n",
                         report.unread_size(), report.unread_size() == 1 ? "" : "s", absl::StrJoin(names, ", "));
}

}  // namespace

std::string FormatStatsReport(const proto::StatsReport& report, size_t max_width) {
  const bool any_nonfinite = std::any_of(report.tensors().begin(), report.tensors().end(),
                                         [](const auto& t) { return t.nan() > 0 || t.inf() > 0; });
  const bool with_target = !report.scheme().empty();
  const bool with_histogram =
      std::any_of(report.tensors().begin(), report.tensors().end(), [](const auto& t) { return t.has_histogram(); });
  std::vector<TextTable::Column> columns = {
      {"tensor"},    {"node"},      {"consumer"},  {"role"},        {"dtype"},        {"shape"},        {"mean", true},
      {"std", true}, {"min", true}, {"max", true}, {"zeros", true}, {"fan_in", true}, {"fan_out", true}};
  if (any_nonfinite) columns.insert(columns.end(), {{"nan", true}, {"inf", true}});
  if (with_target) columns.insert(columns.end(), {{"target_std", true}, {"std/target", true}});
  const bool with_spectral = std::any_of(report.tensors().begin(), report.tensors().end(),
                                         [](const auto& t) { return t.has_top_singular_value(); });
  if (with_spectral) columns.insert(columns.end(), {{"sigma1", true}, {"sigma1/edge", true}});
  const bool with_hash = report.has_tensors_sha256();
  if (with_hash) columns.push_back({"sha256"});
  if (with_histogram) columns.push_back({"histogram"});
  TextTable table(columns);
  for (const proto::TensorStats& t : report.tensors()) {
    std::vector<std::string> row = {t.name(),
                                    t.node().empty() ? "-" : t.node(),
                                    Consumer(t),
                                    t.role(),
                                    t.dtype(),
                                    FormatShape(t.shape()),
                                    FormatNumber(t.mean()),
                                    FormatNumber(t.std()),
                                    FormatNumber(t.min()),
                                    FormatNumber(t.max()),
                                    absl::StrFormat("%.1f%%", 100 * t.zeros()),
                                    t.has_fan_in() ? absl::StrCat(t.fan_in()) : "",
                                    t.has_fan_out() ? absl::StrCat(t.fan_out()) : ""};
    if (any_nonfinite) row.insert(row.end(), {absl::StrCat(t.nan()), absl::StrCat(t.inf())});
    if (with_target) {
      row.push_back(t.has_target_std() ? FormatNumber(t.target_std()) : "");
      row.push_back(t.has_std_ratio() ? absl::StrFormat("%.3f", t.std_ratio()) : "");
    }
    if (with_spectral) {
      row.push_back(t.has_top_singular_value() ? FormatNumber(t.top_singular_value()) : "");
      row.push_back(t.has_spectral_ratio() ? absl::StrFormat("%.3f", t.spectral_ratio()) : "");
    }
    if (with_hash) row.push_back(t.sha256());
    if (with_histogram) row.push_back(Sparkline(t.histogram()));
    table.AddRow(std::move(row));
  }
  std::vector<std::string> bytes;
  for (const proto::DtypeBytes& entry : report.totals().bytes_per_dtype()) {
    bytes.push_back(absl::StrCat(entry.dtype(), " ", FormatBytes(entry.bytes())));
  }
  const int64_t tensors = report.totals().tensors();
  return absl::StrCat(table.Render(max_width), tensors, tensors == 1 ? " tensor, " : " tensors, ",
                      WithThousands(report.totals().parameters()), " parameters", bytes.empty() ? "" : "; ",
                      absl::StrJoin(bytes, ", "), "\n",
                      with_hash ? absl::StrCat("sha256 of all tensors: ", report.tensors_sha256(), "\n") : "",
                      FormatUnread(report));
}

void AddStatsFlags(CLI::App& app, StatsFlags& flags) {
  app.add_option("model", flags.model, "The ONNX model to inspect")->required()->check(CLI::ExistingFile);
  CLI::Option* json =
      app.add_flag("--json", flags.json, "Print one JSON document (schema: proto/onnx_reinit/stats.proto)");
  app.add_flag("--csv", flags.csv, "Print CSV: a header, then one row per tensor with the JSON's fields")
      ->excludes(json);
  app.add_option("--html", flags.html,
                 "Also write a self-contained HTML report there: summary, std chart, histograms, "
                 "sortable table");
  app.add_flag("--hist", flags.histogram, "Add a 16-bin histogram per tensor");
  app.add_flag("--hash", flags.hash,
               "Add each tensor's SHA-256 (of its values as stored, in raw_data's layout) and a digest of "
               "them all");
  app.add_flag("--spectral", flags.spectral,
               "Add each weight's largest singular value and its ratio to the edge of a fresh "
               "random matrix of its shape and std (about 1 when fresh, above when trained)");
  app.add_option("--threads", flags.threads, "Threads; 0 = all cores")->default_val(0)->check(CLI::Range(0, 1024));
  AddSchemeFlags(app, flags.scheme, /*scheme_required=*/false);
}

int RunStats(const StatsFlags& flags) {
  const absl::StatusOr<proto::StatsReport> report = Compute(flags);
  if (!report.ok()) return ReportError(report.status(), CommandType::kAction);
  if (!flags.html.empty()) {
    if (const absl::Status written = WriteFileAtomically(flags.html, StatsReportToHtml(*report)); !written.ok()) {
      return ReportError(written, CommandType::kAction);
    }
  }
  if (flags.json) {
    std::cout << ToJson(*report);
  } else if (flags.csv) {
    std::cout << StatsReportToCsv(*report);
  } else {
    std::cout << FormatStatsReport(*report, TerminalWidth());
  }
  return 0;
}

}  // namespace onnx_reinit::cli
