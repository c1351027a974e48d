// Initialization schemes and the arithmetic that turns (scheme, fans) into a distribution.
//
// The fan-based schemes are one family. With n the fan chosen by `mode` (fan_in, fan_out, or
// fan_avg = (fan_in + fan_out) / 2) and g the gain:
//   *_normal   N(0, std) with std = g / sqrt(n)
//   *_uniform  U(-bound, bound) with bound = sqrt(3) * g / sqrt(n)   (the same std)
// and the members differ only in their defaults:
//   xavier (Glorot)  mode fan_avg, gain 1        -> std = sqrt(2 / (fan_in + fan_out))
//   he (Kaiming)     mode fan_in,  gain sqrt(2)  -> std = sqrt(2 / fan_in)   (relu, as in PyTorch)
//   lecun            mode fan_in,  gain 1        -> std = sqrt(1 / fan_in)
// The gain table is torch.nn.init.calculate_gain's.
#ifndef ONNX_REINIT_SCHEME_H_
#define ONNX_REINIT_SCHEME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx_reinit/fan.h"  // Fans
#include "onnx_reinit/report.pb.h"

namespace onnx_reinit {

enum class SchemeKind {
  kZeros,
  kOnes,
  kConstant,
  kUniform,
  kNormal,
  kXavierUniform,
  kXavierNormal,
  kHeUniform,
  kHeNormal,
  kLecunUniform,
  kLecunNormal,
};

enum class FanMode { kFanIn, kFanOut, kFanAvg };
enum class Nonlinearity { kLinear, kRelu, kLeakyRelu, kTanh, kSigmoid, kSelu };

// Parses a scheme name; accepts the aliases "xavier" (xavier_normal) and "he" (he_normal).
// The error lists the valid names.
absl::StatusOr<SchemeKind> ParseScheme(absl::string_view name);
absl::string_view SchemeName(SchemeKind kind);
// Every accepted name, aliases included, in the order --help shows them.
std::vector<std::string> SchemeNames();
bool UsesFans(SchemeKind kind);

absl::StatusOr<FanMode> ParseFanMode(absl::string_view name);
absl::string_view FanModeName(FanMode mode);
absl::StatusOr<Nonlinearity> ParseNonlinearity(absl::string_view name);
absl::string_view NonlinearityName(Nonlinearity nonlinearity);

// torch.nn.init.calculate_gain: linear/sigmoid 1, tanh 5/3, relu sqrt(2),
// leaky_relu sqrt(2 / (1 + negative_slope^2)), selu 3/4.
double CalculateGain(Nonlinearity nonlinearity, double negative_slope);

// A scheme and its parameters. Unset optionals take the scheme's defaults (see Validate); setting a
// parameter the scheme does not use is an error, so that typos do not pass silently.
struct SchemeOptions {
  SchemeKind kind = SchemeKind::kHeNormal;
  std::optional<double> value;           // constant
  std::optional<double> low, high;       // uniform: defaults 0 and 1
  std::optional<double> mean, std;       // normal: defaults 0 and 1
  std::optional<FanMode> mode;           // fan-based schemes
  std::optional<Nonlinearity> nonlinearity;
  std::optional<double> negative_slope;  // leaky_relu only; default 0.01
  std::optional<double> gain;            // overrides nonlinearity
};

// Checks that every set parameter belongs to the scheme and is in range.
absl::Status Validate(const SchemeOptions& options);

// The effective gain and mode of a fan-based scheme, after defaults.
double EffectiveGain(const SchemeOptions& options);
FanMode EffectiveMode(const SchemeOptions& options);

// The distribution `options` gives a tensor with `fans`. Fails when the chosen fan is 0.
// `options` must have passed Validate.
absl::StatusOr<proto::Distribution> ResolveDistribution(const SchemeOptions& options,
                                                        const Fans& fans);

// A short human form: "N(0, 0.0442)", "U(-0.0765, 0.0765)", "const 0".
std::string DescribeDistribution(const proto::Distribution& distribution);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_SCHEME_H_
