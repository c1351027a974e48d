// File to file: the input becomes a model file (and its external data file) in a scratch folder,
// which ReinitializeFile rewrites into a new model, with the layout and options its first bytes
// choose - the in-place streamed path, external data beside the model, --external-data, --embed
// and --materialize.
//
// Input: [flags] [scheme] [model file] then optionally kDataSeparator and the data file
// "model.onnx.data" (the location onnx-reinit itself writes for an output named model.onnx).
//   flags bits 0-1  layout: keep, external (--external-data), embed (--embed), keep
//         bit  2    --materialize
//         bit  3    two fill threads instead of one
//         bit  4    with statistics (the --report moments)
//         bit  5    --dry-run
//         bit  6    a 4 KiB streaming window instead of 2 MiB (more window boundaries)
//         bit  7    --size-threshold 0 (every raw_data tensor moves out with --external-data)
//   scheme          SchemeFromByte (every scheme, orthogonal, identity and dirac included)
//
// Promises checked besides "no crash": the input files are never modified; on error nothing is
// left in the folder; a written model opens again.
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_support.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/rewrite.h"

namespace {

using namespace onnx_reinit;
using namespace onnx_reinit::fuzz;

constexpr absl::string_view kDataSeparator = "\n--onnx-reinit-data--\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t separator = rest.find(kDataSeparator);
  const absl::string_view model_bytes = rest.substr(0, separator);
  const bool with_data = separator != absl::string_view::npos;
  const absl::string_view data_bytes = with_data ? rest.substr(separator + kDataSeparator.size()) : absl::string_view();

  RewriteOptions options;
  options.layout = (flags & 3) == 1   ? RewriteOptions::Layout::kExternal
                   : (flags & 3) == 2 ? RewriteOptions::Layout::kEmbed
                                      : RewriteOptions::Layout::kKeep;
  options.materialize = flags & 4;
  options.reinit.threads = flags & 8 ? 2 : 1;
  options.reinit.with_statistics = flags & 16;
  options.reinit.dry_run = flags & 32;
  if (flags & 64) options.window_bytes = 4096;
  if (flags & 128) options.size_threshold = 0;
  options.reinit.policy.scheme = SchemeFromByte(data[1]);

  if (options.materialize) {
    onnx::ModelProto declared;
    if (declared.ParseFromArray(model_bytes.data(), static_cast<int>(model_bytes.size())) &&
        DeclaredElements(declared) > kMaxMaterializedElements) {
      return 0;
    }
  }

  const std::string& folder = ScratchFolder();
  EmptyFolder(folder);
  const std::string model_path = folder + "/model.onnx";
  const std::string data_path = folder + "/model.onnx.data";
  const std::string output = folder + "/out.onnx";
  WriteFile(model_path, model_bytes);
  if (with_data) WriteFile(data_path, data_bytes);
  const std::vector<std::string> inputs = FolderEntries(folder);

  auto report = ReinitializeFile(model_path, output, options);

  if (ReadFile(model_path) != model_bytes || (with_data && ReadFile(data_path) != data_bytes)) {
    PromiseBroken("input untouched", "ReinitializeFile modified its input");
  }
  const std::vector<std::string> left = FolderEntries(folder);
  if (!report.ok() || options.reinit.dry_run) {
    if (left != inputs) {
      PromiseBroken("nothing left behind",
                    absl::StrCat(report.status().ToString(), "; folder holds ", absl::StrJoin(left, " ")));
    }
    return 0;
  }
  auto reopened = MappedModel::Open(output);
  if (!reopened.ok()) PromiseBroken("output opens", reopened.status().ToString());
  return 0;
}
