#include "tools/verify_command.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/options.h"
#include "onnx_reinit/verify.h"
#include "onnx_reinit/json_output.h"
#include "tools/scheme_flags.h"
#include "tools/text_table.h"

namespace onnx_reinit::cli {
namespace {

absl::StatusOr<proto::VerifyReport> Compute(const VerifyFlags& flags, const SchemeOptions& scheme) {
  VerifyOptions options;
  options.scheme = scheme;
  options.threads = flags.threads;
  options.spectral = flags.spectral;
  if (flags.tolerance_flag->count() > 0) options.std_tolerance = flags.tolerance;
  return VerifyFile(flags.model, options);
}

std::string FormatFailures(const proto::VerifyReport& report) {
  TextTable table({{"tensor"}, {"op"}, {"count", true}, {"mean", true}, {"std", true},
                   {"target_std", true}, {"problem"}});
  for (const proto::VerifyFinding& f : report.weights()) {
    if (f.problem().empty()) continue;
    table.AddRow({f.name(), f.op_type(), WithThousands(f.count()), FormatNumber(f.mean()),
                  FormatNumber(f.std()), FormatNumber(f.target_std()), f.problem()});
  }
  return table.Render(TerminalWidth());
}

}  // namespace

void AddVerifyFlags(CLI::App& app, VerifyFlags& flags) {
  app.add_option("model", flags.model, "The ONNX model to check")->required()->check(CLI::ExistingFile);
  AddSchemeFlags(app, flags.scheme, /*scheme_required=*/true);
  flags.tolerance_flag =
      app.add_option("--tolerance", flags.tolerance,
                     "Allowed relative deviation of each weight's std from its target (default: "
                     "6 standard errors for the tensor's size, at least 0.05)")
          ->check(CLI::Range(0.0, 10.0));
  app.add_flag("--spectral", flags.spectral,
               "Also fail weights whose largest singular value is above the edge of a fresh random "
               "matrix of their shape and std (trained structure rescaled to the scheme's std)");
  app.add_flag("--json", flags.json, "Print one JSON document (schema: proto/onnx_reinit/stats.proto)");
  app.add_option("--threads", flags.threads, "Threads; 0 = all cores")
      ->default_val(0)
      ->check(CLI::Range(0, 1024));
}

int RunVerify(const VerifyFlags& flags) {
  const absl::StatusOr<SchemeOptions> scheme = SchemeFromOptions(flags.scheme);
  if (!scheme.ok()) {
    std::cerr << "onnx-reinit: error: " << scheme.status().message() << "\n";
    return 2;
  }
  const absl::StatusOr<proto::VerifyReport> report = Compute(flags, *scheme);
  if (!report.ok()) {
    std::cerr << "onnx-reinit: error: " << report.status().message() << "\n";
    return 2;
  }
  if (flags.json) {
    std::cout << ToJson(*report);
  } else if (report->failed() == 0) {
    std::cout << absl::StrFormat("ok: %d weights of %s match %s\n", report->weights_size(),
                                 flags.model, report->scheme());
  } else {
    std::cout << FormatFailures(*report)
              << absl::StrFormat("FAILED: %d of %d weights of %s do not match %s\n",
                                 report->failed(), report->weights_size(), flags.model,
                                 report->scheme());
  }
  return report->failed() == 0 ? 0 : 1;
}

}  // namespace onnx_reinit::cli
