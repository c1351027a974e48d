// Which distribution each tensor gets: the per-role defaults that apply when the user gives only
// --scheme S, and the --rule overrides.
//
// Defaults by role (S is the user's scheme):
//   weight (Conv, ConvTranspose, Gemm, MatMul)  S
//   bias                                        zeros; U(+-1/sqrt(fan_in)) with BiasInit::kTorch
//   norm_scale / norm_bias                      ones / zeros
//   norm_mean / norm_var (BatchNormalization)   zeros / ones
//   embedding (Gather table)                    N(0, 1) as torch.nn.Embedding; S with fan_in = dim
//                                               with EmbeddingInit::kScheme
//   rnn_weight (W)                              S on each gate block [H, input], fans (input, H)
//   rnn_recurrence (R)                          orthogonal on each gate block [H, H]; S per gate
//                                               with RecurrenceInit::kScheme
//   rnn_bias (B)                                zeros; the LSTM forget gate of the input-bias half
//                                               set to lstm_forget_bias when given
//   parameter (class token, layer scale, ...)   unchanged (its trained values), unless a rule or
//                                               --only selects it
//   other                                       unchanged, unless a name: rule or --only selects it
//                                               (never when TensorUse::fixed)
// With S = torch, every role gets PyTorch's reset_parameters instead: weights and biases
// U(+-1/sqrt(fan_in)), all RNN tensors U(+-1/sqrt(H)), embeddings N(0, 1), norms ones/zeros.
#ifndef ONNX_REINIT_POLICY_H_
#define ONNX_REINIT_POLICY_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx_reinit/name_pattern.h"
#include "onnx_reinit/report.pb.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/scheme.h"

namespace onnx_reinit {

enum class BiasInit { kZeros, kTorch };
enum class EmbeddingInit { kNormal, kScheme };
enum class RecurrenceInit { kOrthogonal, kScheme };

// Parses "SCHEME[:key=value,...]", e.g. "normal:std=0.02" or "he_uniform:mode=fan_out". Keys:
// value, low, high, mean, std, mode, nonlinearity, negative_slope, gain. The result is validated.
absl::StatusOr<SchemeOptions> ParseSchemeSpec(absl::string_view text);

// Whether `pattern` matches the tensor's name or the name of a node that reads it: the whole name
// (NamePattern::Matches), or with `search` any part of it (NamePattern::Search). Exporters rename
// weights (PyTorch's "onnx::MatMul_1234"), while their readers keep the module path
// ("/encoder/layers/encoder_layer_0/mlp/mlp.0/MatMul"). Fixed tensors (TensorUse::fixed) match
// nothing.
bool MatchesName(const TensorUse& use, const NamePattern& pattern, bool search);

// A per-tensor override: PATTERN=SCHEME[:key=value,...] or PATTERN=keep, where PATTERN is
// name:REGEX (the whole name of the tensor or of a node that reads it must match: see
// MatchesName), op:OPTYPE or op:DOMAIN::OPTYPE (the reading op; ai.onnx for the default domain), or
// role:ROLE. A name: rule applies to a floating-point constant of any role, also `other`, except
// fixed ones; op: and role: rules to tensors with a role, and op: rules also to those read by an op
// the op table does not know (TensorUse::unknown_op).
struct Rule {
  enum class Field { kName, kOp, kRole };
  Field field = Field::kName;
  std::string pattern;
  std::optional<NamePattern> name_pattern;  // kName
  bool keep = false;                        // leave matching tensors unchanged
  SchemeOptions scheme;                     // unless keep
  std::string text;                         // as given, for reports

  // Whether the rule matches `use` and applies to it (see above).
  bool Matches(const TensorUse& use) const;
};

absl::StatusOr<Rule> ParseRule(absl::string_view text);

// A rule for one tensor, by name: what a preset's structural rule gives it (see Policy).
struct TensorRule {
  SchemeOptions scheme;
  std::string text;  // for reports: "preset gpt2: residual projection (attention output, block 1 of 2) ..."
};

struct Policy {
  SchemeOptions scheme;
  BiasInit bias = BiasInit::kZeros;
  EmbeddingInit embedding = EmbeddingInit::kNormal;
  RecurrenceInit recurrence = RecurrenceInit::kOrthogonal;
  std::optional<double> lstm_forget_bias;
  std::vector<Rule> rules;  // first match wins; checked before the role defaults
  // A preset (init/preset.h) sets the fields above and these: its name (the role defaults are
  // reported as "preset NAME: ROLE"), its std (initializer_range) for the structural rules, the
  // rules it adds by role (tried after `rules`) and the ones it gives single tensors from the
  // structure found in the graph (tried after `rules`, before `preset_rules`). So --rule
  // overrides a preset as it overrides a scheme.
  std::string preset;
  double preset_std = 0;
  std::vector<Rule> preset_rules;
  std::map<std::string, TensorRule> tensor_rules;  // by tensor name
};

// One write: elements [begin, end) of the tensor, from one distribution.
struct PlannedRegion {
  int64_t begin = 0, end = 0;
  std::vector<int64_t> shape;  // the region's shape (orthogonal, identity and dirac need it)
  int64_t groups = 1;          // dirac: the Conv's group
  proto::Distribution distribution;
};

// What happens to one tensor. No regions: it is left unchanged (`rule` says why).
struct TensorPlan {
  std::string scheme;   // the scheme applied, e.g. "he_normal", "zeros", "orthogonal"
  std::string rule;     // what chose it: "--rule role:bias=zeros", "default for bias", ...
  int rule_index = -1;  // the rule (index in Policy::rules) that chose it, -1 for the defaults
  std::vector<PlannedRegion> regions;
};

// The plan for a tensor (not kQuantized, not fixed). `selected_by_name`: --only matched it, which
// gives a tensor without a role default (parameter, other) the policy's scheme. InvalidArgument
// (naming the tensor) when the chosen scheme cannot apply, e.g. a fan-based scheme on a norm scale
// or on a tensor without fans, or orthogonal on a 1-D tensor.
absl::StatusOr<TensorPlan> PlanTensor(const TensorUse& use, const Policy& policy, bool selected_by_name = false);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_POLICY_H_
