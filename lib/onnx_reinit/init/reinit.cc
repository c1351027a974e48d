#include "onnx_reinit/reinit.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/base/parallel.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/numerics/moments.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/tensor_data.h"
#include "onnx_reinit/init/preset.h"
#include "onnx_reinit/init/skip_reason.h"
#include "onnx_reinit/init/untie.h"
#include "onnx_reinit/model/validate.h"
#include "onnx_reinit/version.h"

namespace onnx_reinit {
namespace {

// A refusal of ReinitOptions::require_detached, saying why the model must be rewritten in memory.
absl::Status NotInPlace(absl::string_view why) {
  return WithErrorKind(absl::FailedPreconditionError(why), ErrorKind::kNotInPlace);
}

void AddSkipped(const TensorUse& use, absl::string_view reason, proto::ReinitReport& report) {
  proto::SkippedTensor& skipped = *report.add_skipped();
  skipped.set_name(use.name);
  skipped.set_role(std::string(RoleName(use.role)));
  if (use.reader != nullptr) {
    skipped.set_op_type(use.reader->op_type());
    skipped.set_consumer(use.reader->name());
    skipped.set_input_index(use.input_index);
  }
  skipped.set_reason(std::string(reason));
}

// Whether the selection keeps `use`, and whether --only named it.
struct Selected {
  bool kept = true;
  bool by_name = false;
};
Selected Select(const TensorUse& use, const ReinitOptions& options) {
  Selected selected;
  if (options.only) selected.by_name = selected.kept = MatchesName(use, *options.only, /*search=*/true);
  if (options.exclude && MatchesName(use, *options.exclude, /*search=*/true)) selected = Selected{false, false};
  return selected;
}

// What became of a rule: how many tensors it matches, how many it takes (the first rule that
// matches a tensor the selection keeps takes it), and why the others escape it.
struct RuleEffect {
  int matched = 0;
  int taken = 0;
  bool shadowed = false;    // an earlier rule took a tensor it matches
  bool unselected = false;  // --only/--exclude left one out
  bool quantized = false;   // one is quantized, and --requantize is off
};

std::vector<RuleEffect> RuleEffects(const GraphAnalysis& analysis, const ReinitOptions& options) {
  const std::vector<Rule>& rules = options.policy.rules;
  std::vector<RuleEffect> effects(rules.size());
  auto count = [&](const TensorUse& use) {
    const bool quantized = use.role == Role::kQuantized;
    const bool takes = Select(use, options).kept && (!quantized || options.requantize);
    bool taken = false;
    for (size_t r = 0; r < rules.size(); ++r) {
      if (!(quantized ? MatchesQuantized(rules[r], use) : rules[r].Matches(use))) continue;
      RuleEffect& effect = effects[r];
      ++effect.matched;
      if (taken) {
        effect.shadowed = true;
      } else if (takes) {
        ++effect.taken;
      } else {
        (quantized && !options.requantize ? effect.quantized : effect.unselected) = true;
      }
      taken = true;
    }
  };
  for (const TensorUse& use : analysis.tensors) count(use);
  for (const TensorUse& use : analysis.unreadable) count(use);  // a keep rule for one takes effect
  return effects;
}

// The warnings (or, strict, the error) for `problems` (a preset's rules the graph cannot support),
// tensors read by ops the op table does not know and no rule covers, rules that take no effect,
// and runs that rewrite nothing.
absl::Status CheckEffects(const std::vector<RuleEffect>& effects, const std::vector<std::string>& unjudged,
                          std::vector<std::string> problems, const ReinitOptions& options,
                          proto::ReinitReport& report) {
  if (!unjudged.empty()) {
    problems.push_back(absl::StrFormat(
        "%d tensor%s read by ops not in the op table left unchanged: %s; give %s a rule (op:DOMAIN::OP=..., "
        "name:...=..., or =keep)",
        static_cast<int>(unjudged.size()), unjudged.size() == 1 ? "" : "s", absl::StrJoin(unjudged, ", "),
        unjudged.size() == 1 ? "it" : "them"));
  }
  for (size_t r = 0; r < effects.size(); ++r) {
    const RuleEffect& effect = effects[r];
    const std::string& text = options.policy.rules[r].text;
    if (effect.matched == 0) {
      problems.push_back(absl::StrFormat("rule '%s' matches no tensor", text));
    } else if (effect.taken == 0) {
      std::vector<std::string> why;
      if (effect.shadowed) why.push_back("taken by an earlier rule");
      if (effect.unselected) why.push_back("left out by --only/--exclude");
      if (effect.quantized) why.push_back("quantized (rewritten only with --requantize)");
      problems.push_back(absl::StrFormat("rule '%s' takes no effect: the tensors it matches are %s", text,
                                         absl::StrJoin(why, " or ")));
    }
  }
  if (report.tensors().empty() && report.requantized().empty()) {
    const auto quantized =
        std::count_if(report.skipped().begin(), report.skipped().end(),
                      [](const proto::SkippedTensor& t) { return t.role() == RoleName(Role::kQuantized); });
    problems.push_back(absl::StrCat(
        "no tensor is re-initialized", options.only || options.exclude ? " (none matches --only/--exclude)" : "",
        "; the output equals the input",
        quantized > 0 && !options.requantize
            ? absl::StrFormat(" (%d quantized tensors: --requantize rewrites them)", static_cast<int>(quantized))
            : ""));
  }
  if (options.strict && !problems.empty()) {
    return WithErrorKind(absl::InvalidArgumentError(absl::StrCat("--strict: ", problems.front())), ErrorKind::kStrict);
  }
  for (std::string& problem : problems) report.add_warnings(std::move(problem));
  return absl::OkStatus();
}

void WarnKeptParameters(const std::vector<std::string>& kept, proto::ReinitReport& report) {
  if (kept.empty()) return;
  const bool one = kept.size() == 1;
  report.add_warnings(
      absl::StrFormat("%d %s trained values: %s; reset %s with --rule role:parameter=SCHEME (a value-only scheme, e.g. "
                      "normal:std=0.02)",
                      static_cast<int>(kept.size()), one ? "parameter keeps its" : "parameters keep their",
                      absl::StrJoin(kept, ", "), one ? "it" : "them"));
}

proto::TensorRecord DescribeTensor(const TensorUse& use, const TensorValues& values, const TensorPlan& plan) {
  proto::TensorRecord record;
  record.set_name(use.name);
  record.set_source(std::string(SourceName(use.source)));
  if (use.reader != nullptr) {
    record.set_op_type(use.reader->op_type());
    record.set_consumer(use.reader->name());
    record.set_input_index(use.input_index);
  }
  record.set_role(std::string(RoleName(use.role)));
  record.set_dtype(std::string(FloatTypeName(values.type())));
  for (int64_t dim : use.tensor->dims()) record.add_shape(dim);
  record.set_count(values.size());
  if (use.fans) {
    record.set_fan_in(use.fans->fan_in);
    record.set_fan_out(use.fans->fan_out);
  }
  record.set_storage(std::string(StorageName(values.storage())));
  record.set_scheme(plan.scheme);
  record.set_rule(plan.rule);
  record.set_via(use.via);
  record.set_overridable(use.overridable);
  *record.mutable_distribution() = plan.regions.front().distribution;
  std::vector<std::string> parts;
  for (const PlannedRegion& region : plan.regions) {
    std::string part = DescribeDistribution(region.distribution);
    if (parts.empty() || parts.back() != part) parts.push_back(std::move(part));
  }
  record.set_description(absl::StrJoin(parts, "; "));
  return record;
}

// Fills the jobs in batches of about kProgressBatchBytes, tensor by tensor, reporting progress after
// each. Batching does not change any value.
constexpr int64_t kProgressBatchBytes = int64_t{64} << 20;

void FillInBatches(const std::vector<FillJob>& jobs, const ReinitOptions& options, int threads) {
  auto job_bytes = [](const FillJob& job) { return (job.region_end() - job.begin) * ByteWidth(job.values.type()); };
  int64_t total = 0, done = 0;
  for (const FillJob& job : jobs) total += job_bytes(job);
  for (size_t first = 0, last = 0; first < jobs.size(); first = last) {
    int64_t bytes = 0;
    while (last < jobs.size() && (bytes < kProgressBatchBytes || last == first)) bytes += job_bytes(jobs[last++]);
    Fill(std::vector<FillJob>(jobs.begin() + first, jobs.begin() + last), options.seed, threads);
    done += bytes;
    if (options.progress) options.progress(done, total);
  }
}

absl::Status PlanRequantized(onnx::ModelProto& model, const GraphAnalysis& analysis, const Policy& policy,
                             const ReinitOptions& options, const DetachedPayloads& payloads, ReinitPlan& plan) {
  RequantizeOptions requantize;
  requantize.policy = &policy;
  requantize.seed = options.seed;
  requantize.threads = plan.threads;
  requantize.select = [&options](const TensorUse& use) { return Select(use, options).kept; };
  ONNX_REINIT_ASSIGN_OR_RETURN(Requantization requantization, PlanRequantization(analysis, requantize, payloads));
  if (options.require_detached && !requantization.writes.empty()) {
    return NotInPlace("requantized tensors are rewritten in memory");
  }
  for (const BlockwiseJob& job : requantization.blockwise) {
    if (options.require_detached && !job.tensor.detached) {
      return NotInPlace("a blockwise weight's tensors are not all in place-rewritable form");
    }
  }
  proto::ReinitReport& report = plan.report;
  // The scales (and zero points) rewritten with their weights were listed as left unchanged.
  std::set<std::string> scales;
  for (const proto::RequantizedTensor& record : requantization.records) {
    scales.insert(record.scale());
    if (!record.zero_point().empty()) scales.insert(record.zero_point());
  }
  auto& skipped = *report.mutable_skipped();
  skipped.erase(std::remove_if(skipped.begin(), skipped.end(),
                               [&](const proto::SkippedTensor& t) { return scales.count(t.name()) > 0; }),
                skipped.end());
  const int first_record = report.requantized_size();
  for (proto::RequantizedTensor& record : requantization.records) *report.add_requantized() = std::move(record);
  for (BlockwiseJob& job : requantization.blockwise) {
    job.record += first_record;
    plan.blockwise.push_back(std::move(job));
  }
  for (proto::SkippedTensor& skipped : requantization.skipped) *report.add_skipped() = std::move(skipped);
  for (std::string& warning : requantization.warnings) report.add_warnings(std::move(warning));
  plan.requantized = std::move(requantization.writes);
  return absl::OkStatus();
}

// A learned tensor of a data type onnx-reinit does not know cannot be filled: refused when the
// options would rewrite it, tolerated (left as it is, like any integer tensor) when they would not.
absl::Status RefuseUnreadable(const GraphAnalysis& analysis, const Policy& policy, const ReinitOptions& options,
                              proto::ReinitReport& report) {
  std::set<const onnx::TensorProto*> seen;  // a tensor with several readers is judged by its first
  for (const TensorUse& use : analysis.unreadable) {
    if (!seen.insert(use.tensor).second) continue;
    const Selected selected = Select(use, options);
    if (!selected.kept) {
      AddSkipped(use, SkipReason::NotSelected().text, report);
      continue;
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(TensorPlan tensor_plan, PlanTensor(use, policy, selected.by_name));
    if (tensor_plan.regions.empty()) {
      AddSkipped(use, tensor_plan.rule, report);
      continue;
    }
    const int32_t type = use.tensor->data_type();
    return absl::InvalidArgumentError(absl::StrFormat(
        "tensor '%s' (%s of %s '%s') has data type %s (%d), which onnx-reinit cannot fill (it fills "
        "FLOAT, DOUBLE, FLOAT16 and BFLOAT16): leave it out with --exclude, or give it a keep rule",
        use.name, RoleName(use.role), use.reader->op_type(), use.reader->name(), DataTypeName(type), type));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReinitPlan> PlanReinitialization(onnx::ModelProto& model, const ReinitOptions& options,
                                                const DetachedPayloads& payloads) {
  ONNX_REINIT_RETURN_IF_ERROR(Validate(options.policy.scheme));
  ONNX_REINIT_RETURN_IF_ERROR(ValidateModel(model));

  GraphAnalysis analysis = AnalyzeGraph(model, options.analysis, payloads);
  Policy policy = options.policy;  // with the rules a preset takes from the graph's structure
  std::vector<std::string> preset_problems = ExpandPreset(analysis, policy);
  ReinitPlan plan;
  plan.threads = ResolveThreadCount(options.threads);
  proto::ReinitReport& report = plan.report;
  report.set_scheme(policy.preset.empty() ? std::string(SchemeName(policy.scheme.kind))
                                          : absl::StrCat("preset ", policy.preset));
  report.set_seed(options.seed);
  report.set_version(kVersion);
  report.set_dry_run(options.dry_run);
  for (std::string& warning : analysis.warnings) report.add_warnings(std::move(warning));
  if (!options.readers_untied) {
    for (std::string& warning : DisagreeingReaderWarnings(analysis, policy, payloads)) {
      report.add_warnings(std::move(warning));
    }
  }
  ONNX_REINIT_RETURN_IF_ERROR(RefuseUnreadable(analysis, policy, options, report));

  std::vector<std::string> kept_parameters;
  std::vector<std::string> unjudged;           // read by ops the op table does not know, no rule for them
  plan.jobs.reserve(analysis.tensors.size());  // mostly one job per tensor
  plan.rewritten.reserve(analysis.tensors.size());
  for (const TensorUse& use : analysis.tensors) {
    if (use.role == Role::kQuantized && options.requantize) continue;  // below
    if (use.role == Role::kQuantized || use.fixed) {
      AddSkipped(use, use.reason, report);
      continue;
    }
    const Selected selected = Select(use, options);
    if (!selected.kept) {
      AddSkipped(use, SkipReason::NotSelected().text, report);
      continue;
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(const int64_t count, ElementCount(*use.tensor, use.name));
    if (count == 0) {
      report.add_warnings(absl::StrFormat("'%s' has no elements; nothing to initialize", use.name));
      continue;
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(TensorPlan tensor_plan, PlanTensor(use, policy, selected.by_name));
    if (tensor_plan.regions.empty()) {
      if (use.role == Role::kParameter && tensor_plan.rule_index < 0) kept_parameters.push_back(use.name);
      if (use.unknown_op && tensor_plan.rule_index < 0) unjudged.push_back(use.name);
      AddSkipped(use, tensor_plan.rule, report);
      continue;
    }
    if (options.require_detached && !payloads.by_tensor.count(use.tensor)) {
      return NotInPlace(absl::StrFormat(
          "'%s' cannot be rewritten in place (%s)", use.name,
          use.source == TensorSource::kInitializer ? "its values are varints" : "a Constant node's value"));
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(TensorValues values, BindValues(*use.tensor, use.name, payloads));
    *report.add_tensors() = DescribeTensor(use, values, tensor_plan);
    report.set_values(report.values() + values.size());
    plan.rewritten.push_back(values);
    const uint64_t stream = StreamIdForName(use.name);
    for (const PlannedRegion& region : tensor_plan.regions) {
      FillJob job{values, region.distribution, stream, region.begin, region.end};
      job.shape = region.shape;
      job.groups = region.groups;
      plan.jobs.push_back(std::move(job));
    }
  }
  if (options.requantize)
    ONNX_REINIT_RETURN_IF_ERROR(PlanRequantized(model, analysis, policy, options, payloads, plan));
  WarnKeptParameters(kept_parameters, report);
  report.set_unknown_op_tensors(static_cast<int64_t>(unjudged.size()));
  ONNX_REINIT_RETURN_IF_ERROR(
      CheckEffects(RuleEffects(analysis, options), unjudged, std::move(preset_problems), options, report));
  return plan;
}

absl::Status WriteBlockwiseWeights(ReinitPlan& plan, uint64_t seed, const ByteSink& sink) {
  ONNX_REINIT_ASSIGN_OR_RETURN(const std::vector<proto::Moments> after,
                               WriteBlockwise(plan.blockwise, seed, plan.threads, sink));
  for (size_t j = 0; j < after.size(); ++j) {
    *plan.report.mutable_requantized(plan.blockwise[j].record)->mutable_after() = after[j];
  }
  return absl::OkStatus();
}

absl::Status WriteInMemory(char* address, const void* bytes, int64_t size) {
  std::memcpy(address, bytes, static_cast<size_t>(size));
  return absl::OkStatus();
}

void AddStatistics(const std::vector<proto::Moments>& before, const std::vector<TensorValues>& after,
                   ReinitPlan& plan) {
  const std::vector<proto::Moments> after_moments = ComputeMoments(after, plan.threads);
  proto::Totals& totals = *plan.report.mutable_totals();
  for (size_t t = 0; t < after.size(); ++t) {
    proto::TensorRecord& record = *plan.report.mutable_tensors(static_cast<int>(t));
    *record.mutable_before() = before[t];
    *record.mutable_after() = after_moments[t];
    AddToTotals(after[t], totals);
  }
}

absl::StatusOr<proto::ReinitReport> Reinitialize(onnx::ModelProto& model, const ReinitOptions& options,
                                                 const DetachedPayloads& payloads) {
  if (options.untie) {
    if (!payloads.by_tensor.empty()) {
      return absl::FailedPreconditionError("untying tensors needs the model's values in memory");
    }
    // Untied and filled in a copy, so that the model is unchanged on error (and by a dry run).
    onnx::ModelProto untied_model = model;
    ReinitOptions untied_options = options;
    untied_options.untie = false;
    untied_options.readers_untied = true;
    const UntieResult untied = UntieTensors(untied_model, options);
    ONNX_REINIT_ASSIGN_OR_RETURN(proto::ReinitReport report, Reinitialize(untied_model, untied_options));
    AddUntied(untied, report);
    if (!options.dry_run) model.Swap(&untied_model);
    return report;
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(ReinitPlan plan, PlanReinitialization(model, options, payloads));
  if (options.dry_run) return std::move(plan.report);
  std::vector<proto::Moments> before;
  if (options.with_statistics) before = ComputeMoments(plan.rewritten, plan.threads);
  FillInBatches(plan.jobs, options, plan.threads);
  ApplyWrites(plan.requantized);
  ONNX_REINIT_RETURN_IF_ERROR(WriteBlockwiseWeights(plan, options.seed, WriteInMemory));
  if (options.with_statistics) AddStatistics(before, plan.rewritten, plan);
  return std::move(plan.report);
}

}  // namespace onnx_reinit
