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
//
// Truncated normals. `truncated_normal` (--mean m, --std s) is N(m, s) cut at m +- 2s with no std
// correction, like Keras TruncatedNormal and JAX truncated_normal: the values' std is
// 0.87962566103423978 * s. This differs from torch.nn.init.trunc_normal_(mean, std, a, b), whose
// cut a, b is absolute (default -2, 2, so with std 0.02 it truncates at +-100 std, i.e. nothing);
// here the cut is relative to std. `trunc_normal` is torch's: N(--mean, --std) cut at the absolute
// --low and --high (trunc_normal_'s a and b, defaults -2 and 2). The variance-scaling forms
//   *_truncated_normal  N(0, p) cut at +-2p, with parent std p = (g / sqrt(n)) / 0.87962566103423978
// are Keras/JAX VarianceScaling(distribution="truncated_normal"): the values' std is g / sqrt(n),
// the same as their *_normal sibling's, whose mode and gain defaults they share.
//
// Structured schemes (values depend on the tensor's shape, see CheckShapeForScheme):
//   orthogonal  torch.nn.init.orthogonal_(gain): rows = shape[0], cols = the product of the other
//               dims; gain * a random orthogonal matrix (orthonormal columns if rows >= cols,
//               orthonormal rows otherwise). Conv W [16, 4, 3, 3] is viewed as 16 x 36.
//   identity    gain * eye(rows, cols), 2-D only (torch eye_, Keras Identity).
//   dirac       torch.nn.init.dirac_(groups) on a Conv weight [out, in/groups, k...]: 1 at the
//               centre tap (k // 2 in every spatial dim) of W[g * out/groups + d, d] for
//               d < min(out/groups, in/groups), 0 elsewhere; so the conv passes its input through.
//
// `torch` is PyTorch's default Linear/ConvNd weight init, kaiming_uniform_(a=sqrt(5)):
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)). (The defaults of other roles - biases, RNNs, embeddings,
// norms - are not a single distribution and are chosen per role outside this module.)
#ifndef ONNX_REINIT_SCHEME_H_
#define ONNX_REINIT_SCHEME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "onnx_reinit/report.pb.h"

namespace onnx_reinit {

// A weight's fan-in and fan-out, which the fan-dependent schemes scale by (fan.h finds them).
struct Fans {
  int64_t fan_in = 0;
  int64_t fan_out = 0;
  bool operator==(const Fans& other) const { return fan_in == other.fan_in && fan_out == other.fan_out; }
};

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
  kTruncatedNormal,
  kTruncNormal,
  kXavierTruncatedNormal,
  kHeTruncatedNormal,
  kLecunTruncatedNormal,
  kOrthogonal,
  kIdentity,
  kDirac,
  kTorch,
};

enum class FanMode { kFanIn, kFanOut, kFanAvg };
enum class Nonlinearity { kLinear, kRelu, kLeakyRelu, kTanh, kSigmoid, kSelu };

// Aliases, each the same distribution as its target with the same parameters:
//   xavier = xavier_normal, he = he_normal;
//   torch.nn.init's kaiming_normal_ = he_normal and kaiming_uniform_ = he_uniform (its default a=0
//   gives relu's gain; --nonlinearity leaky_relu --negative-slope a for others), eye_ = identity;
//   Keras's glorot_uniform = xavier_uniform and glorot_normal = xavier_truncated_normal (Keras's
//   GlorotNormal is truncated), VarianceScaling()'s defaults (scale 1, fan_in, truncated normal) =
//   variance_scaling = lecun_truncated_normal, its scale s being --gain sqrt(s).
// Keras's he_normal and lecun_normal are truncated: here they are torch's (not truncated), and
// Keras's are he_truncated_normal and lecun_truncated_normal.
//
// Parses a scheme name. The error suggests the closest valid name and lists them all.
absl::StatusOr<SchemeKind> ParseScheme(absl::string_view name);
absl::string_view SchemeName(SchemeKind kind);
// Every accepted name, aliases included, in the order --help shows them.
std::vector<std::string> SchemeNames();
// Whether ResolveDistribution reads the fans: the xavier/he/lecun families and torch.
bool UsesFans(SchemeKind kind);
// Whether the values depend on the tensor's shape: orthogonal, identity and dirac. Their FillJob
// needs `shape` (and `groups` for dirac), and CheckShapeForScheme can reject a tensor.
bool IsStructured(SchemeKind kind);

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
  std::optional<double> value;               // constant
  std::optional<double> low, high;           // uniform: defaults 0 and 1
  std::optional<double> mean, std;           // normal, truncated_normal: defaults 0 and 1
  std::optional<FanMode> mode;               // xavier_*, he_*, lecun_*
  std::optional<Nonlinearity> nonlinearity;  // xavier_*, he_*, lecun_*
  std::optional<double> negative_slope;      // leaky_relu only; default 0.01
  // xavier_*, he_*, lecun_* (overrides nonlinearity); orthogonal and identity (default 1).
  std::optional<double> gain;
};

// Checks that every set parameter belongs to the scheme and is in range.
absl::Status Validate(const SchemeOptions& options);

// The effective gain and mode of a fan-based scheme, after defaults. The gain of orthogonal and
// identity is --gain or 1; torch's is sqrt(1/3) (kaiming_uniform_'s gain for a = sqrt(5)).
double EffectiveGain(const SchemeOptions& options);
FanMode EffectiveMode(const SchemeOptions& options);

// The distribution `options` gives a tensor with `fans`. Fails (FailedPrecondition) when the
// chosen fan is 0. `options` must have passed Validate. Shape-independent: for the structured
// schemes the result is ORTHOGONAL / IDENTITY / DIRAC with `gain` (1 for dirac), and the caller
// checks the shape with CheckShapeForScheme.
absl::StatusOr<proto::Distribution> ResolveDistribution(const SchemeOptions& options, const Fans& fans);

// Whether `kind` can initialize a tensor (or a region of one, e.g. an RNN gate block [H, H]) of
// `shape`; `groups` is the consuming Conv's group attribute (dirac only). OK for every
// non-structured scheme. Otherwise InvalidArgument, with a message meant to follow
// "weight 'x': ", e.g.
//   "orthogonal needs a tensor of rank >= 2; this one has rank 1 [64]"
//   "identity needs a tensor of rank 2; this one has rank 4 [8, 3, 3, 3]"
//   "dirac needs a tensor of rank 3, 4 or 5 (a Conv weight [out, in/groups, k...]); this one has
//    rank 2 [10, 20]"
//   "dirac: dim 0 (10) is not divisible by groups (4)"
// Call it for every weight before anything is written; Fill assumes it passed.
absl::Status CheckShapeForScheme(SchemeKind kind, absl::Span<const int64_t> shape, int64_t groups = 1);

// Distributions built directly (by role defaults and tests).
proto::Distribution ConstantDistribution(double value);
proto::Distribution UniformDistribution(double low, double high);
proto::Distribution NormalDistribution(double mean, double std);

// A short human form: "N(0, 0.0442)", "U(-0.0765, 0.0765)", "const 0",
// "TN(0, 0.0503, [-0.1006, 0.1006])", "orthogonal(gain 1)", "identity(gain 1)", "dirac".
std::string DescribeDistribution(const proto::Distribution& distribution);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_SCHEME_H_
