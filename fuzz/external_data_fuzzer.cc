// External data: tensors whose location, offset and length come from the input, against a real
// model folder with data files, a subfolder and symlinks that stay inside it or lead out of it.
//
// Input: [flags] then one tensor per line, fields separated by spaces:
//   LOCATION OFFSET LENGTH DTYPE DIMS      e.g. "link_in 64 48 1 3,4"
// "-" (or a missing field) leaves that external_data entry out; DTYPE is a TensorProto data type
// number; DIMS are comma-separated. Each tensor is the weight of its own MatMul.
//   flags bits 0-1  layout: keep, external (--external-data), embed (--embed), keep
//         bit  2    --materialize
//         bit  3    with statistics
// The folder (made once per process):
//   outside.bin                       64 bytes beside the model folder
//   model/data.bin                    4096 bytes        model/small.bin   12 bytes
//   model/sub/nested.bin              256 bytes         model/dir/        a folder
//   model/link_in -> data.bin         model/link_sub -> sub
//   model/link_out -> ../outside.bin  model/link_abs -> <absolute path of outside.bin>
//   model/link_loop -> link_loop      model/link_dangling -> missing.bin
//
// Promises checked besides "no crash": when the model opens, every external tensor lies in a
// regular file inside the model folder (symlinks resolved), within the file; no data file changes;
// on error nothing is left in the folder.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fuzz/fuzz_support.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/rewrite.h"

namespace {

using namespace onnx_reinit;
using namespace onnx_reinit::fuzz;

constexpr size_t kMaxTensors = 8;

struct Fixture {
  std::string root, folder;
  std::string real_folder;                   // realpath of `folder`
  std::map<std::string, std::string> files;  // path -> contents, of every regular file
  std::vector<std::string> entries;          // of `folder`, sorted
};

std::string Pattern(size_t size, char seed) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(seed + 7 * i);
  return bytes;
}

const Fixture& TheFixture() {
  static const Fixture* const fixture = [] {
    auto* f = new Fixture;
    f->root = ScratchFolder();
    f->folder = f->root + "/model";
    namespace fs = std::filesystem;
    fs::create_directories(f->folder + "/sub");
    fs::create_directories(f->folder + "/dir");
    f->files = {{f->root + "/outside.bin", Pattern(64, 1)},
                {f->folder + "/data.bin", Pattern(4096, 2)},
                {f->folder + "/small.bin", Pattern(12, 3)},
                {f->folder + "/sub/nested.bin", Pattern(256, 4)}};
    for (const auto& [path, bytes] : f->files) WriteFile(path, bytes);
    fs::create_symlink("data.bin", f->folder + "/link_in");
    fs::create_directory_symlink("sub", f->folder + "/link_sub");
    fs::create_symlink("../outside.bin", f->folder + "/link_out");
    fs::create_symlink(f->root + "/outside.bin", f->folder + "/link_abs");
    fs::create_symlink("link_loop", f->folder + "/link_loop");
    fs::create_symlink("missing.bin", f->folder + "/link_dangling");
    char real[PATH_MAX];
    if (::realpath(f->folder.c_str(), real) == nullptr) PromiseBroken("fixture", f->folder);
    f->real_folder = real;
    f->entries = FolderEntries(f->folder);
    return f;
  }();
  return *fixture;
}

void AddEntry(onnx::TensorProto& tensor, const char* key, absl::string_view value) {
  if (value == "-") return;
  onnx::StringStringEntryProto* entry = tensor.add_external_data();
  entry->set_key(key);
  entry->set_value(std::string(value));
}

onnx::ModelProto ModelFromLines(absl::string_view text) {
  onnx::ModelProto model;
  model.set_ir_version(7);
  model.add_opset_import()->set_version(13);
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("external_data_fuzzer");
  graph.add_input()->set_name("X");
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.size() > kMaxTensors) lines.resize(kMaxTensors);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<absl::string_view> fields = absl::StrSplit(lines[i], ' ');
    fields.resize(5, "-");
    onnx::TensorProto& tensor = *graph.add_initializer();
    tensor.set_name(absl::StrCat("w", i));
    tensor.set_data_location(onnx::TensorProto::EXTERNAL);
    AddEntry(tensor, "location", fields[0]);
    AddEntry(tensor, "offset", fields[1]);
    AddEntry(tensor, "length", fields[2]);
    int dtype = 1;
    if (fields[3] != "-" && absl::SimpleAtoi(fields[3], &dtype))
      tensor.set_data_type(dtype);
    else
      tensor.set_data_type(1);
    for (absl::string_view dim : absl::StrSplit(fields[4], ',', absl::SkipEmpty())) {
      int64_t value;
      if (absl::SimpleAtoi(dim, &value)) tensor.add_dims(value);
    }
    onnx::NodeProto& node = *graph.add_node();
    node.set_op_type("MatMul");
    node.add_input("X");
    node.add_input(tensor.name());
    node.add_output(absl::StrCat("Y", i));
    graph.add_output()->set_name(absl::StrCat("Y", i));
  }
  return model;
}

// Where an external tensor's bytes are, as the promise says they must be: a regular file inside the
// real model folder, offset + length within it.
void CheckInside(const Fixture& fixture, const onnx::TensorProto& tensor) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& entry : tensor.external_data()) {
    if (entry.key() == "location") location = entry.value();
    if (entry.key() == "offset") (void)absl::SimpleAtoi(entry.value(), &offset);
    if (entry.key() == "length") (void)absl::SimpleAtoi(entry.value(), &length);
  }
  char real[PATH_MAX];
  const std::string path = fixture.folder + "/" + location;
  if (::realpath(path.c_str(), real) == nullptr || !absl::StartsWith(real, fixture.real_folder + "/") ||
      !std::filesystem::is_regular_file(real)) {
    PromiseBroken("external data stays in the model folder", location);
  }
  const int64_t size = static_cast<int64_t>(std::filesystem::file_size(real));
  if (offset < 0 || offset > size || (length >= 0 && length > size - offset)) {
    PromiseBroken("external data lies within its file", absl::StrCat(location, " ", offset, " ", length));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Fixture& fixture = TheFixture();
  const uint8_t flags = data[0];
  const onnx::ModelProto model = ModelFromLines(absl::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  if ((flags & 4) && DeclaredElements(model) > kMaxMaterializedElements) return 0;
  const std::string model_path = fixture.folder + "/model.onnx";
  WriteFile(model_path, model.SerializeAsString());
  const std::vector<std::string> inputs = FolderEntries(fixture.folder);

  auto opened = MappedModel::Open(model_path);
  if (opened.ok()) {
    for (const onnx::TensorProto& tensor : opened->model().graph().initializer()) CheckInside(fixture, tensor);
  }

  RewriteOptions options;
  options.layout = (flags & 3) == 1   ? RewriteOptions::Layout::kExternal
                   : (flags & 3) == 2 ? RewriteOptions::Layout::kEmbed
                                      : RewriteOptions::Layout::kKeep;
  options.materialize = flags & 4;
  options.reinit.with_statistics = flags & 8;
  options.reinit.threads = 1;
  options.size_threshold = 0;
  auto report = ReinitializeFile(model_path, fixture.folder + "/out.onnx", options);

  for (const auto& [path, bytes] : fixture.files) {
    if (ReadFile(path) != bytes) PromiseBroken("data files untouched", path);
  }
  const std::vector<std::string> left = FolderEntries(fixture.folder);
  if (!report.ok() && left != inputs) {
    PromiseBroken("nothing left behind",
                  absl::StrCat(report.status().ToString(), "; folder holds ", absl::StrJoin(left, " ")));
  }
  for (const std::string& name : left) {
    if (absl::StartsWith(name, "out.onnx")) std::filesystem::remove(fixture.folder + "/" + name);
  }
  return 0;
}
