#include "onnx_reinit/rewrite.h"

#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/external_data.h"
#include "onnx_reinit/file_util.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/numerics/moments.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/init/rewrite_parsed.h"
#include "onnx_reinit/model/stripped.h"
#include "onnx_reinit/init/streamed_fill.h"
#include "onnx_reinit/init/untie.h"

namespace onnx_reinit {
namespace {

std::string FileName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool InFile(const TensorValues& values, const MappedFile& file) {
  const char* address = static_cast<const char*>(values.data());
  return address >= file.data() && address < file.data() + file.size();
}

// Completes the report's statistics: the new values of tensors in `layout` are read back from
// `output`, at the same offsets; the others are in memory.
absl::Status AddStatisticsFromFile(const std::vector<proto::Moments>& before, const MappedFile& layout,
                                   const OutputFile& output, ReinitPlan& plan) {
  ONNX_REINIT_ASSIGN_OR_RETURN(const MappedFile written,
                               MappedFile::Open(output.fd(), output.path(), MappedFile::Mode::kReadLazy));
  std::vector<TensorValues> after;
  for (const TensorValues& values : plan.rewritten) {
    if (!InFile(values, layout)) {
      after.push_back(values);
      continue;
    }
    after.push_back(values.Relocated(written.data() + (static_cast<const char*>(values.data()) - layout.data())));
  }
  AddStatistics(before, after, plan);
  return absl::OkStatus();
}

// The moments of the plan's tensors as they are, when the report needs them.
std::vector<proto::Moments> MomentsBefore(const ReinitPlan& plan, const ReinitOptions& options) {
  if (!options.with_statistics) return {};
  return ComputeMoments(plan.rewritten, plan.threads);
}

// Carries out `plan`: the values of tensors that are byte ranges of `layout` are streamed into
// `output` at the same offsets (with every other byte of `layout` when `copy_gaps`: see
// streamed_fill.h), the others are filled in memory. `before`: the moments of the old values, for
// ReinitOptions::with_statistics.
absl::StatusOr<proto::ReinitReport> WritePlan(ReinitPlan plan, const RewriteOptions& options, const MappedFile& layout,
                                              const OutputFile& output, bool copy_gaps,
                                              const std::vector<proto::Moments>& before) {
  const ReinitOptions& reinit = options.reinit;
  std::vector<FillJob> streamed, in_memory;
  for (const FillJob& job : plan.jobs) (InFile(job.values, layout) ? streamed : in_memory).push_back(job);
  Fill(in_memory, reinit.seed, plan.threads);
  ApplyWrites(plan.requantized);

  StreamedFillOptions fill;
  fill.seed = reinit.seed;
  fill.threads = plan.threads;
  fill.window_bytes = options.window_bytes;
  fill.copy_gaps = copy_gaps;
  fill.progress = reinit.progress;
  ONNX_REINIT_RETURN_IF_ERROR(WriteFilled(streamed, layout, output.fd(), output.path(), fill));
  // Blockwise weights in `layout` go to the same offsets of the output, after WriteFilled's copy.
  auto sink = [&](char* address, const void* bytes, int64_t size) {
    if (address < layout.data() || address >= layout.data() + layout.size()) return WriteInMemory(address, bytes, size);
    return WriteAt(output.fd(), static_cast<const char*>(bytes), static_cast<size_t>(size), address - layout.data(),
                   output.path());
  };
  ONNX_REINIT_RETURN_IF_ERROR(WriteBlockwiseWeights(plan, reinit.seed, sink));
  if (reinit.with_statistics) ONNX_REINIT_RETURN_IF_ERROR(AddStatisticsFromFile(before, layout, output, plan));
  return std::move(plan.report);
}

// The output must pass the ONNX checker whenever the input does. Re-initialization changes only
// values, so a failure means the input already failed: that is reported, not fatal. `status` is
// the output's check.
absl::Status JudgeCheck(const absl::Status& status, const std::string& input, proto::ReinitReport& report) {
  if (status.ok()) return status;
  if (absl::IsUnimplemented(status)) {
    report.add_warnings(absl::StrCat("ONNX check skipped: ", status.message()));
    return absl::OkStatus();
  }
  if (CheckModelFile(input).ok()) {
    return absl::InternalError(absl::StrFormat(
        "the re-initialized model fails the ONNX checker although the input passes: %s", status.message()));
  }
  report.add_warnings(
      absl::StrFormat("%s fails the ONNX checker (unchanged in the output): %s", input, status.message()));
  return absl::OkStatus();
}

// Writes the output as a copy of the input with the weights' bytes replaced, in one pass.
// ErrorKind::kNotInPlace (with nothing written) when some tensor to rewrite is not stored in
// place-rewritable form. `source` is `input`, mapped sparsely (the weights' old values are not read in).
absl::StatusOr<proto::ReinitReport> RewriteInPlace(MappedModel& source, const std::string& output,
                                                   const RewriteOptions& options) {
  ReinitOptions reinit = options.reinit;
  reinit.require_detached = true;
  ONNX_REINIT_ASSIGN_OR_RETURN(ReinitPlan plan, PlanReinitialization(source.model(), reinit, source.payloads()));
  if (reinit.dry_run) return std::move(plan.report);
  ONNX_REINIT_ASSIGN_OR_RETURN(OutputFile file, OutputFile::Create(output, options.output));
  const std::vector<proto::Moments> before = MomentsBefore(plan, reinit);
  ONNX_REINIT_ASSIGN_OR_RETURN(proto::ReinitReport report,
                               WritePlan(std::move(plan), options, source.file(), file, /*copy_gaps=*/true, before));
  ONNX_REINIT_RETURN_IF_ERROR(file.Commit());
  return report;
}

}  // namespace

std::set<const void*> WhollyRewritten(const ReinitPlan& plan) {
  std::map<const void*, int64_t> covered;
  for (const FillJob& job : plan.jobs) covered[job.values.data()] += job.region_end() - job.begin;
  std::set<const void*> whole;
  for (const TensorValues& values : plan.rewritten) {
    if (covered[values.data()] == values.size()) whole.insert(values.data());
  }
  return whole;
}

namespace {

// The refusal of an output `written` that is the file `read` of the input: the caller's mistake.
absl::Status OverwriteError(const std::string& input, const std::string& written, const std::string& read) {
  return UsageError(absl::StrFormat("the output %s would overwrite the input%s; choose another output", written,
                                    read == input ? "" : absl::StrCat("'s data file ", read)));
}

// Refuses outputs that are files of the input (spelled otherwise, or linked to them): the output
// appears under its name by a rename, which would replace what is still being read, and the
// caller's input would be lost.
absl::Status RefuseOverwritingInputs(const std::string& input, const ExternalData& sources, const std::string& output,
                                     const std::string& data_path) {
  std::vector<std::string> read = sources.FilePaths();
  read.push_back(input);
  for (const std::string& file : read) {
    for (const std::string& written : {output, data_path}) {
      if (SameFile(written, file)) return OverwriteError(input, written, file);
    }
  }
  return absl::OkStatus();
}

// What the parsing path changed in the model before re-initializing it, for the report.
struct Prepared {
  UntieResult untied;
  std::vector<std::string> materialized;  // tensors that had no values

  void AddNotes(proto::ReinitReport& report) const {
    AddUntied(untied, report);
    if (!materialized.empty()) {
      report.add_warnings(
          absl::StrFormat("materialized %d tensors that had no values", static_cast<int>(materialized.size())));
    }
  }
};

// Materializes the values `model` lacks and unties its tensors, as `options` ask. Untying comes
// before the external data is mapped, so that copies of external tensors get a place of their own
// in the new data file.
absl::StatusOr<Prepared> Prepare(const std::string& input, const RewriteOptions& options, onnx::ModelProto& model) {
  Prepared prepared;
  if (options.materialize) {
    ONNX_REINIT_ASSIGN_OR_RETURN(prepared.materialized, MaterializeMissingValues(model, input));
  }
  if (options.reinit.untie) prepared.untied = UntieTensors(model, options.reinit);
  return prepared;
}

// The output of a model without external data: re-initialized in memory and saved whole (or only
// planned, for a dry run). `payloads`: read-only views of the input's external tensors, if any.
absl::StatusOr<proto::ReinitReport> RewriteEmbedded(const std::string& input, const std::string& output,
                                                    const RewriteOptions& options, const Prepared& prepared,
                                                    const DetachedPayloads& payloads, ParsedInput& parsed) {
  onnx::ModelProto& model = parsed.model;
  ONNX_REINIT_ASSIGN_OR_RETURN(proto::ReinitReport report, Reinitialize(model, options.reinit, payloads));
  prepared.AddNotes(report);
  if (options.reinit.dry_run) return report;
  if (parsed.check) ONNX_REINIT_RETURN_IF_ERROR(parsed.check(model, DetachedPayloads()));
  ONNX_REINIT_RETURN_IF_ERROR(JudgeCheck(CheckModel(model), input, report));
  ONNX_REINIT_RETURN_IF_ERROR(SaveModel(model, output, options.output));
  return report;
}

// Lays out the output's data file at `data_path` with the input's external bytes (and those of the
// tensors `parsed` moves out), except those of tensors about to be rewritten whole, which are not
// copied first. `before`: the moments of the old values, for the report.
absl::StatusOr<NewDataFile> LayOutDataFile(const std::string& data_path, const RewriteOptions& options,
                                           const ExternalData& sources, ParsedInput& parsed,
                                           std::vector<proto::Moments>& before) {
  onnx::ModelProto& model = parsed.model;
  const int64_t move_threshold = options.layout == RewriteOptions::Layout::kExternal ? options.size_threshold : -1;
  ONNX_REINIT_ASSIGN_OR_RETURN(const ReinitPlan old_plan,
                               PlanReinitialization(model, options.reinit, sources.payloads()));
  before = MomentsBefore(old_plan, options.reinit);
  const std::set<const void*> rewritten = WhollyRewritten(old_plan);
  auto overwritten = [&](const onnx::TensorProto& tensor) {
    const auto& external = sources.payloads().by_tensor;
    auto payload = external.find(&tensor);
    const void* bytes = payload != external.end() ? payload->second.data : tensor.raw_data().data();
    return rewritten.count(bytes) > 0;
  };
  auto moved_out = [&](const onnx::TensorProto& tensor) { return parsed.moved_out.count(tensor.name()) > 0; };
  ONNX_REINIT_ASSIGN_OR_RETURN(OutputFile data_output, OutputFile::Create(data_path, options.output));
  return WriteExternalDataLayout(model, sources, std::move(data_output), FileName(data_path), move_threshold,
                                 overwritten, moved_out);
}

// Writes `model` to `output` and commits it after its data file `data`. The data file is named
// first, so that a reader who finds the new model finds its data complete; the folder lock keeps a
// concurrent run from committing between the two.
absl::Status CommitModelAndData(const onnx::ModelProto& model, const std::string& input, const std::string& output,
                                const RewriteOptions& options, NewDataFile& data, const std::string& data_path,
                                proto::ReinitReport& report) {
  if (model.ByteSizeLong() > static_cast<size_t>(INT_MAX)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: the model would be over protobuf's 2 GiB limit even with its large tensors external; "
                        "lower --size-threshold",
                        output));
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(OutputFile model_output, OutputFile::Create(output, options.output));
  ONNX_REINIT_RETURN_IF_ERROR(WriteModel(model, model_output));
  const FolderLock lock(output);
  ONNX_REINIT_RETURN_IF_ERROR(data.output.Commit());
  const absl::Status committed = model_output.Commit([&](const std::string& provisional) {
    // The checker looks for the data file beside the model, so it runs on the written files.
    return JudgeCheck(CheckModelFile(provisional), input, report);
  });
  if (!committed.ok()) ::unlink(data_path.c_str());
  return committed;
}

// The output of a model with external data: its tensors laid out in a new data file and
// re-initialized there in place, then the model written beside it.
absl::StatusOr<proto::ReinitReport> RewriteExternal(const std::string& input, const std::string& output,
                                                    const RewriteOptions& options, const Prepared& prepared,
                                                    const ExternalData& sources, ParsedInput& parsed) {
  const std::string data_path = DataFileFor(output);
  ONNX_REINIT_RETURN_IF_ERROR(RefuseOverwritingInputs(input, sources, output, data_path));
  std::vector<proto::Moments> before;
  ONNX_REINIT_ASSIGN_OR_RETURN(NewDataFile data, LayOutDataFile(data_path, options, sources, parsed, before));
  ONNX_REINIT_ASSIGN_OR_RETURN(ReinitPlan plan, PlanReinitialization(parsed.model, options.reinit, data.payloads));
  ONNX_REINIT_ASSIGN_OR_RETURN(proto::ReinitReport report, WritePlan(std::move(plan), options, data.file, data.output,
                                                                     /*copy_gaps=*/false, before));
  prepared.AddNotes(report);
  if (parsed.check) ONNX_REINIT_RETURN_IF_ERROR(parsed.check(parsed.model, data.payloads));
  ONNX_REINIT_RETURN_IF_ERROR(CommitModelAndData(parsed.model, input, output, options, data, data_path, report));
  return report;
}

}  // namespace

// Lays out the output's tensors, re-initializes them (external ones in place in the new data file),
// checks and writes the model.
absl::StatusOr<proto::ReinitReport> RewriteParsedModel(const std::string& input, const std::string& output,
                                                       const RewriteOptions& requested, ParsedInput parsed) {
  onnx::ModelProto& model = parsed.model;
  ONNX_REINIT_ASSIGN_OR_RETURN(const Prepared prepared, Prepare(input, requested, model));
  RewriteOptions options = requested;
  options.reinit.untie = false;
  options.reinit.readers_untied = requested.reinit.untie;
  ONNX_REINIT_ASSIGN_OR_RETURN(ExternalData sources, ExternalData::Open(model, input));
  if (parsed.prepare) ONNX_REINIT_RETURN_IF_ERROR(parsed.prepare(model, sources));
  // Read-only views of the input's external tensors: for planning only, never for writing.
  const DetachedPayloads no_payloads;
  const DetachedPayloads* input_payloads = &sources.payloads();
  if (options.layout == RewriteOptions::Layout::kEmbed) {
    EmbedExternalData(model, sources);
    input_payloads = &no_payloads;
    parsed.moved_out.clear();
  }
  const bool external =
      options.layout == RewriteOptions::Layout::kExternal || HasExternalData(model) || !parsed.moved_out.empty();
  if (options.reinit.dry_run || !external) {
    return RewriteEmbedded(input, output, options, prepared, *input_payloads, parsed);
  }
  return RewriteExternal(input, output, options, prepared, sources, parsed);
}

std::string DataFileFor(const std::string& output) { return output + ".data"; }

namespace {

// ReinitializeFile's errors name the input once: those of opening it (MappedModel::Open,
// LoadModel) name it already, and those of the work after it get it here.
absl::StatusOr<proto::ReinitReport> NamingInput(const std::string& input, absl::StatusOr<proto::ReinitReport> report) {
  if (!report.ok()) return WithContext(report.status(), input);
  return report;
}

// The parsing path for `parsed`, just loaded from `input`.
absl::StatusOr<proto::ReinitReport> RewriteLoaded(const std::string& input, const std::string& output,
                                                  const RewriteOptions& options, ParsedInput parsed) {
  if (options.materialize) {
    ONNX_REINIT_ASSIGN_OR_RETURN(std::optional<StripManifest> manifest, ReadStripManifest(parsed.model));
    if (manifest) return MaterializeStripped(input, output, options, std::move(parsed.model), *manifest);
  }
  return RewriteParsedModel(input, output, options, std::move(parsed));
}

absl::StatusOr<proto::ReinitReport> RewriteParsed(const std::string& input, const std::string& output,
                                                  const RewriteOptions& options) {
  ParsedInput parsed;
  ONNX_REINIT_ASSIGN_OR_RETURN(parsed.model, LoadModel(input));
  return NamingInput(input, RewriteLoaded(input, output, options, std::move(parsed)));
}

absl::StatusOr<proto::ReinitReport> RewriteFile(const std::string& input, const std::string& output,
                                                const RewriteOptions& options) {
  // Untying changes the model's structure, which the in-place path cannot.
  if (options.layout != RewriteOptions::Layout::kKeep || options.materialize || options.reinit.untie) {
    return RewriteParsed(input, output, options);
  }
  absl::StatusOr<proto::ReinitReport> in_place;
  {
    // Opening the model decides the path: external data, or embedded.
    ONNX_REINIT_ASSIGN_OR_RETURN(MappedModel source, MappedModel::Open(input, MappedFile::Mode::kReadSparse));
    if (HasExternalData(source.model())) return RewriteParsed(input, output, options);
    in_place = RewriteInPlace(source, output, options);
  }
  // A model that must be rewritten in memory takes the parsing path; why becomes a note.
  if (ErrorKindOf(in_place.status()) != ErrorKind::kNotInPlace) return NamingInput(input, std::move(in_place));
  auto report = RewriteParsed(input, output, options);
  if (report.ok() && !options.reinit.dry_run) {
    report->add_notes(absl::StrCat("rewrote the model in memory: ", in_place.status().message()));
  }
  return report;
}

}  // namespace

absl::StatusOr<proto::ReinitReport> ReinitializeFile(const std::string& input, const std::string& output,
                                                     const RewriteOptions& options) {
  if (SameFile(input, output)) return WithContext(OverwriteError(input, output, input), input);
  return RewriteFile(input, output, options);
}

}  // namespace onnx_reinit
