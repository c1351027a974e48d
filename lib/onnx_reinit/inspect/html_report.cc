#include "onnx_reinit/html_report.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "onnx_reinit/byte_size.h"
#include "onnx_reinit/numerics/spectral.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {
namespace {

constexpr double kChartWidth = 1000, kChartHeight = 260, kChartLeft = 60, kChartBottom = 30;
constexpr double kHistogramWidth = 150, kHistogramHeight = 44;

std::string Escape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Number(double x) { return absl::StrFormat("%.4g", x); }

std::string Shape(const proto::TensorStats& t) { return absl::StrCat("[", absl::StrJoin(t.shape(), ", "), "]"); }

// Outside verify's std tolerance (filled by ComputeModelStats with the function verify uses).
bool Offender(const proto::TensorStats& t) {
  return t.has_std_ratio() && t.has_std_tolerance() && std::abs(t.std_ratio() - 1) > t.std_tolerance();
}

bool SpectralOffender(const proto::TensorStats& t) {
  if (!t.has_top_singular_value() || !t.has_spectral_ratio()) return false;
  const std::optional<MatrixShape> shape = MatrixShapeOf(t.shape());
  return shape && t.spectral_ratio() > SpectralLimit(*shape, 1) / SpectralEdge(*shape, 1);
}

constexpr char kStyle[] = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:20px;font-weight:600}
header .sub{color:#aeb6c6;font-size:13px}
main{padding:18px 28px;max-width:1400px}
section{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:14px 18px;margin:0 0 18px}
h2{font-size:15px;margin:0 0 10px;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #e2e5ea;border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:17px}
.card span{color:#5f6b7e;font-size:12px}
.legend{font-size:12px;color:#5f6b7e;margin:4px 0 0}
.legend i{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px 0 12px;vertical-align:-1px}
svg text{font-size:11px;fill:#5f6b7e}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:8px}
details summary{cursor:pointer;color:#5f6b7e;margin:12px 0 8px}
.hist{border:1px solid #e2e5ea;border-radius:5px;padding:4px 5px 2px;font-size:11px;overflow:hidden}
.hist.bad{border-color:#d6453d;background:#fff5f4}
.hist .n{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;color:#1d2330}
.hist .r{color:#5f6b7e}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{padding:3px 7px;border-bottom:1px solid #eef0f3;text-align:right;white-space:nowrap}
th{position:sticky;top:0;background:#f0f2f5;cursor:pointer;user-select:none}
th:hover{background:#e3e7ed}
td.t,th.t{text-align:left}
td.t{max-width:380px;overflow:hidden;text-overflow:ellipsis}
tr.bad td{background:#fff1f0}
.scroll{max-height:640px;overflow:auto}
input[type=search]{padding:5px 9px;border:1px solid #c9ced6;border-radius:5px;width:320px;margin:0 0 8px}
.side{display:grid;grid-template-columns:1fr 1fr;gap:6px}
.tag{display:inline-block;padding:0 5px;border-radius:3px;background:#eef0f3;color:#5f6b7e;font-size:10px;margin-left:4px}
)css";

// Sorting by a column's data-v (numbers) or text, and filtering rows by a substring.
constexpr char kScript[] = R"js(
(function(){
var table=document.getElementById('tensors');
var body=table.tBodies[0];
var heads=table.tHead.rows[0].cells;
for(var c=0;c<heads.length;c++){(function(c){heads[c].addEventListener('click',function(){
var up=heads[c].getAttribute('data-up')!=='1';
for(var k=0;k<heads.length;k++)heads[k].removeAttribute('data-up');
heads[c].setAttribute('data-up',up?'1':'0');
var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){
var x=a.cells[c].getAttribute('data-v'),y=b.cells[c].getAttribute('data-v');
var r=(x!==null&&y!==null)?(parseFloat(x)-parseFloat(y)):a.cells[c].textContent.localeCompare(b.cells[c].textContent);
return up?r:-r;});
rows.forEach(function(r){body.appendChild(r);});});})(c);}
document.getElementById('filter').addEventListener('input',function(e){
var q=e.target.value.toLowerCase();
Array.prototype.forEach.call(body.rows,function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});
})();
)js";

// x positions of n points across the plot area.
double ChartX(size_t i, size_t n) {
  const double plot = kChartWidth - kChartLeft - 10;
  return kChartLeft + (n <= 1 ? plot / 2 : plot * static_cast<double>(i) / static_cast<double>(n - 1));
}

struct Series {
  std::string label, color;
  std::vector<const proto::TensorStats*> weights;
};

// Every weight's std (one series per report) against its target, log scale, in graph order.
std::string StdChart(const std::vector<Series>& series) {
  const std::vector<const proto::TensorStats*>& reference = series.back().weights;
  const size_t n = reference.size();
  if (n == 0) return "<p>No weights.</p>";
  double low = HUGE_VAL, high = 0;
  auto extend = [&](double v) {
    if (v > 0) {
      low = std::min(low, v);
      high = std::max(high, v);
    }
  };
  for (const Series& s : series) {
    for (const proto::TensorStats* t : s.weights) {
      extend(t->std());
      if (t->has_target_std()) {
        extend(t->target_std() * (1 - t->std_tolerance()));
        extend(t->target_std() * (1 + t->std_tolerance()));
      }
    }
  }
  if (high == 0) return "<p>Every weight has std 0.</p>";
  const double log_low = std::floor(std::log10(low) * 2) / 2, log_high = std::ceil(std::log10(high) * 2) / 2 + 1e-9;
  const double plot_height = kChartHeight - kChartBottom - 10;
  auto y = [&](double v) {
    const double l = std::log10(std::max(v, low));
    return 10 + plot_height * (1 - (l - log_low) / std::max(log_high - log_low, 1e-9));
  };
  std::string svg = absl::StrFormat(
      "<svg viewBox=\"0 0 %g %g\" width=\"100%%\" role=\"img\" aria-label=\"std per weight\" id=\"std-chart\">",
      kChartWidth, kChartHeight);
  for (double l = std::ceil(log_low); l <= log_high; l += 1) {  // decades
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eef0f3\"/>"
                          "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>",
                          kChartLeft, kChartWidth - 10, y(std::pow(10, l)), y(std::pow(10, l)), kChartLeft - 6,
                          y(std::pow(10, l)) + 4, static_cast<int>(l));
  }
  // The tolerance band around the target, as one polygon over the weights that have a target.
  std::string upper, lower;
  for (size_t i = 0; i < n; ++i) {
    const proto::TensorStats& t = *reference[i];
    if (!t.has_target_std()) continue;
    const double tolerance = t.std_tolerance();
    absl::StrAppendFormat(&upper, "%.1f,%.1f ", ChartX(i, n), y(t.target_std() * (1 + tolerance)));
    lower = absl::StrFormat("%.1f,%.1f ", ChartX(i, n), y(t.target_std() * (1 - tolerance))) + lower;
  }
  if (!upper.empty()) {
    absl::StrAppendFormat(&svg, "<polygon points=\"%s%s\" fill=\"#2f7de1\" fill-opacity=\"0.13\"/>", upper, lower);
    std::string target;
    for (size_t i = 0; i < n; ++i) {
      if (reference[i]->has_target_std()) {
        absl::StrAppendFormat(&target, "%.1f,%.1f ", ChartX(i, n), y(reference[i]->target_std()));
      }
    }
    absl::StrAppendFormat(
        &svg, "<polyline points=\"%s\" fill=\"none\" stroke=\"#2f7de1\" stroke-width=\"1\" stroke-dasharray=\"3 2\"/>",
        target);
  }
  for (const Series& s : series) {
    for (size_t i = 0; i < s.weights.size() && i < n; ++i) {
      const proto::TensorStats& t = *s.weights[i];
      const bool bad = Offender(t);
      absl::StrAppendFormat(
          &svg,
          "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"><title>%s: std %s%s</title></circle>",
          ChartX(i, n), y(t.std()), bad ? "3.2" : "2.4", bad ? "#d6453d" : s.color, Escape(t.name()), Number(t.std()),
          t.has_target_std() ? absl::StrCat(", target ", Number(t.target_std())) : "");
    }
  }
  absl::StrAppendFormat(&svg,
                        "<text x=\"%g\" y=\"%g\">first weight</text><text x=\"%g\" y=\"%g\" text-anchor=\"end\">last "
                        "weight (%d)</text></svg>",
                        kChartLeft, kChartHeight - 8, kChartWidth - 10, kChartHeight - 8, n);
  std::string legend = "<p class=\"legend\">";
  for (const Series& s : series) absl::StrAppendFormat(&legend, "<i style=\"background:%s\"></i>%s", s.color, s.label);
  absl::StrAppend(&legend, "<i style=\"background:#d6453d\"></i>outside the tolerance");
  if (!upper.empty())
    absl::StrAppend(&legend, "<i style=\"background:#2f7de155\"></i>target std and tolerance band (verify's)");
  return svg + legend + " - y: std, log scale; x: weights in graph order</p>";
}

std::string HistogramSvg(const proto::TensorStats& t, const std::string& color) {
  const auto& counts = t.histogram().counts();
  if (counts.empty()) return "";
  const int64_t peak = std::max<int64_t>(1, *std::max_element(counts.begin(), counts.end()));
  const double bar = kHistogramWidth / counts.size();
  std::string path;
  for (int b = 0; b < counts.size(); ++b) {
    const double h = counts[b] == 0 ? 0 : std::max(1.0, (kHistogramHeight - 2) * static_cast<double>(counts[b]) / peak);
    absl::StrAppendFormat(&path, "M%.1f %.1fh%.1fv%.1fh%.1fz", b * bar, kHistogramHeight - h, bar - 0.6, h,
                          -(bar - 0.6));
  }
  return absl::StrFormat("<svg viewBox=\"0 0 %g %g\" width=\"100%%\" height=\"%g\"><path d=\"%s\" fill=\"%s\"/></svg>",
                         kHistogramWidth, kHistogramHeight, kHistogramHeight, path, color);
}

std::string HistogramCell(const std::vector<const proto::TensorStats*>& versions,
                          const std::vector<std::string>& colors) {
  const proto::TensorStats& t = *versions.back();
  bool bad = false;
  for (const proto::TensorStats* v : versions) bad |= Offender(*v) || SpectralOffender(*v);
  std::string cell = absl::StrFormat("<div class=\"hist%s\" data-name=\"%s\"><div class=\"n\" title=\"%s\">%s</div>",
                                     bad ? " bad" : "", Escape(t.name()), Escape(t.name()), Escape(t.name()));
  absl::StrAppend(&cell, versions.size() > 1 ? "<div class=\"side\">" : "<div>");
  for (size_t v = 0; v < versions.size(); ++v)
    absl::StrAppend(&cell, "<div>", HistogramSvg(*versions[v], colors[v]), "</div>");
  absl::StrAppendFormat(&cell, "</div><div class=\"r\">%s %s · [%s, %s]</div></div>", Escape(t.role()),
                        Escape(Shape(t)), Number(t.min()), Number(t.max()));
  return cell;
}

// Weights first, then the other learned tensors, in graph order; the fixed constants (scalars,
// shapes, masks: most of a decomposed LayerNorm's constants) in one collapsed group after them.
std::string HistogramGrids(const std::vector<std::vector<const proto::TensorStats*>>& versions,
                           const std::vector<std::string>& colors) {
  std::string weights, learned, fixed;
  int64_t fixed_count = 0;
  for (const auto& v : versions) {
    const proto::TensorStats& t = *v.back();
    std::string& group = t.fixed() ? fixed : t.role() == "weight" ? weights : learned;
    absl::StrAppend(&group, HistogramCell(v, colors), "\n");
    fixed_count += t.fixed();
  }
  std::string html = absl::StrCat("<div class=\"grid\">", weights, learned, "</div>");
  if (fixed_count > 0) {
    absl::StrAppendFormat(&html,
                          "<details id=\"fixed\"><summary>%d fixed constants (scalars, shapes, masks, "
                          "quantization parameters: never rewritten)</summary><div class=\"grid\">%s</div></details>",
                          fixed_count, fixed);
  }
  return html;
}

std::string NumberCell(double x) { return absl::StrFormat("<td data-v=\"%.17g\">%s</td>", x, Number(x)); }
std::string OptionalCell(bool present, double x) { return present ? NumberCell(x) : "<td data-v=\"-1e308\"></td>"; }

std::string TableRow(size_t index, const proto::TensorStats& t, const std::string& version) {
  std::string row = absl::StrFormat("<tr%s><td data-v=\"%d\">%d</td>",
                                    Offender(t) || SpectralOffender(t) ? " class=\"bad\"" : "", index, index);
  absl::StrAppendFormat(&row, "<td class=\"t\" title=\"%s\">%s%s</td>", Escape(t.name()), Escape(t.name()),
                        version.empty() ? "" : absl::StrCat("<span class=\"tag\">", version, "</span>"));
  // The consumer's node name (the module path exporters keep) shows on hover.
  absl::StrAppendFormat(&row,
                        "<td class=\"t\" title=\"%s\">%s</td><td class=\"t\">%s</td><td class=\"t\">%s</td>"
                        "<td class=\"t\">%s</td>",
                        Escape(t.node()),
                        Escape(t.op_type().empty() ? "-" : absl::StrCat(t.op_type(), ":", t.input_index())),
                        Escape(t.role()), Escape(t.dtype()), Escape(Shape(t)));
  absl::StrAppend(&row, NumberCell(static_cast<double>(t.count())), NumberCell(t.mean()), NumberCell(t.std()),
                  NumberCell(t.min()), NumberCell(t.max()));
  absl::StrAppendFormat(&row, "<td data-v=\"%.17g\">%.1f%%</td>", t.zeros(), 100 * t.zeros());
  absl::StrAppend(&row, NumberCell(static_cast<double>(t.nan())), NumberCell(static_cast<double>(t.inf())),
                  OptionalCell(t.has_fan_in(), static_cast<double>(t.fan_in())),
                  OptionalCell(t.has_fan_out(), static_cast<double>(t.fan_out())),
                  OptionalCell(t.has_target_std(), t.target_std()), OptionalCell(t.has_std_ratio(), t.std_ratio()),
                  OptionalCell(t.has_top_singular_value(), t.top_singular_value()),
                  OptionalCell(t.has_spectral_ratio(), t.spectral_ratio()), "</tr>\n");
  return row;
}

std::string SummaryCards(const proto::StatsReport& report) {
  const proto::ModelInfo& info = report.info();
  std::string cards = "<div class=\"cards\">";
  auto card = [&](const std::string& value, const std::string& label) {
    absl::StrAppendFormat(&cards, "<div class=\"card\"><b>%s</b><span>%s</span></div>", Escape(value), label);
  };
  card(absl::StrCat(report.totals().tensors()), "tensors");
  card(absl::StrCat(report.totals().parameters()), "parameters");
  for (const proto::DtypeBytes& entry : report.totals().bytes_per_dtype())
    card(FormatBytes(entry.bytes()), Escape(entry.dtype()));
  if (info.file_bytes() > 0) card(FormatBytes(info.file_bytes()), "file");
  card(info.producer_name().empty() ? "-" : absl::StrCat(info.producer_name(), " ", info.producer_version()),
       "producer");
  card(absl::StrCat(info.opset()), "opset");
  card(absl::StrCat(info.ir_version()), "IR version");
  if (!report.scheme().empty()) card(report.scheme(), "scheme");
  int64_t offenders = 0;
  for (const proto::TensorStats& t : report.tensors()) offenders += Offender(t) || SpectralOffender(t);
  if (!report.scheme().empty() || offenders > 0) card(absl::StrCat(offenders), "outside tolerance");
  return cards + "</div>";
}

std::string Page(const std::string& title, const std::string& subtitle,
                 const std::vector<const proto::StatsReport*>& reports, const std::vector<std::string>& labels) {
  static const char* const kColors[] = {"#9aa3b2", "#2f7de1"};
  const std::vector<std::string> colors =
      reports.size() > 1 ? std::vector<std::string>{kColors[0], kColors[1]} : std::vector<std::string>{kColors[1]};
  const proto::StatsReport& last = *reports.back();
  std::vector<std::unordered_map<std::string, const proto::TensorStats*>> by_name(reports.size());
  for (size_t r = 0; r < reports.size(); ++r) {
    for (const proto::TensorStats& t : reports[r]->tensors()) by_name[r].emplace(t.name(), &t);
  }
  // Rows follow the last report's graph order; a tensor missing from an earlier one shows alone.
  std::vector<std::vector<const proto::TensorStats*>> versions;
  for (const proto::TensorStats& t : last.tensors()) {
    std::vector<const proto::TensorStats*> v;
    for (size_t r = 0; r + 1 < reports.size(); ++r) {
      auto found = by_name[r].find(t.name());
      if (found != by_name[r].end()) v.push_back(found->second);
    }
    v.push_back(&t);
    versions.push_back(v);
  }
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>",
      Escape(title), "</title><style>", kStyle, "</style></head><body>\n");
  absl::StrAppend(&html, "<header><h1>", Escape(title), "</h1><div class=\"sub\">", subtitle,
                  "</div></header><main>\n");
  absl::StrAppend(&html, "<section id=\"model\"><h2>Model</h2>");
  for (size_t r = 0; r < reports.size(); ++r) {
    if (reports.size() > 1)
      absl::StrAppend(&html, "<p class=\"legend\">", labels[r], ": ", Escape(reports[r]->model()), "</p>");
    absl::StrAppend(&html, SummaryCards(*reports[r]));
  }
  absl::StrAppend(&html, "</section>\n<section id=\"chart\"><h2>Std of each weight</h2>");
  std::vector<Series> series;
  for (size_t r = 0; r < reports.size(); ++r) {
    Series s{labels[r], colors[r], {}};
    for (const auto& v : versions) {
      if (v.back()->has_fan_in() && v.size() == reports.size()) s.weights.push_back(v[r]);
    }
    series.push_back(s);
  }
  absl::StrAppend(&html, StdChart(series), "</section>\n");
  absl::StrAppend(&html, "<section id=\"histograms\"><h2>Histograms</h2>");
  if (reports.size() > 1) {
    absl::StrAppendFormat(&html,
                          "<p class=\"legend\"><i style=\"background:%s\"></i>%s<i style=\"background:%s\"></i>%s - "
                          "each between its own min and max</p>",
                          colors[0], labels[0], colors[1], labels[1]);
  }
  absl::StrAppend(&html, HistogramGrids(versions, colors));
  absl::StrAppend(&html,
                  "</section>\n<section id=\"table\"><h2>Tensors</h2>"
                  "<input type=\"search\" id=\"filter\" placeholder=\"Filter by name, op, role, dtype...\">"
                  "<div class=\"scroll\"><table id=\"tensors\"><thead><tr>");
  for (const char* column : {"#",      "tensor",  "consumer",   "role",       "dtype",  "shape",      "count",
                             "mean",   "std",     "min",        "max",        "zeros",  "nan",        "inf",
                             "fan_in", "fan_out", "target_std", "std/target", "sigma1", "sigma1/edge"}) {
    const absl::string_view c(column);
    const bool text = c == "tensor" || c == "consumer" || c == "role" || c == "dtype" || c == "shape";
    absl::StrAppend(&html, text ? "<th class=\"t\">" : "<th>", column, "</th>");
  }
  absl::StrAppend(&html, "</tr></thead><tbody>\n");
  for (size_t i = 0; i < versions.size(); ++i) {
    for (size_t r = 0; r < versions[i].size(); ++r) {
      absl::StrAppend(&html, TableRow(i, *versions[i][r], versions[i].size() > 1 ? labels[r] : ""));
    }
  }
  absl::StrAppend(&html, "</tbody></table></div></section></main><script>", kScript, "</script></body></html>\n");
  return html;
}

}  // namespace

std::string StatsReportToHtml(const proto::StatsReport& report) {
  return Page(absl::StrCat("Weights of ", report.model()),
              report.scheme().empty() ? "onnx-reinit stats"
                                      : absl::StrCat("onnx-reinit stats, against ", Escape(report.scheme())),
              {&report}, {"this model"});
}

std::string ComparisonToHtml(const proto::StatsReport& before, const proto::StatsReport& after) {
  return Page(absl::StrCat("Re-initialization of ", before.model()),
              absl::StrCat(Escape(before.model()), " &rarr; ", Escape(after.model()),
                           after.scheme().empty() ? "" : absl::StrCat(", scheme ", Escape(after.scheme()))),
              {&before, &after}, {"before", "after"});
}

absl::StatusOr<std::string> ComparisonReportHtml(const std::string& input, const std::string& output,
                                                 StatsOptions options) {
  if (options.histogram_bins == 0) options.histogram_bins = kComparisonHistogramBins;
  ONNX_REINIT_ASSIGN_OR_RETURN(const proto::StatsReport before, StatsFile(input, options));
  ONNX_REINIT_ASSIGN_OR_RETURN(const proto::StatsReport after, StatsFile(output, options));
  return ComparisonToHtml(before, after);
}

}  // namespace onnx_reinit
