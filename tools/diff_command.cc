#include "tools/diff_command.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/diff.h"
#include "onnx_reinit/json_output.h"
#include "tools/exit_status.h"
#include "tools/text_table.h"

namespace onnx_reinit::cli {
namespace {

std::string ChangeName(proto::TensorDiff::Change change) {
  switch (change) {
    case proto::TensorDiff::VALUES: return "values";
    case proto::TensorDiff::DTYPE: return "dtype";
    case proto::TensorDiff::SHAPE: return "shape";
    case proto::TensorDiff::ONLY_IN_A: return "only in A";
    case proto::TensorDiff::ONLY_IN_B: return "only in B";
    case proto::TensorDiff::BYTES: return "bytes only";
    default: return "identical";
  }
}

std::string Side(const std::string& dtype, const google::protobuf::RepeatedField<int64_t>& shape) {
  return dtype.empty() ? "-" : absl::StrCat(dtype, " ", FormatShape(shape));
}

std::string SideBySide(const proto::TensorDiff& d, double (proto::Moments::*field)() const) {
  if (!d.has_a()) return "";
  return absl::StrCat(FormatNumber((d.a().*field)()), " -> ", FormatNumber((d.b().*field)()));
}

std::string FormatDiff(const proto::DiffReport& report) {
  TextTable table({{"tensor"},
                   {"change"},
                   {"A"},
                   {"B"},
                   {"differing", true},
                   {"max |A-B|", true},
                   {"mean A -> B"},
                   {"std A -> B"}});
  for (const proto::TensorDiff& d : report.tensors()) {
    const bool values = d.change() == proto::TensorDiff::VALUES;
    table.AddRow({d.name(), ChangeName(d.change()), Side(d.dtype_a(), d.shape_a()), Side(d.dtype_b(), d.shape_b()),
                  values ? WithThousands(d.values_differing()) : "",
                  values && d.has_a() ? FormatNumber(d.max_abs_difference()) : "", SideBySide(d, &proto::Moments::mean),
                  SideBySide(d, &proto::Moments::std)});
  }
  const int64_t bytes_only = std::count_if(report.tensors().begin(), report.tensors().end(),
                                           [](const auto& d) { return d.change() == proto::TensorDiff::BYTES; });
  return absl::StrCat(
      table.Render(TerminalWidth()),
      absl::StrFormat("%d tensors differ%s, %d identical\n", report.differing(),
                      bytes_only == 0 ? "" : absl::StrFormat(" (%d in bytes only, same values)", bytes_only),
                      report.identical()));
}

}  // namespace

void AddDiffFlags(CLI::App& app, DiffFlags& flags) {
  app.add_option("a", flags.model_a, "First model")->required()->check(CLI::ExistingFile);
  app.add_option("b", flags.model_b, "Second model")->required()->check(CLI::ExistingFile);
  app.add_flag("--json", flags.json, "Print one JSON document (schema: proto/onnx_reinit/stats.proto)");
  app.add_option("--threads", flags.threads, "Threads; 0 = all cores")->default_val(0)->check(CLI::Range(0, 1024));
}

int RunDiff(const DiffFlags& flags) {
  const absl::StatusOr<proto::DiffReport> report = DiffFiles(flags.model_a, flags.model_b, flags.threads);
  if (!report.ok()) return ReportError(report.status(), CommandType::kVerdict);
  std::cout << (flags.json ? ToJson(*report) : FormatDiff(*report));
  return report->differing() == 0 ? 0 : 1;
}

}  // namespace onnx_reinit::cli
