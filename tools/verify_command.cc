#include "tools/verify_command.h"

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/ci_formats.h"
#include "onnx_reinit/json_output.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/options.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/verify.h"
#include "tools/exit_status.h"
#include "tools/scheme_flags.h"
#include "tools/text_table.h"

namespace onnx_reinit::cli {
namespace {

// With --preset, what it gives each tensor of `model` (warnings to stderr), as VerifyOptions::targets.
absl::Status SetPresetTargets(const std::string& model, const proto::Recipe& preset, VerifyOptions& options) {
  absl::StatusOr<MappedModel> mapped = MappedModel::Open(model);
  if (!mapped.ok()) return WithContext(mapped.status(), model);
  absl::StatusOr<PresetTargets> targets = PresetTargetsOf(mapped->model(), preset, mapped->payloads());
  if (!targets.ok()) return WithContext(targets.status(), model);
  for (const std::string& warning : targets->warnings) std::cerr << "onnx-reinit: warning: " << warning << "\n";
  options.targets = std::move(targets->distributions);
  options.targets_source = std::move(targets->source);
  return absl::OkStatus();
}

// Every model's report, or the first error: nothing is printed or written before all are known.
absl::StatusOr<std::vector<proto::VerifyReport>> Compute(const VerifyFlags& flags, const SchemeOptions& scheme) {
  VerifyOptions options;
  options.scheme = scheme;
  options.threads = flags.threads;
  options.spectral = flags.spectral;
  if (flags.tolerance_flag->count() > 0) options.std_tolerance = flags.tolerance;
  std::vector<proto::VerifyReport> reports;
  for (const std::string& model : flags.models) {
    if (!flags.scheme.preset().empty()) ONNX_REINIT_RETURN_IF_ERROR(SetPresetTargets(model, flags.scheme, options));
    absl::StatusOr<proto::VerifyReport> report = VerifyFile(model, options);
    if (!report.ok()) return report.status();
    reports.push_back(*std::move(report));
  }
  return reports;
}

std::string FormatFailures(const proto::VerifyReport& report) {
  TextTable table(
      {{"tensor"}, {"op"}, {"count", true}, {"mean", true}, {"std", true}, {"target_std", true}, {"problem"}});
  for (const proto::VerifyFinding& f : report.weights()) {
    if (f.problem().empty()) continue;
    table.AddRow({f.name(), f.op_type(), WithThousands(f.count()), FormatNumber(f.mean()), FormatNumber(f.std()),
                  FormatNumber(f.target_std()), f.problem()});
  }
  return table.Render(TerminalWidth());
}

// Whether the report checked a preset's targets (every tensor it draws whole), not a scheme's weights.
bool ChecksPreset(const proto::VerifyReport& report) { return absl::StartsWith(report.scheme(), "preset "); }

// One line per weight verify could not judge; a count per role of the tensors it does not check.
std::string FormatNotJudged(const proto::VerifyReport& report) {
  std::string text;
  for (const proto::UnreadTensor& t : report.unjudged()) {
    absl::StrAppendFormat(&text, "not judged: '%s' (%s, %s): %s\n", t.name(), t.role(), t.dtype(), t.reason());
  }
  if (report.unchecked().empty()) return text;
  std::map<std::string, int> per_role;
  for (const proto::UnreadTensor& t : report.unchecked()) ++per_role[t.role()];
  std::vector<std::string> counts;
  for (const auto& [role, count] : per_role) counts.push_back(absl::StrCat(count, " ", role));
  const std::string why = ChecksPreset(report) ? absl::StrCat(report.scheme(), " keeps them or draws them in parts")
                                               : "verify checks weights only";
  return absl::StrCat(text, "not checked (", why, "): ", absl::StrJoin(counts, ", "), "; --json lists them\n");
}

std::string FormatVerdict(const proto::VerifyReport& report) {
  const char* checked = ChecksPreset(report) ? "tensors" : "weights";
  if (report.failed() > 0) {
    return absl::StrCat(FormatFailures(report),
                        absl::StrFormat("FAILED: %d of %d %s of %s do not match %s\n", report.failed(),
                                        report.weights_size(), checked, report.model(), report.scheme()));
  }
  if (report.weights_size() == 0) {
    return absl::StrFormat("FAILED: verify checked no weight of %s against %s\n", report.model(), report.scheme());
  }
  return absl::StrFormat("ok: %d %s of %s match %s\n", report.weights_size(), checked, report.model(), report.scheme());
}

std::string Format(const proto::VerifyReport& report, const std::string& format) {
  if (format == "json") return ToJson(report);
  // The annotations, then the text: the log of a run shows both.
  const std::string text = FormatVerdict(report) + FormatNotJudged(report);
  return format == "github" ? VerifyReportToGithub(report) + text : text;
}

}  // namespace

void AddVerifyFlags(CLI::App& app, VerifyFlags& flags) {
  app.add_option("model", flags.models, "The ONNX models to check")->required()->check(CLI::ExistingFile);
  AddSchemeFlags(app, flags.scheme, /*scheme_required=*/false);
  AddSettingFlag<std::string>(
      app, "--preset", [&flags](const std::string& v) { flags.scheme.set_preset(v); },
      "Instead of --scheme, check each tensor (embeddings, biases and norms too) against what the preset "
      "gives it, the structural rules included (see onnx-reinit --preset)");
  AddSettingFlag<double>(
      app, "--initializer-range", [&flags](double v) { flags.scheme.set_initializer_range(v); },
      "The std of --preset bert, gpt2, llama and megatron; default 0.02");
  flags.tolerance_flag = app.add_option("--tolerance", flags.tolerance,
                                        "Allowed relative deviation of each weight's std from its target (default: "
                                        "6 standard errors for the tensor's size, at least 0.05)")
                             ->check(CLI::Range(0.0, 10.0));
  app.add_flag("--spectral", flags.spectral,
               "Also fail weights whose largest singular value is above the edge of a fresh random "
               "matrix of their shape and std (trained structure rescaled to the scheme's std)");
  CLI::Option* json = app.add_flag_callback(
      "--json", [&flags] { flags.format = "json"; },
      "Print one JSON document per model (schema: proto/onnx_reinit/stats.proto); --format json");
  app.add_option("--format", flags.format,
                 "text, json, or github: GitHub Actions annotations (::error file=MODEL,title=TENSOR::...) "
                 "for the failing weights, then the text")
      ->check(CLI::IsMember({"text", "json", "github"}))
      ->excludes(json);
  app.add_option("--junit", flags.junit,
                 "Also write a JUnit XML report there: a testsuite per model, a testcase per weight");
  app.add_option("--threads", flags.threads, "Threads; 0 = all cores")->default_val(0)->check(CLI::Range(0, 1024));
}

// The scheme to check against (with --preset, the preset's, unused), validated as the re-initialization
// validates its flags: a scheme or a preset, not both; --initializer-range with a preset that has one.
absl::StatusOr<SchemeOptions> VerifiedScheme(const proto::Recipe& given) {
  ONNX_REINIT_ASSIGN_OR_RETURN(const RewriteOptions options, ToRewriteOptions(given));
  return options.reinit.policy.scheme;
}

int RunVerify(const VerifyFlags& flags) {
  const absl::StatusOr<SchemeOptions> scheme = VerifiedScheme(flags.scheme);
  if (!scheme.ok()) return ReportError(scheme.status(), CommandType::kVerdict);
  const absl::StatusOr<std::vector<proto::VerifyReport>> reports = Compute(flags, *scheme);
  absl::Status written = reports.status();
  if (written.ok() && !flags.junit.empty()) written = WriteFileAtomically(flags.junit, VerifyReportsToJunit(*reports));
  if (!written.ok()) return ReportError(written, CommandType::kVerdict);
  bool passed = true;
  for (const proto::VerifyReport& report : *reports) {
    std::cout << Format(report, flags.format);
    passed &= report.passed();
  }
  return passed ? 0 : 1;
}

}  // namespace onnx_reinit::cli
