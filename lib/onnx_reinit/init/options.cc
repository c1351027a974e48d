#include "onnx_reinit/options.h"

#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/init/preset.h"
#include "onnx_reinit/policy.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {
namespace {

// The options are the caller's: every error in them is a usage error.
template <typename T>
absl::StatusOr<T> AsUsageError(absl::StatusOr<T> result) {
  if (!result.ok()) return WithErrorKind(result.status(), ErrorKind::kUsage);
  return result;
}

bool HasSchemeParameters(const proto::Recipe& o) {
  return o.has_value() || o.has_low() || o.has_high() || o.has_mean() || o.has_std() || !o.mode().empty() ||
         !o.nonlinearity().empty() || o.has_negative_slope() || o.has_gain();
}

void ClearSchemeParameters(proto::Recipe& o) {
  o.clear_value();
  o.clear_low();
  o.clear_high();
  o.clear_mean();
  o.clear_std();
  o.clear_mode();
  o.clear_nonlinearity();
  o.clear_negative_slope();
  o.clear_gain();
}

// `text` as one of `choices` (the first is the default, for empty text); `flag` names it in errors.
template <typename Enum>
absl::StatusOr<Enum> Choice(absl::string_view flag, const std::string& text,
                            std::initializer_list<std::pair<const char*, Enum>> choices) {
  if (text.empty()) return choices.begin()->second;
  std::vector<std::string> names;
  for (const auto& [name, value] : choices) {
    if (text == name) return value;
    names.push_back(name);
  }
  return absl::InvalidArgumentError(absl::StrFormat("%s '%s': choose %s", flag, text, absl::StrJoin(names, " or ")));
}

absl::StatusOr<NamePattern> CompileRegex(absl::string_view flag, const std::string& pattern) {
  auto compiled = NamePattern::Compile(pattern);
  if (!compiled.ok()) return WithContext(compiled.status(), flag);
  return compiled;
}

// The --only/--exclude regexes (empty: no test).
absl::Status SetSelection(const proto::Recipe& o, ReinitOptions& reinit) {
  if (!o.only().empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(reinit.only, CompileRegex("--only", o.only()));
  }
  if (!o.exclude().empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(reinit.exclude, CompileRegex("--exclude", o.exclude()));
  }
  return absl::OkStatus();
}

absl::Status AddRules(const google::protobuf::RepeatedPtrField<std::string>& texts, absl::string_view context,
                      std::vector<Rule>& rules) {
  for (const std::string& text : texts) {
    auto rule = ParseRule(text);
    if (!rule.ok()) return context.empty() ? rule.status() : WithContext(rule.status(), context);
    rules.push_back(*std::move(rule));
  }
  return absl::OkStatus();
}

absl::StatusOr<RewriteOptions::Layout> Layout(const proto::Recipe& o) {
  if (o.external_data() && o.embed()) {
    return absl::InvalidArgumentError("give --external-data or --embed, not both");
  }
  return o.external_data() ? RewriteOptions::Layout::kExternal
         : o.embed()       ? RewriteOptions::Layout::kEmbed
                           : RewriteOptions::Layout::kKeep;
}

absl::StatusOr<proto::Recipe> ParseRecipeText(absl::string_view text, absl::string_view source) {
  // Collects the parser's first error, with its line and column, instead of logging to stderr.
  class FirstError : public google::protobuf::io::ErrorCollector {
   public:
    void AddError(int line, int column, const std::string& message) override {
      if (text.empty()) text = absl::StrFormat("line %d:%d: %s", line + 1, column + 1, message);
    }
    std::string text;
  } errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  proto::Recipe recipe;
  if (!parser.ParseFromString(std::string(text), &recipe)) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", source, errors.text));
  }
  return recipe;
}

absl::StatusOr<SchemeOptions> SchemeFrom(const proto::Recipe& o) {
  if (o.scheme().empty()) return absl::InvalidArgumentError("give --scheme (or a --recipe with a scheme)");
  if (absl::StrContains(o.scheme(), ':')) {
    if (HasSchemeParameters(o)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("scheme '%s': give its parameters after its name or as options, not both", o.scheme()));
    }
    return ParseSchemeSpec(o.scheme());
  }
  SchemeOptions scheme;
  ONNX_REINIT_ASSIGN_OR_RETURN(scheme.kind, ParseScheme(o.scheme()));
  if (o.has_value()) scheme.value = o.value();
  if (o.has_low()) scheme.low = o.low();
  if (o.has_high()) scheme.high = o.high();
  if (o.has_mean()) scheme.mean = o.mean();
  if (o.has_std()) scheme.std = o.std();
  if (!o.mode().empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(scheme.mode, ParseFanMode(o.mode()));
  }
  if (!o.nonlinearity().empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(scheme.nonlinearity, ParseNonlinearity(o.nonlinearity()));
  }
  if (o.has_negative_slope()) scheme.negative_slope = o.negative_slope();
  if (o.has_gain()) scheme.gain = o.gain();
  ONNX_REINIT_RETURN_IF_ERROR(Validate(scheme));
  return scheme;
}

// `given` over `file`: set fields of `given` replace the file's; the rules are given's only.
proto::Recipe Overlay(const proto::Recipe& given, const proto::Recipe& file) {
  proto::Recipe o = file;
  if (!given.scheme().empty() || !given.preset().empty()) {  // one replaces the other, with its parameters
    ClearSchemeParameters(o);
    o.clear_scheme();
    o.clear_preset();
    o.clear_initializer_range();
  }
  o.clear_rules();
  o.MergeFrom(given);
  return o;
}

// The scheme, or the preset (init/preset.h) that sets the scheme and more; not both.
absl::Status SetSchemeOrPreset(const proto::Recipe& o, Policy& policy) {
  if (o.preset().empty()) {
    if (o.has_initializer_range()) {
      return absl::InvalidArgumentError(InitializerRangeUse());
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(policy.scheme, SchemeFrom(o));
    return absl::OkStatus();
  }
  if (!o.scheme().empty() || HasSchemeParameters(o)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--preset %s sets the scheme: give --preset or --scheme (and its parameters), not both; "
                        "change single tensors with --rule",
                        o.preset()));
  }
  return ApplyPreset(o.preset(),
                     o.has_initializer_range() ? std::optional<double>(o.initializer_range()) : std::nullopt, policy);
}

absl::StatusOr<RewriteOptions> RewriteOptionsFrom(const proto::Recipe& given, const proto::Recipe& file,
                                                  absl::string_view file_name) {
  const proto::Recipe o = Overlay(given, file);

  RewriteOptions options;
  ReinitOptions& reinit = options.reinit;
  Policy& policy = reinit.policy;
  ONNX_REINIT_RETURN_IF_ERROR(SetSchemeOrPreset(o, policy));
  ONNX_REINIT_RETURN_IF_ERROR(AddRules(o.rules(), "", policy.rules));
  ONNX_REINIT_RETURN_IF_ERROR(AddRules(file.rules(), file_name, policy.rules));
  // A preset sets these role defaults; the flags given with it still win.
  const bool preset = !o.preset().empty();
  if (!preset || !o.bias().empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(
        policy.bias, Choice<BiasInit>("--bias", o.bias(), {{"zeros", BiasInit::kZeros}, {"torch", BiasInit::kTorch}}));
  }
  if (!preset || !o.embedding().empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(policy.embedding, Choice<EmbeddingInit>("--embedding", o.embedding(),
                                                                         {{"normal", EmbeddingInit::kNormal},
                                                                          {"scheme", EmbeddingInit::kScheme}}));
  }
  if (!preset || !o.rnn_recurrence().empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(policy.recurrence, Choice<RecurrenceInit>("--rnn-recurrence", o.rnn_recurrence(),
                                                                           {{"orthogonal", RecurrenceInit::kOrthogonal},
                                                                            {"scheme", RecurrenceInit::kScheme}}));
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(
      reinit.analysis.convtranspose_input_channel_fans,
      Choice<bool>("--convtranspose-fan", o.convtranspose_fan(), {{"torch", false}, {"input_channels", true}}));
  if (o.has_lstm_forget_bias()) policy.lstm_forget_bias = o.lstm_forget_bias();
  ONNX_REINIT_RETURN_IF_ERROR(SetSelection(o, reinit));
  reinit.strict = o.strict();
  reinit.untie = o.untie();
  if (o.has_seed()) reinit.seed = o.seed();
  if (o.threads() < 0 || o.threads() > 1024) {
    return absl::InvalidArgumentError(absl::StrFormat("--threads %d: give 0 (one per core) to 1024", o.threads()));
  }
  reinit.threads = o.threads();
  reinit.dry_run = o.dry_run();
  reinit.requantize = o.requantize();
  ONNX_REINIT_ASSIGN_OR_RETURN(options.layout, Layout(o));
  if (o.has_size_threshold()) {
    if (o.size_threshold() < 0) {
      return absl::InvalidArgumentError(absl::StrFormat("--size-threshold %d: must be >= 0", o.size_threshold()));
    }
    options.size_threshold = o.size_threshold();
  }
  options.materialize = o.materialize();
  return options;
}

}  // namespace

absl::StatusOr<proto::Recipe> ParseRecipe(absl::string_view text, absl::string_view source) {
  return AsUsageError(ParseRecipeText(text, source));
}

absl::StatusOr<proto::Recipe> ReadRecipe(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return WithErrorKind(absl::NotFoundError(absl::StrFormat("%s: cannot read the recipe", path)), ErrorKind::kFile);
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseRecipe(text, path);
}

absl::StatusOr<SchemeOptions> SchemeFromOptions(const proto::Recipe& options) {
  return AsUsageError(SchemeFrom(options));
}

absl::StatusOr<RewriteOptions> ToRewriteOptions(const proto::Recipe& given, const proto::Recipe& file,
                                                absl::string_view file_name) {
  return AsUsageError(RewriteOptionsFrom(given, file, file_name));
}

proto::Recipe EffectiveRecipe(const proto::Recipe& given, const proto::Recipe& file) {
  proto::Recipe o = Overlay(given, file);
  o.mutable_rules()->MergeFrom(file.rules());
  return o;
}

absl::StatusOr<PresetTargets> PresetTargetsOf(onnx::ModelProto& model, const proto::Recipe& options,
                                              const DetachedPayloads& payloads) {
  Policy policy;
  ONNX_REINIT_RETURN_IF_ERROR(WithErrorKind(
      ApplyPreset(options.preset(),
                  options.has_initializer_range() ? std::optional<double>(options.initializer_range()) : std::nullopt,
                  policy),
      ErrorKind::kUsage));
  const GraphAnalysis analysis = AnalyzeGraph(model, AnalysisOptions(), payloads);
  PresetTargets targets;
  targets.source = absl::StrCat("preset ", options.preset());
  targets.warnings = ExpandPreset(analysis, policy);
  for (const TensorUse& use : analysis.tensors) {
    if (use.role == Role::kQuantized || use.fixed) continue;
    const absl::StatusOr<TensorPlan> plan = PlanTensor(use, policy);
    const absl::StatusOr<int64_t> count = ElementCount(*use.tensor, use.name);
    if (!plan.ok() || !count.ok() || plan->regions.size() != 1) continue;  // kept, or drawn in parts
    const PlannedRegion& region = plan->regions.front();
    if (region.begin == 0 && region.end == *count) targets.distributions[use.name] = region.distribution;
  }
  return targets;
}

}  // namespace onnx_reinit
