#include "tools/scheme_flags.h"

#include "absl/strings/str_join.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit::cli {
namespace {

// A CLI11 validator from a library parser, so that bad names fail at parse time with its message.
template <typename Parser>
CLI::Validator FromParser(Parser parse, const std::string& description) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        auto parsed = parse(text);
        return parsed.ok() ? std::string() : std::string(parsed.status().message());
      },
      description);
}

}  // namespace

void AddSchemeFlags(CLI::App& app, SchemeFlags& f, bool scheme_required) {
  f.scheme_flag = app.add_option("-s,--scheme", f.scheme,
                                 "Initialization scheme: " + absl::StrJoin(SchemeNames(), ", ") +
                                     ". xavier = xavier_normal, he = he_normal.")
                      ->required(scheme_required)
                      ->check(FromParser(ParseScheme, "SCHEME"));
  f.value_flag = app.add_option("--value", f.value, "constant: the value (required)");
  f.low_flag = app.add_option("--low", f.low, "uniform: lower bound (default 0)");
  f.high_flag = app.add_option("--high", f.high, "uniform: upper bound (default 1)");
  f.mean_flag = app.add_option("--mean", f.mean, "normal, truncated_normal: mean (default 0)");
  f.std_flag = app.add_option("--std", f.std, "normal, truncated_normal: standard deviation (default 1)");
  f.mode_flag = app.add_option("--mode", f.mode,
                               "Fan for xavier/he/lecun: fan_in, fan_out or fan_avg (default: "
                               "fan_avg for xavier, fan_in for he and lecun)")
                    ->check(FromParser(ParseFanMode, "MODE"));
  f.nonlinearity_flag =
      app.add_option("--nonlinearity", f.nonlinearity,
                     "Gain from torch.nn.init.calculate_gain: linear, relu, leaky_relu, tanh, "
                     "sigmoid, selu (default: relu for he, linear for xavier and lecun)")
          ->check(FromParser(ParseNonlinearity, "NONLINEARITY"));
  f.negative_slope_flag = app.add_option("--negative-slope", f.negative_slope,
                                         "leaky_relu's negative slope (default 0.01)");
  f.gain_flag = app.add_option("--gain", f.gain,
                               "Explicit gain for xavier/he/lecun (instead of --nonlinearity), "
                               "orthogonal and identity (default 1)");
}

bool SchemeGiven(const SchemeFlags& flags) {
  return flags.scheme_flag != nullptr && flags.scheme_flag->count() > 0;
}

absl::StatusOr<SchemeOptions> ToSchemeOptions(const SchemeFlags& f) {
  SchemeOptions options;
  ONNX_REINIT_ASSIGN_OR_RETURN(options.kind, ParseScheme(f.scheme));
  auto given = [](const CLI::Option* flag) { return flag != nullptr && flag->count() > 0; };
  if (given(f.value_flag)) options.value = f.value;
  if (given(f.low_flag)) options.low = f.low;
  if (given(f.high_flag)) options.high = f.high;
  if (given(f.mean_flag)) options.mean = f.mean;
  if (given(f.std_flag)) options.std = f.std;
  if (given(f.mode_flag)) {
    ONNX_REINIT_ASSIGN_OR_RETURN(options.mode, ParseFanMode(f.mode));
  }
  if (given(f.nonlinearity_flag)) {
    ONNX_REINIT_ASSIGN_OR_RETURN(options.nonlinearity, ParseNonlinearity(f.nonlinearity));
  }
  if (given(f.negative_slope_flag)) options.negative_slope = f.negative_slope;
  if (given(f.gain_flag)) options.gain = f.gain;
  ONNX_REINIT_RETURN_IF_ERROR(Validate(options));
  return options;
}

}  // namespace onnx_reinit::cli
