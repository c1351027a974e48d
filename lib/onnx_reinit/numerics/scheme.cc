#include "onnx_reinit/scheme.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace onnx_reinit {
namespace {

struct NamedScheme {
  const char* name;
  SchemeKind kind;
};

// Canonical names first, then aliases; SchemeName returns the first match.
constexpr NamedScheme kSchemes[] = {
    {"zeros", SchemeKind::kZeros},
    {"ones", SchemeKind::kOnes},
    {"constant", SchemeKind::kConstant},
    {"uniform", SchemeKind::kUniform},
    {"normal", SchemeKind::kNormal},
    {"truncated_normal", SchemeKind::kTruncatedNormal},
    {"trunc_normal", SchemeKind::kTruncNormal},
    {"xavier_uniform", SchemeKind::kXavierUniform},
    {"xavier_normal", SchemeKind::kXavierNormal},
    {"xavier_truncated_normal", SchemeKind::kXavierTruncatedNormal},
    {"he_uniform", SchemeKind::kHeUniform},
    {"he_normal", SchemeKind::kHeNormal},
    {"he_truncated_normal", SchemeKind::kHeTruncatedNormal},
    {"lecun_uniform", SchemeKind::kLecunUniform},
    {"lecun_normal", SchemeKind::kLecunNormal},
    {"lecun_truncated_normal", SchemeKind::kLecunTruncatedNormal},
    {"orthogonal", SchemeKind::kOrthogonal},
    {"identity", SchemeKind::kIdentity},
    {"dirac", SchemeKind::kDirac},
    {"torch", SchemeKind::kTorch},
    {"xavier", SchemeKind::kXavierNormal},
    {"he", SchemeKind::kHeNormal},
    // torch.nn.init's and Keras's names, where they are the same distribution (see scheme.h).
    {"kaiming_normal", SchemeKind::kHeNormal},
    {"kaiming_uniform", SchemeKind::kHeUniform},
    {"glorot_uniform", SchemeKind::kXavierUniform},
    {"glorot_normal", SchemeKind::kXavierTruncatedNormal},
    {"variance_scaling", SchemeKind::kLecunTruncatedNormal},
    {"eye", SchemeKind::kIdentity},
};

constexpr std::pair<const char*, FanMode> kFanModes[] = {
    {"fan_in", FanMode::kFanIn}, {"fan_out", FanMode::kFanOut}, {"fan_avg", FanMode::kFanAvg}};

constexpr std::pair<const char*, Nonlinearity> kNonlinearities[] = {
    {"linear", Nonlinearity::kLinear}, {"relu", Nonlinearity::kRelu},       {"leaky_relu", Nonlinearity::kLeakyRelu},
    {"tanh", Nonlinearity::kTanh},     {"sigmoid", Nonlinearity::kSigmoid}, {"selu", Nonlinearity::kSelu}};

template <typename Table>
std::string JoinNames(const Table& table) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.push_back(entry.first);
  return absl::StrJoin(names, ", ");
}

// The std of N(0, 1) truncated to [-2, 2]: sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))), the constant of
// Keras VarianceScaling and JAX variance_scaling ("truncated_normal").
constexpr double kTruncatedStdFactor = 0.87962566103423978;
// Truncated normals are cut at this many parent stds from the mean.
constexpr double kTruncationStds = 2.0;

bool IsXavier(SchemeKind kind) {
  return kind == SchemeKind::kXavierUniform || kind == SchemeKind::kXavierNormal ||
         kind == SchemeKind::kXavierTruncatedNormal;
}
bool IsHe(SchemeKind kind) {
  return kind == SchemeKind::kHeUniform || kind == SchemeKind::kHeNormal || kind == SchemeKind::kHeTruncatedNormal;
}
bool IsUniformFamily(SchemeKind kind) {
  return kind == SchemeKind::kXavierUniform || kind == SchemeKind::kHeUniform || kind == SchemeKind::kLecunUniform;
}
bool IsTruncatedFamily(SchemeKind kind) {
  return kind == SchemeKind::kXavierTruncatedNormal || kind == SchemeKind::kHeTruncatedNormal ||
         kind == SchemeKind::kLecunTruncatedNormal;
}
// xavier_*, he_*, lecun_*: the schemes that take --mode, --nonlinearity and --gain.
bool IsVarianceScaling(SchemeKind kind) { return UsesFans(kind) && kind != SchemeKind::kTorch; }
bool TakesGain(SchemeKind kind) {
  return IsVarianceScaling(kind) || kind == SchemeKind::kOrthogonal || kind == SchemeKind::kIdentity;
}
bool TakesMeanAndStd(SchemeKind kind) {
  return kind == SchemeKind::kNormal || kind == SchemeKind::kTruncatedNormal || kind == SchemeKind::kTruncNormal;
}
bool TakesLowAndHigh(SchemeKind kind) { return kind == SchemeKind::kUniform || kind == SchemeKind::kTruncNormal; }

// The number of single-character insertions, deletions and substitutions from `a` to `b`.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// uniform's bounds (torch.nn.init.uniform_'s a=0, b=1) and trunc_normal's cut (trunc_normal_'s
// a=-2, b=2).
double DefaultLow(SchemeKind kind) { return kind == SchemeKind::kTruncNormal ? -2.0 : 0.0; }
double DefaultHigh(SchemeKind kind) { return kind == SchemeKind::kTruncNormal ? 2.0 : 1.0; }

std::string FormatShape(absl::Span<const int64_t> shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

absl::Status NotForScheme(absl::string_view parameter, SchemeKind kind, absl::string_view hint) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s does not apply to scheme '%s' (%s)", parameter, SchemeName(kind), hint));
}

std::string FormatNumber(double x) { return absl::StrFormat("%.4g", x); }

}  // namespace

absl::StatusOr<SchemeKind> ParseScheme(absl::string_view name) {
  for (const NamedScheme& scheme : kSchemes) {
    if (name == scheme.name) return scheme.kind;
  }
  // A name the input starts (kaiming -> kaiming_normal), else the fewest edits, ignoring case.
  const std::string typed = absl::AsciiStrToLower(name);
  const NamedScheme* closest = &kSchemes[0];
  for (const NamedScheme& scheme : kSchemes) {
    if (!typed.empty() && absl::StartsWith(scheme.name, typed)) {
      closest = &scheme;
      break;
    }
    if (EditDistance(typed, scheme.name) < EditDistance(typed, closest->name)) closest = &scheme;
  }
  return absl::InvalidArgumentError(absl::StrFormat("unknown scheme '%s' (did you mean '%s'?); valid schemes: %s", name,
                                                    closest->name, absl::StrJoin(SchemeNames(), ", ")));
}

absl::string_view SchemeName(SchemeKind kind) {
  for (const NamedScheme& scheme : kSchemes) {
    if (scheme.kind == kind) return scheme.name;
  }
  return "?";
}

std::vector<std::string> SchemeNames() {
  std::vector<std::string> names;
  for (const NamedScheme& scheme : kSchemes) names.push_back(scheme.name);
  return names;
}

bool UsesFans(SchemeKind kind) {
  switch (kind) {
    case SchemeKind::kZeros:
    case SchemeKind::kOnes:
    case SchemeKind::kConstant:
    case SchemeKind::kUniform:
    case SchemeKind::kNormal:
    case SchemeKind::kTruncatedNormal:
    case SchemeKind::kTruncNormal:
    case SchemeKind::kOrthogonal:
    case SchemeKind::kIdentity:
    case SchemeKind::kDirac: return false;
    default: return true;
  }
}

bool IsStructured(SchemeKind kind) {
  return kind == SchemeKind::kOrthogonal || kind == SchemeKind::kIdentity || kind == SchemeKind::kDirac;
}

absl::StatusOr<FanMode> ParseFanMode(absl::string_view name) {
  for (const auto& [text, mode] : kFanModes) {
    if (name == text) return mode;
  }
  return absl::InvalidArgumentError(absl::StrFormat("unknown mode '%s'; valid modes: %s", name, JoinNames(kFanModes)));
}

absl::string_view FanModeName(FanMode mode) {
  for (const auto& [text, value] : kFanModes) {
    if (value == mode) return text;
  }
  return "?";
}

absl::StatusOr<Nonlinearity> ParseNonlinearity(absl::string_view name) {
  for (const auto& [text, value] : kNonlinearities) {
    if (name == text) return value;
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown nonlinearity '%s'; valid nonlinearities: %s", name, JoinNames(kNonlinearities)));
}

absl::string_view NonlinearityName(Nonlinearity nonlinearity) {
  for (const auto& [text, value] : kNonlinearities) {
    if (value == nonlinearity) return text;
  }
  return "?";
}

double CalculateGain(Nonlinearity nonlinearity, double negative_slope) {
  switch (nonlinearity) {
    case Nonlinearity::kLinear:
    case Nonlinearity::kSigmoid: return 1.0;
    case Nonlinearity::kTanh: return 5.0 / 3.0;
    case Nonlinearity::kRelu: return std::sqrt(2.0);
    case Nonlinearity::kLeakyRelu: return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
    case Nonlinearity::kSelu: return 0.75;
  }
  return 1.0;
}

absl::Status Validate(const SchemeOptions& o) {
  const SchemeKind kind = o.kind;
  auto finite = [](absl::string_view parameter, double x) -> absl::Status {
    if (std::isfinite(x)) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrFormat("%s must be a finite number", parameter));
  };
  if (o.value) {
    if (kind != SchemeKind::kConstant) return NotForScheme("--value", kind, "only 'constant' uses it");
    if (auto s = finite("--value", *o.value); !s.ok()) return s;
  } else if (kind == SchemeKind::kConstant) {
    return absl::InvalidArgumentError("scheme 'constant' needs --value");
  }
  if ((o.low || o.high) && !TakesLowAndHigh(kind)) {
    return NotForScheme(o.low ? "--low" : "--high", kind, "only 'uniform' and 'trunc_normal' use it");
  }
  if (TakesLowAndHigh(kind)) {
    const double low = o.low.value_or(DefaultLow(kind)), high = o.high.value_or(DefaultHigh(kind));
    if (auto s = finite("--low", low); !s.ok()) return s;
    if (auto s = finite("--high", high); !s.ok()) return s;
    if (!(low < high)) {
      return absl::InvalidArgumentError(absl::StrFormat("--low (%g) must be less than --high (%g)", low, high));
    }
  }
  if ((o.mean || o.std) && !TakesMeanAndStd(kind)) {
    return NotForScheme(o.mean ? "--mean" : "--std", kind,
                        "only 'normal', 'truncated_normal' and 'trunc_normal' use it");
  }
  if (o.mean) {
    if (auto s = finite("--mean", *o.mean); !s.ok()) return s;
  }
  if (o.std && !(std::isfinite(*o.std) && *o.std >= 0)) {
    return absl::InvalidArgumentError("--std must be a finite number >= 0");
  }
  const bool fan_based = IsVarianceScaling(kind);
  const char* fan_hint = "it applies to xavier_*, he_* and lecun_*";
  if (o.mode && !fan_based) return NotForScheme("--mode", kind, fan_hint);
  if (o.gain && !TakesGain(kind)) {
    return NotForScheme("--gain", kind, "it applies to xavier_*, he_*, lecun_*, orthogonal and identity");
  }
  if (o.nonlinearity && !fan_based) return NotForScheme("--nonlinearity", kind, fan_hint);
  if (o.gain && o.nonlinearity) {
    return absl::InvalidArgumentError("give either --gain or --nonlinearity, not both");
  }
  if (o.gain && !(std::isfinite(*o.gain) && *o.gain >= 0)) {
    return absl::InvalidArgumentError("--gain must be a finite number >= 0");
  }
  if (o.negative_slope) {
    if (o.nonlinearity != Nonlinearity::kLeakyRelu) {
      return absl::InvalidArgumentError("--negative-slope needs --nonlinearity leaky_relu");
    }
    if (auto s = finite("--negative-slope", *o.negative_slope); !s.ok()) return s;
  }
  return absl::OkStatus();
}

double EffectiveGain(const SchemeOptions& o) {
  if (o.kind == SchemeKind::kTorch) return std::sqrt(1.0 / 3.0);  // sqrt(2 / (1 + a^2)), a = sqrt(5)
  if (o.gain) return *o.gain;
  if (o.nonlinearity) return CalculateGain(*o.nonlinearity, o.negative_slope.value_or(0.01));
  return IsHe(o.kind) ? std::sqrt(2.0) : 1.0;
}

FanMode EffectiveMode(const SchemeOptions& o) {
  if (o.mode) return *o.mode;
  return IsXavier(o.kind) ? FanMode::kFanAvg : FanMode::kFanIn;
}

absl::StatusOr<proto::Distribution> ResolveDistribution(const SchemeOptions& o, const Fans& fans) {
  proto::Distribution d;
  switch (o.kind) {
    case SchemeKind::kZeros:
    case SchemeKind::kOnes:
    case SchemeKind::kConstant:
      d.set_kind(proto::Distribution::CONSTANT);
      d.set_value(o.kind == SchemeKind::kZeros ? 0.0 : o.kind == SchemeKind::kOnes ? 1.0 : *o.value);
      return d;
    case SchemeKind::kUniform:
      d.set_kind(proto::Distribution::UNIFORM);
      d.set_low(o.low.value_or(DefaultLow(o.kind)));
      d.set_high(o.high.value_or(DefaultHigh(o.kind)));
      return d;
    case SchemeKind::kTruncNormal:  // torch's cut points are absolute
      d.set_kind(proto::Distribution::TRUNCATED_NORMAL);
      d.set_mean(o.mean.value_or(0.0));
      d.set_std(o.std.value_or(1.0));
      d.set_low(o.low.value_or(DefaultLow(o.kind)));
      d.set_high(o.high.value_or(DefaultHigh(o.kind)));
      return d;
    case SchemeKind::kNormal:
      d.set_kind(proto::Distribution::NORMAL);
      d.set_mean(o.mean.value_or(0.0));
      d.set_std(o.std.value_or(1.0));
      return d;
    case SchemeKind::kTruncatedNormal: {
      const double mean = o.mean.value_or(0.0), std = o.std.value_or(1.0);
      d.set_kind(proto::Distribution::TRUNCATED_NORMAL);
      d.set_mean(mean);
      d.set_std(std);
      d.set_low(mean - kTruncationStds * std);
      d.set_high(mean + kTruncationStds * std);
      return d;
    }
    case SchemeKind::kOrthogonal:
    case SchemeKind::kIdentity:
    case SchemeKind::kDirac:
      d.set_kind(o.kind == SchemeKind::kOrthogonal ? proto::Distribution::ORTHOGONAL
                 : o.kind == SchemeKind::kIdentity ? proto::Distribution::IDENTITY
                                                   : proto::Distribution::DIRAC);
      d.set_gain(o.kind == SchemeKind::kDirac ? 1.0 : o.gain.value_or(1.0));
      return d;
    default: break;
  }
  const FanMode mode = EffectiveMode(o);
  const double fan = mode == FanMode::kFanIn    ? static_cast<double>(fans.fan_in)
                     : mode == FanMode::kFanOut ? static_cast<double>(fans.fan_out)
                                                : (fans.fan_in + fans.fan_out) / 2.0;
  if (!(fan > 0)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s is 0 (fan_in %d, fan_out %d)", FanModeName(mode), fans.fan_in, fans.fan_out));
  }
  if (o.kind == SchemeKind::kTorch) {  // kaiming_uniform_(a=sqrt(5)): bound sqrt(3) g / sqrt(fan_in)
    const double bound = 1.0 / std::sqrt(fan);
    d.set_kind(proto::Distribution::UNIFORM);
    d.set_low(-bound);
    d.set_high(bound);
    return d;
  }
  const double std = EffectiveGain(o) / std::sqrt(fan);
  if (IsTruncatedFamily(o.kind)) {
    const double parent = std / kTruncatedStdFactor;
    d.set_kind(proto::Distribution::TRUNCATED_NORMAL);
    d.set_mean(0.0);
    d.set_std(parent);
    d.set_low(-kTruncationStds * parent);
    d.set_high(kTruncationStds * parent);
  } else if (IsUniformFamily(o.kind)) {
    const double bound = std::sqrt(3.0) * std;
    d.set_kind(proto::Distribution::UNIFORM);
    d.set_low(-bound);
    d.set_high(bound);
  } else {
    d.set_kind(proto::Distribution::NORMAL);
    d.set_mean(0.0);
    d.set_std(std);
  }
  return d;
}

proto::Distribution ConstantDistribution(double value) {
  proto::Distribution d;
  d.set_kind(proto::Distribution::CONSTANT);
  d.set_value(value);
  return d;
}

proto::Distribution UniformDistribution(double low, double high) {
  proto::Distribution d;
  d.set_kind(proto::Distribution::UNIFORM);
  d.set_low(low);
  d.set_high(high);
  return d;
}

proto::Distribution NormalDistribution(double mean, double std) {
  proto::Distribution d;
  d.set_kind(proto::Distribution::NORMAL);
  d.set_mean(mean);
  d.set_std(std);
  return d;
}

std::string DescribeDistribution(const proto::Distribution& d) {
  switch (d.kind()) {
    case proto::Distribution::CONSTANT: return "const " + FormatNumber(d.value());
    case proto::Distribution::UNIFORM:
      return absl::StrFormat("U(%s, %s)", FormatNumber(d.low()), FormatNumber(d.high()));
    case proto::Distribution::NORMAL:
      return absl::StrFormat("N(%s, %s)", FormatNumber(d.mean()), FormatNumber(d.std()));
    case proto::Distribution::TRUNCATED_NORMAL:
      return absl::StrFormat("TN(%s, %s, [%s, %s])", FormatNumber(d.mean()), FormatNumber(d.std()),
                             FormatNumber(d.low()), FormatNumber(d.high()));
    case proto::Distribution::ORTHOGONAL: return "orthogonal(gain " + FormatNumber(d.gain()) + ")";
    case proto::Distribution::IDENTITY: return "identity(gain " + FormatNumber(d.gain()) + ")";
    case proto::Distribution::DIRAC: return d.gain() == 1 ? "dirac" : "dirac(gain " + FormatNumber(d.gain()) + ")";
    default: return "?";
  }
}

absl::Status CheckShapeForScheme(SchemeKind kind, absl::Span<const int64_t> shape, int64_t groups) {
  const size_t rank = shape.size();
  const std::string has = absl::StrFormat("this one has rank %d %s", rank, FormatShape(shape));
  switch (kind) {
    case SchemeKind::kOrthogonal:
      if (rank < 2) {
        return absl::InvalidArgumentError("orthogonal needs a tensor of rank >= 2; " + has);
      }
      break;
    case SchemeKind::kIdentity:
      if (rank != 2) return absl::InvalidArgumentError("identity needs a tensor of rank 2; " + has);
      break;
    case SchemeKind::kDirac:
      if (rank < 3 || rank > 5) {
        return absl::InvalidArgumentError(
            "dirac needs a tensor of rank 3, 4 or 5 (a Conv weight [out, in/groups, k...]); " + has);
      }
      if (groups < 1) {
        return absl::InvalidArgumentError(absl::StrFormat("dirac: groups (%d) must be >= 1", groups));
      }
      if (shape[0] % groups != 0) {
        return absl::InvalidArgumentError(
            absl::StrFormat("dirac: dim 0 (%d) is not divisible by groups (%d)", shape[0], groups));
      }
      break;
    default: return absl::OkStatus();
  }
  for (int64_t dim : shape) {
    if (dim < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: negative dim in shape %s", SchemeName(kind), FormatShape(shape)));
    }
  }
  return absl::OkStatus();
}

}  // namespace onnx_reinit
