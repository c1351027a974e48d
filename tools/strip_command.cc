#include "tools/strip_command.h"

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/byte_size.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/options.h"
#include "onnx_reinit/report_file.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/strip.h"
#include "tools/exit_status.h"
#include "tools/stdio.h"

namespace onnx_reinit::cli {
namespace {

// The recipe the flags and the recipe file amount to (its errors are usage errors, or a recipe file
// that cannot be read).
absl::StatusOr<proto::Recipe> RecipeFromFlags(const ReinitFlags& flags) {
  if (flags.input == kStdio || flags.output == kStdio) {
    return UsageError("strip reads and writes files: give paths instead of -");
  }
  proto::Recipe file;
  if (!flags.recipe.empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(file, ReadRecipe(flags.recipe));
  }
  ONNX_REINIT_RETURN_IF_ERROR(ToRewriteOptions(flags.options, file, flags.recipe).status());
  proto::Recipe recipe = EffectiveRecipe(flags.options, file);
  ONNX_REINIT_RETURN_IF_ERROR(CheckStripRecipe(recipe));
  return recipe;
}

}  // namespace

std::string DefaultStrippedPath(const std::string& input) {
  const std::string stem = absl::EndsWith(input, ".onnx") ? input.substr(0, input.size() - 5) : input;
  return stem + ".stripped.onnx";
}

int RunStrip(const ReinitFlags& flags) {
  const absl::StatusOr<proto::Recipe> recipe = RecipeFromFlags(flags);
  if (!recipe.ok()) return ReportError(recipe.status(), CommandType::kAction);
  const std::string output = flags.output.empty() ? DefaultStrippedPath(flags.input) : flags.output;
  OutputOptions written;
  written.fsync = flags.fsync;
  absl::StatusOr<StripResult> result = StripFile(flags.input, output, *recipe, written);
  absl::Status status = result.status();
  if (status.ok() && !flags.report.empty()) {
    const absl::StatusOr<RewriteOptions> options = ToRewriteOptions(*recipe);
    status = WriteReinitReport(flags.report, result->report, flags.input, output, options->reinit.policy.scheme,
                               options->reinit.threads, written);
  }
  if (!status.ok()) return ReportError(status, CommandType::kAction);
  if (flags.quiet) return 0;
  for (const std::string& warning : result->report.warnings()) {
    std::cerr << "onnx-reinit: warning: " << warning << "\n";
  }
  std::cout << absl::StrFormat(
      "stripped %d tensor%s (%s of values) -> %s\nregenerate with: onnx-reinit %s --materialize -o FULL.onnx\n",
      result->stripped.size(), result->stripped.size() == 1 ? "" : "s", FormatBytes(result->stripped_bytes), output,
      output);
  return 0;
}

}  // namespace onnx_reinit::cli
