#include "tools/scheme_flags.h"

#include "absl/strings/str_join.h"
#include "onnx_reinit/scheme.h"

namespace onnx_reinit::cli {

void AddSchemeFlags(CLI::App& app, proto::Recipe& o, bool scheme_required) {
  AddSettingFlag<std::string>(
      app, "-s,--scheme", [&o](const std::string& v) { o.set_scheme(v); },
      "Initialization scheme: " + absl::StrJoin(SchemeNames(), ", ") +
          ". Aliases: xavier = xavier_normal, he = kaiming_normal = he_normal, "
          "kaiming_uniform = he_uniform, glorot_uniform = xavier_uniform, "
          "glorot_normal = xavier_truncated_normal (Keras), variance_scaling = "
          "lecun_truncated_normal (Keras), eye = identity.")
      ->required(scheme_required)
      ->check(FromParser(ParseScheme, "SCHEME"));
  AddSettingFlag<double>(
      app, "--value", [&o](double v) { o.set_value(v); }, "constant: the value (required)");
  AddSettingFlag<double>(
      app, "--low", [&o](double v) { o.set_low(v); },
      "uniform: lower bound (default 0); trunc_normal: lower cut (default -2)");
  AddSettingFlag<double>(
      app, "--high", [&o](double v) { o.set_high(v); },
      "uniform: upper bound (default 1); trunc_normal: upper cut (default 2)");
  AddSettingFlag<double>(
      app, "--mean", [&o](double v) { o.set_mean(v); }, "normal, truncated_normal, trunc_normal: mean (default 0)");
  AddSettingFlag<double>(
      app, "--std", [&o](double v) { o.set_std(v); },
      "normal, truncated_normal, trunc_normal: standard deviation (default 1)");
  AddSettingFlag<std::string>(
      app, "--mode", [&o](const std::string& v) { o.set_mode(v); },
      "Fan for xavier/he/lecun: fan_in, fan_out or fan_avg (default: "
      "fan_avg for xavier, fan_in for he and lecun)")
      ->check(FromParser(ParseFanMode, "MODE"));
  AddSettingFlag<std::string>(
      app, "--nonlinearity", [&o](const std::string& v) { o.set_nonlinearity(v); },
      "Gain from torch.nn.init.calculate_gain: linear, relu, leaky_relu, tanh, "
      "sigmoid, selu (default: relu for he, linear for xavier and lecun)")
      ->check(FromParser(ParseNonlinearity, "NONLINEARITY"));
  AddSettingFlag<double>(
      app, "--negative-slope", [&o](double v) { o.set_negative_slope(v); },
      "leaky_relu's negative slope (default 0.01)");
  AddSettingFlag<double>(
      app, "--gain", [&o](double v) { o.set_gain(v); },
      "Explicit gain for xavier/he/lecun (instead of --nonlinearity), "
      "orthogonal and identity (default 1)");
}

}  // namespace onnx_reinit::cli
