#include "onnx_reinit/strip.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/text_format.h"
#include "onnx_reinit/base/parallel.h"
#include "onnx_reinit/base/sha256.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/external_data.h"
#include "onnx_reinit/file_util.h"
#include "onnx_reinit/init/rewrite_parsed.h"
#include "onnx_reinit/model/stripped.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/options.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {
namespace {

// A folder made beside the output for the direct run, removed with everything in it.
class ScratchFolder {
 public:
  static absl::StatusOr<ScratchFolder> Create(const std::string& beside) {
    std::string pattern = FolderOf(beside) + "/.onnx-reinit-strip-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return ErrnoError(absl::StrFormat("%s: cannot make a scratch folder beside it", beside), errno);
    }
    return ScratchFolder(pattern);
  }
  ScratchFolder(ScratchFolder&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchFolder& operator=(ScratchFolder&&) = delete;
  ~ScratchFolder() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchFolder(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// The recipe's fields that change no value (how the work is done, where tensors go).
void ClearWorkOptions(proto::Recipe& recipe) {
  recipe.clear_threads();
  recipe.clear_dry_run();
  recipe.clear_external_data();
  recipe.clear_embed();
  recipe.clear_size_threshold();
  recipe.clear_materialize();
  recipe.clear_strict();
}

// The bytes of `tensor`'s values: its payload in `payloads` (a mapped file's), or its raw_data.
struct StoredBytes {
  absl::string_view bytes;
  bool mapped = false;
};
StoredBytes StoredBytesOf(const onnx::TensorProto& tensor, const DetachedPayloads& payloads) {
  auto payload = payloads.by_tensor.find(&tensor);
  if (payload != payloads.by_tensor.end()) {
    return {absl::string_view(payload->second.data, static_cast<size_t>(payload->second.size)), true};
  }
  return {tensor.raw_data(), false};
}

// The SHA-256 (hex) of each of `values`, on up to `threads` threads. Pages of mapped files are
// released as they are hashed, so hashing a data file of any size takes no memory.
std::vector<std::string> HashAll(const std::vector<StoredBytes>& values, int threads) {
  constexpr size_t kChunk = size_t{64} << 20;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  std::vector<std::string> hashes(values.size());
  ParallelFor(static_cast<int64_t>(values.size()), ResolveThreadCount(threads), [&](int64_t i) {
    const StoredBytes& value = values[static_cast<size_t>(i)];
    Sha256 sha;
    for (size_t done = 0; done < value.bytes.size(); done += kChunk) {
      const absl::string_view chunk = value.bytes.substr(done, kChunk);
      sha.Update(chunk);
      const uintptr_t begin = (reinterpret_cast<uintptr_t>(chunk.data()) + page - 1) / page * page;
      const uintptr_t end = (reinterpret_cast<uintptr_t>(chunk.data()) + chunk.size()) / page * page;
      if (value.mapped && end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    }
    hashes[static_cast<size_t>(i)] = HexDigest(sha.Finish());
  });
  return hashes;
}

// The names of the top-level initializers that `options` rewrites whole (read from the input,
// nothing written), among those stored in raw_data or external data: the tensors a stripped model
// can leave out.
absl::StatusOr<std::set<std::string>> Regenerated(const std::string& input, const RewriteOptions& options) {
  // Parsed rather than mapped: requantized tensors are planned in memory.
  ONNX_REINIT_ASSIGN_OR_RETURN(onnx::ModelProto model, LoadModel(input));
  ONNX_REINIT_ASSIGN_OR_RETURN(const ExternalData external, ExternalData::Open(model, input));
  ReinitOptions reinit = options.reinit;
  reinit.dry_run = true;
  ONNX_REINIT_ASSIGN_OR_RETURN(const ReinitPlan plan, PlanReinitialization(model, reinit, external.payloads()));
  const std::set<const void*> whole = WhollyRewritten(plan);
  std::set<std::string> names;
  for (int i = 0; i < plan.report.tensors_size(); ++i) {
    if (whole.count(plan.rewritten[i].data())) names.insert(plan.report.tensors(i).name());
  }
  for (const proto::RequantizedTensor& tensor : plan.report.requantized()) names.insert(tensor.name());
  std::set<std::string> strippable;
  for (const onnx::TensorProto& tensor : model.graph().initializer()) {
    const bool stored_whole = tensor.data_location() == onnx::TensorProto::EXTERNAL || tensor.has_raw_data();
    if (names.count(tensor.name()) && stored_whole) strippable.insert(tensor.name());
  }
  return strippable;
}

// SHA-256 (hex) and length of the values of each initializer of the model file `path`.
struct Digest {
  std::string sha256;
  int64_t bytes = 0;
};
using Digests = std::map<std::string, Digest>;
absl::StatusOr<Digests> InitializerDigests(const std::string& path, int threads) {
  ONNX_REINIT_ASSIGN_OR_RETURN(onnx::ModelProto model, LoadModel(path));
  ONNX_REINIT_ASSIGN_OR_RETURN(const ExternalData data, ExternalData::Open(model, path));
  std::vector<StoredBytes> values;
  for (const onnx::TensorProto& tensor : model.graph().initializer()) {
    values.push_back(StoredBytesOf(tensor, data.payloads()));
  }
  const std::vector<std::string> hashes = HashAll(values, threads);
  Digests digests;
  for (int i = 0; i < model.graph().initializer_size(); ++i) {
    digests[model.graph().initializer(i).name()] =
        Digest{hashes[static_cast<size_t>(i)], static_cast<int64_t>(values[static_cast<size_t>(i)].bytes.size())};
  }
  return digests;
}

// A recipe strip cannot honour: the caller's to change.
absl::Status Refuse(absl::string_view what) { return UsageError(absl::StrCat("strip: ", what)); }

}  // namespace

absl::Status CheckStripRecipe(const proto::Recipe& recipe) {
  if (recipe.untie()) return Refuse("--untie changes the model's structure: strip the untied model instead");
  if (recipe.dry_run()) return Refuse("--dry-run writes nothing: run it without strip to see the plan");
  if (recipe.materialize()) return Refuse("--materialize: materialize the model first, then strip it");
  return absl::OkStatus();
}

absl::StatusOr<StripResult> StripFile(const std::string& input, const std::string& output, const proto::Recipe& recipe,
                                      const OutputOptions& output_options) {
  ONNX_REINIT_RETURN_IF_ERROR(CheckStripRecipe(recipe));
  if (SameFile(input, output)) {
    return UsageError(
        absl::StrFormat("%s: the output %s would overwrite the input; choose another output", input, output));
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(RewriteOptions options, ToRewriteOptions(recipe));
  options.output = output_options;

  ONNX_REINIT_ASSIGN_OR_RETURN(onnx::ModelProto model, LoadModel(input));
  ONNX_REINIT_ASSIGN_OR_RETURN(std::optional<StripManifest> stripped_already, ReadStripManifest(model));
  if (stripped_already) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: the model is stripped already", input));
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(const std::set<std::string> regenerated, Regenerated(input, options));

  // The direct run gives the bytes the hashes pin. Its layout is the one given, as values may
  // depend on it (--requantize leaves QDQ weights in external data unchanged).
  ONNX_REINIT_ASSIGN_OR_RETURN(const ScratchFolder scratch, ScratchFolder::Create(output));
  RewriteOptions direct = options;
  direct.output = OutputOptions();
  const std::string full = scratch.path() + "/full.onnx";
  StripResult result;
  ONNX_REINIT_ASSIGN_OR_RETURN(result.report, ReinitializeFile(input, full, direct));
  ONNX_REINIT_ASSIGN_OR_RETURN(const Digests digests, InitializerDigests(full, options.reinit.threads));

  StripManifest manifest;
  manifest.fill_contract = kFillContract;
  proto::Recipe stored = recipe;
  ClearWorkOptions(stored);
  google::protobuf::TextFormat::PrintToString(stored, &manifest.recipe);
  ONNX_REINIT_ASSIGN_OR_RETURN(const ExternalData sources, ExternalData::Open(model, input));
  for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
    StrippedTensor entry;
    entry.name = tensor.name();
    entry.external = tensor.data_location() == onnx::TensorProto::EXTERNAL;
    if (regenerated.count(tensor.name())) {
      const Digest& digest = digests.at(tensor.name());
      entry.sha256 = digest.sha256;
      entry.bytes = digest.bytes;
      if (tensor.has_doc_string()) entry.doc_string = tensor.doc_string();
      StripValues(tensor);
      result.stripped.push_back(tensor.name());
      result.stripped_bytes += digest.bytes;
    } else if (entry.external) {
      const DetachedPayload& payload = sources.payloads().by_tensor.at(&tensor);
      tensor.set_raw_data(payload.data, static_cast<size_t>(payload.size));
      tensor.clear_external_data();
      tensor.clear_data_location();
    } else {
      continue;
    }
    manifest.tensors.push_back(std::move(entry));
  }
  ONNX_REINIT_RETURN_IF_ERROR(AddStripManifest(manifest, model));
  ONNX_REINIT_RETURN_IF_ERROR(SaveModel(model, output, output_options));
  return result;
}

absl::StatusOr<std::optional<RewriteOptions>> MaterializeOptions(const std::string& input, const proto::Recipe& given) {
  ONNX_REINIT_ASSIGN_OR_RETURN(const onnx::ModelProto model, LoadModel(input));
  ONNX_REINIT_ASSIGN_OR_RETURN(const std::optional<StripManifest> manifest, ReadStripManifest(model));
  if (!manifest) return std::nullopt;
  if (manifest->fill_contract != kFillContract) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: stripped under fill contract %d, and this version writes contract %d: its values cannot be "
        "regenerated bit for bit",
        input, manifest->fill_contract, kFillContract));
  }
  proto::Recipe values = given;
  ClearWorkOptions(values);
  if (values.ByteSizeLong() != 0) {
    return UsageError(absl::StrFormat(
        "%s carries its recipe, which decides the values: with --materialize give only --external-data, "
        "--embed, --size-threshold, --threads or --dry-run",
        input));
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(proto::Recipe recipe,
                               ParseRecipe(manifest->recipe, absl::StrCat(input, ": the stored recipe")));
  proto::Recipe work = given;
  work.set_materialize(true);
  recipe.MergeFrom(work);
  ONNX_REINIT_ASSIGN_OR_RETURN(RewriteOptions options, ToRewriteOptions(recipe));
  return options;
}

absl::StatusOr<proto::ReinitReport> MaterializeStripped(const std::string& input, const std::string& output,
                                                        const RewriteOptions& requested, onnx::ModelProto model,
                                                        const StripManifest& manifest) {
  ONNX_REINIT_RETURN_IF_ERROR(RemoveStripManifest(manifest, model));
  RewriteOptions options = requested;
  options.materialize = false;  // the stripped tensors are given their places here
  std::map<std::string, const StrippedTensor*> stripped;
  ParsedInput parsed;
  for (const StrippedTensor& tensor : manifest.tensors) {
    if (!tensor.sha256.empty()) {
      stripped[tensor.name] = &tensor;
    } else if (tensor.external) {
      parsed.moved_out.insert(tensor.name);
    }
  }
  parsed.model = std::move(model);
  // Each stripped tensor goes where a direct run writes it: the output's data file when the input
  // kept it there or --external-data moves it, else embedded.
  parsed.prepare = [&](onnx::ModelProto& prepared, ExternalData& sources) -> absl::Status {
    for (onnx::TensorProto& tensor : *prepared.mutable_graph()->mutable_initializer()) {
      auto found = stripped.find(tensor.name());
      if (found == stripped.end()) continue;
      const StrippedTensor& entry = *found->second;
      const bool moved = options.layout == RewriteOptions::Layout::kExternal && entry.bytes > 0 &&
                         entry.bytes >= options.size_threshold;
      if (options.layout != RewriteOptions::Layout::kEmbed && (entry.external || moved)) {
        ONNX_REINIT_RETURN_IF_ERROR(sources.AddUnwritten(tensor, entry.bytes));
      } else {
        ONNX_REINIT_RETURN_IF_ERROR(GiveZeroedValues(tensor, entry.bytes));
      }
    }
    return absl::OkStatus();
  };
  parsed.check = [&](onnx::ModelProto& written, const DetachedPayloads& payloads) -> absl::Status {
    std::vector<const onnx::TensorProto*> tensors;
    std::vector<StoredBytes> values;
    for (const onnx::TensorProto& tensor : written.graph().initializer()) {
      if (!stripped.count(tensor.name())) continue;
      tensors.push_back(&tensor);
      values.push_back(StoredBytesOf(tensor, payloads));
    }
    const std::vector<std::string> hashes = HashAll(values, options.reinit.threads);
    for (size_t i = 0; i < tensors.size(); ++i) {
      const onnx::TensorProto& tensor = *tensors[i];
      if (hashes[i] != stripped.at(tensor.name())->sha256) {
        return absl::DataLossError(absl::StrFormat(
            "tensor '%s': the regenerated values do not match the SHA-256 the stripped model holds (stripped "
            "by a version with another fill contract, or the metadata was changed); nothing written",
            tensor.name()));
      }
    }
    return absl::OkStatus();
  };
  ONNX_REINIT_ASSIGN_OR_RETURN(proto::ReinitReport report,
                               RewriteParsedModel(input, output, options, std::move(parsed)));
  report.add_notes(absl::StrFormat("materialized %d stripped tensors, each matching its SHA-256",
                                   static_cast<int>(stripped.size())));
  return report;
}

}  // namespace onnx_reinit
