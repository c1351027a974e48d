#include "tools/reinit_command.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/status_macros.h"
#include "tools/json_output.h"
#include "tools/text_table.h"

namespace onnx_reinit::cli {
namespace {

std::string FormatTensorTable(const proto::ReinitReport& report) {
  TextTable table({{"tensor"}, {"op"}, {"shape"}, {"dtype"}, {"fan_in", true}, {"fan_out", true},
                   {"distribution"}});
  for (const proto::TensorRecord& t : report.tensors()) {
    table.AddRow({t.name(), t.op_type(), FormatShape(t.shape()), t.dtype(), absl::StrCat(t.fan_in()),
                  absl::StrCat(t.fan_out()), DescribeDistribution(t.distribution())});
  }
  return table.Render(TerminalWidth());
}

absl::StatusOr<std::regex> CompileRegex(const std::string& flag, const std::string& pattern) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s '%s': %s", flag, pattern, e.what()));
  }
}

absl::StatusOr<std::function<bool(absl::string_view)>> TensorSelector(const ReinitFlags& flags) {
  if (flags.only.empty() && flags.exclude.empty()) return nullptr;
  std::optional<std::regex> only, exclude;
  if (!flags.only.empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(only, CompileRegex("--only", flags.only));
  }
  if (!flags.exclude.empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(exclude, CompileRegex("--exclude", flags.exclude));
  }
  return [only, exclude](absl::string_view name) {
    const std::string text(name);
    if (only && !std::regex_search(text, *only)) return false;
    return !(exclude && std::regex_search(text, *exclude));
  };
}

absl::Status RefuseOverwritingInput(const std::string& input, const std::string& output) {
  std::error_code error;
  if (std::filesystem::equivalent(input, output, error)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: the output would overwrite the input; choose another -o", output));
  }
  return absl::OkStatus();
}

// The output must pass the ONNX checker whenever the input does. Re-initialization changes only
// values, so a failure here means the input already failed: that is reported, not fatal.
absl::Status CheckOutput(const onnx::ModelProto& output, const ReinitFlags& flags) {
  const absl::Status status = CheckModel(output);
  if (status.ok()) return status;
  if (absl::IsUnimplemented(status)) {
    if (!flags.quiet) std::cerr << "onnx-reinit: note: ONNX check skipped: " << status.message() << "\n";
    return absl::OkStatus();
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(const onnx::ModelProto input, LoadModel(flags.input));
  if (CheckModel(input).ok()) {
    return absl::InternalError(absl::StrFormat(
        "the re-initialized model fails the ONNX checker although the input passes: %s",
        status.message()));
  }
  if (!flags.quiet) {
    std::cerr << "onnx-reinit: warning: " << flags.input
              << " fails the ONNX checker (unchanged in the output): " << status.message() << "\n";
  }
  return absl::OkStatus();
}

// The library options for the parsed flags; an error here is a usage error.
absl::StatusOr<ReinitOptions> OptionsFromFlags(const ReinitFlags& flags) {
  ReinitOptions options;
  ONNX_REINIT_ASSIGN_OR_RETURN(options.scheme, ToSchemeOptions(flags.scheme));
  ONNX_REINIT_ASSIGN_OR_RETURN(options.select, TensorSelector(flags));
  options.seed = flags.seed;
  options.threads = flags.threads;
  options.with_statistics = !flags.report.empty();
  return options;
}

absl::Status Run(const ReinitFlags& flags, const ReinitOptions& options, const std::string& output) {
  const auto start = std::chrono::steady_clock::now();
  ONNX_REINIT_RETURN_IF_ERROR(RefuseOverwritingInput(flags.input, output));
  ONNX_REINIT_ASSIGN_OR_RETURN(onnx::ModelProto model, LoadModel(flags.input));
  auto report = Reinitialize(model, options);
  if (!report.ok()) return WithContext(report.status(), flags.input);
  report->set_model(flags.input);
  ONNX_REINIT_RETURN_IF_ERROR(CheckOutput(model, flags));
  ONNX_REINIT_RETURN_IF_ERROR(SaveModel(model, output));
  if (!flags.report.empty()) ONNX_REINIT_RETURN_IF_ERROR(WriteFileAtomically(flags.report, ToJson(*report)));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (flags.quiet) return absl::OkStatus();
  if (options.select && report->tensors().empty()) {
    report->add_warnings("no weight matches --only/--exclude; the output equals the input");
  }
  for (const std::string& warning : report->warnings()) {
    std::cerr << "onnx-reinit: warning: " << warning << "\n";
  }
  std::cout << FormatTensorTable(*report);
  const int tensors = report->tensors_size();
  std::cout << absl::StrFormat("re-initialized %d tensor%s (%s values) with %s, seed %d, in %.3f s -> %s\n",
                               tensors, tensors == 1 ? "" : "s", WithThousands(report->values()),
                               report->scheme(), report->seed(), seconds, output);
  return absl::OkStatus();
}

}  // namespace

std::string DefaultOutputPath(const std::string& input) {
  if (absl::EndsWith(input, ".onnx")) {
    return input.substr(0, input.size() - 5) + ".reinit.onnx";
  }
  return input + ".reinit.onnx";
}

void AddReinitFlags(CLI::App& app, ReinitFlags& flags) {
  app.add_option("input", flags.input, "The ONNX model to re-initialize (never modified)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("-o,--output", flags.output,
                 "Where to write the result (default: IN.reinit.onnx beside the input)")
      ->check(CLI::Validator(
          [](std::string& path) { return path.empty() ? std::string("empty path") : std::string(); },
          "PATH"));
  AddSchemeFlags(app, flags.scheme, /*scheme_required=*/true);
  app.add_option("--seed", flags.seed,
                 "Random seed; the same seed gives the same bytes for any --threads")
      ->default_val(kDefaultSeed)
      ->check(CLI::Validator(  // CLI11 would wrap "-1" around to 2^64 - 1
          [](std::string& text) {
            return text.rfind('-', 0) == 0 ? std::string("must be a non-negative integer")
                                           : std::string();
          },
          "UINT64"));
  app.add_option("--threads", flags.threads, "Fill threads; 0 = all cores")
      ->default_val(0)
      ->check(CLI::Range(0, 1024));
  app.add_option("--only", flags.only, "Re-initialize only weights whose name matches this regex");
  app.add_option("--exclude", flags.exclude, "Leave weights whose name matches this regex unchanged");
  app.add_option("--report", flags.report,
                 "Also write a JSON report of what changed, with statistics before and after");
  app.add_flag("-q,--quiet", flags.quiet, "Print nothing but errors");
}

int RunReinit(const ReinitFlags& flags) {
  const absl::StatusOr<ReinitOptions> options = OptionsFromFlags(flags);
  if (!options.ok()) {
    std::cerr << "onnx-reinit: error: " << options.status().message() << "\n";
    return 2;
  }
  const std::string output = flags.output.empty() ? DefaultOutputPath(flags.input) : flags.output;
  const absl::Status status = Run(flags, *options, output);
  if (status.ok()) return 0;
  std::cerr << "onnx-reinit: error: " << status.message() << "\n";
  return 1;
}

}  // namespace onnx_reinit::cli
