// onnx-reinit's entry point: re-initialize the tensors of an ONNX model in memory.
//
// Example:
//   ONNX_REINIT_ASSIGN_OR_RETURN(onnx::ModelProto model, onnx_reinit::LoadModel("in.onnx"));
//   onnx_reinit::ReinitOptions options;
//   options.policy.scheme.kind = onnx_reinit::SchemeKind::kHeNormal;
//   ONNX_REINIT_ASSIGN_OR_RETURN(auto report, onnx_reinit::Reinitialize(model, options));
//   ONNX_REINIT_RETURN_IF_ERROR(onnx_reinit::SaveModel(model, "out.onnx"));
//
// Every constant with a role (see roles.h) gets the distribution the policy gives it (policy.h);
// constants without one are listed in the report's `skipped` with the reason. Only the values of
// the rewritten tensors change; every other byte of the model - nodes, other tensors, metadata,
// unknown fields - is left as it was.
//
// Every choice the user makes takes effect or is reported: a rule that matches no tensor, or
// only tensors an earlier rule or the selection takes, is a warning; so is a run that rewrites
// nothing, and the parameters that keep their trained values are named in one warning. With
// ReinitOptions::strict the first two are errors (ErrorKind::kStrict, errors.h) before anything is written.
#ifndef ONNX_REINIT_REINIT_H_
#define ONNX_REINIT_REINIT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/name_pattern.h"
#include "onnx_reinit/policy.h"
#include "onnx_reinit/requantize.h"
#include "onnx_reinit/report.pb.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

// The seed used when none is given, so that runs are reproducible by default.
inline constexpr uint64_t kDefaultSeed = 0;

struct ReinitOptions {
  Policy policy;
  AnalysisOptions analysis;
  uint64_t seed = kDefaultSeed;
  int threads = 0;  // 0: DefaultThreadCount()
  // Which tensors to rewrite (--only, --exclude): regexes searched in the tensor's name and in the
  // names of the nodes that read it (MatchesName in policy.h); unset selects all. `only` also
  // selects tensors without a role default (parameter, other but not fixed), which then get the
  // policy's scheme. A tensor's new values do not depend on which other tensors are selected.
  std::optional<NamePattern> only, exclude;
  // Rules that take no effect and runs that rewrite nothing are errors instead of warnings.
  bool strict = false;
  // Reinitialize first gives readers that need different values their own copies (untie.h), in a
  // copy of the model that replaces it on success. This changes the model's structure: with
  // detached payloads it is refused. PlanReinitialization does not untie (call UntieTensors first).
  bool untie = false;
  // Set by the untie flows once UntieTensors has run: its warnings name the readers that still
  // need different values, so planning does not warn about them again.
  bool readers_untied = false;
  // Fill each record's `before` and `after` moments and the report's totals (two extra passes over
  // the rewritten values).
  bool with_statistics = false;
  // Plan only: report what would be written, and leave the model unchanged.
  bool dry_run = false;
  // Fail (ErrorKind::kNotInPlace, errors.h), before writing anything, when a tensor to rewrite has
  // no entry in the detached payloads (for callers that write payloads in place in a file).
  bool require_detached = false;
  // Give quantized weights (and their int32 biases) new integers and scales (requantize.h). Off:
  // they are listed in the report's `skipped` and left unchanged.
  bool requantize = false;
  // Called now and then during the fill with the bytes filled so far and in all (for a progress bar).
  std::function<void(int64_t done, int64_t total)> progress;
};

// Rewrites the model in place and reports what changed, in graph order. On error the model is
// unchanged: InvalidArgument for bad options, a scheme that cannot apply to a tensor, or a malformed
// tensor (payload size not matching its shape); Unimplemented for tensors in external data.
// Thread-compatible.
// Tensors with an entry in `payloads` are rewritten there (see MappedModel), the others in `model`.
absl::StatusOr<proto::ReinitReport> Reinitialize(onnx::ModelProto& model, const ReinitOptions& options,
                                                 const DetachedPayloads& payloads = DetachedPayloads());

// Reinitialize in two steps, for callers that write the new values elsewhere (e.g. streamed into a
// file, see streamed_fill.h): the plan holds the report Reinitialize would return (without
// statistics) and the fill jobs that produce the new values; requantized tensors are computed
// already and written by ApplyWrites (requantize.h). Nothing is written yet. With
// require_detached, requantizing anything is an ErrorKind::kNotInPlace error: it is done in memory.
struct ReinitPlan {
  proto::ReinitReport report;
  std::vector<FillJob> jobs;             // in report order; a tensor's regions are consecutive
  std::vector<TensorValues> rewritten;   // the tensors of report.tensors(), one per record
  std::vector<TensorWrite> requantized;  // the new integers and scales of report.requantized()
  std::vector<BlockwiseJob> blockwise;   // blockwise weights of report.requantized(), written last
  int threads = 1;                       // options.threads resolved
};
absl::StatusOr<ReinitPlan> PlanReinitialization(onnx::ModelProto& model, const ReinitOptions& options,
                                                const DetachedPayloads& payloads = DetachedPayloads());

// Computes and stores the plan's blockwise weights through `sink` (after the other writes), and
// puts their new moments in the report.
absl::Status WriteBlockwiseWeights(ReinitPlan& plan, uint64_t seed, const ByteSink& sink);
// A ByteSink for tensors whose values are in memory (writable).
absl::Status WriteInMemory(char* address, const void* bytes, int64_t size);

// Completes the plan's report for ReinitOptions::with_statistics: each record's `before` moments
// from `before` (ComputeMoments of plan.rewritten before the fill), its `after` moments and the
// totals from `after`, the new values (one per record, e.g. plan.rewritten relocated to where the
// values were written).
void AddStatistics(const std::vector<proto::Moments>& before, const std::vector<TensorValues>& after, ReinitPlan& plan);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_REINIT_H_
