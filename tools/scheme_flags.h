// Command-line flags for a scheme and its parameters (shared by every command that takes --scheme).
#ifndef ONNX_REINIT_TOOLS_SCHEME_FLAGS_H_
#define ONNX_REINIT_TOOLS_SCHEME_FLAGS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "onnx_reinit/scheme.h"

namespace onnx_reinit::cli {

struct SchemeFlags {
  std::string scheme;
  double value = 0, low = 0, high = 1, mean = 0, std = 1, negative_slope = 0.01, gain = 1;
  std::string mode, nonlinearity;
  // Set by AddSchemeFlags; tell whether a parameter was given, so that unset ones keep the scheme's
  // defaults and parameters that do not fit the scheme are rejected.
  CLI::Option *scheme_flag = nullptr, *value_flag = nullptr, *low_flag = nullptr, *high_flag = nullptr,
              *mean_flag = nullptr, *std_flag = nullptr, *mode_flag = nullptr,
              *nonlinearity_flag = nullptr, *negative_slope_flag = nullptr, *gain_flag = nullptr;
};

// Adds --scheme and its parameters to `app`.
void AddSchemeFlags(CLI::App& app, SchemeFlags& flags, bool scheme_required);

// Whether --scheme was given.
bool SchemeGiven(const SchemeFlags& flags);

// The validated SchemeOptions for the parsed flags; the error names the offending flag.
absl::StatusOr<SchemeOptions> ToSchemeOptions(const SchemeFlags& flags);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_SCHEME_FLAGS_H_
