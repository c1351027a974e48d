// Tensors whose values live in a separate data file: data_location = EXTERNAL, with external_data
// entries `location` (a path relative to the model's folder), `offset` and `length` (onnx's
// docs/ExternalData.md).
//
// Locations are checked as ONNX's current checker does (Debian's libonnx 1.12 only stat()s them):
// relative, without "..", not absolute, naming a regular file inside the model's folder also after
// symlinks are resolved; offset + length must lie within the file and length must match the
// tensor's shape and type.
#ifndef ONNX_REINIT_EXTERNAL_DATA_H_
#define ONNX_REINIT_EXTERNAL_DATA_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/file_util.h"
#include "onnx_reinit/output_file.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

// Offsets of tensors in data files written by onnx-reinit are multiples of this, so that ONNX
// Runtime can map them (4 KiB pages on Linux).
inline constexpr int64_t kExternalDataAlignment = 4096;

// Whether any top-level initializer of `model` keeps its values in an external file.
bool HasExternalData(const onnx::ModelProto& model);

// The external data files of a model, mapped read-only (read in on demand), and where each
// external tensor's bytes are. Move-only.
class ExternalData {
 public:
  // Validates and maps the data of every external initializer of `model`, whose file is
  // `model_path`. Errors (InvalidArgument, NotFound) name the tensor and the location.
  static absl::StatusOr<ExternalData> Open(onnx::ModelProto& model, const std::string& model_path);

  const DetachedPayloads& payloads() const { return payloads_; }
  // The file and offset each external tensor was read from (for kernel-side copies).
  struct Source {
    const MappedFile* file = nullptr;  // owned by this ExternalData
    int64_t offset = 0;
    int64_t length = 0;
  };
  const std::map<const onnx::TensorProto*, Source>& sources() const { return sources_; }
  // The data files read, by their real paths.
  std::vector<std::string> FilePaths() const;

  // Makes `tensor`, which has no values (a stripped tensor being materialized), an external tensor
  // of `length` zero bytes that are in no file: they read as zeros from an anonymous mapping (which
  // takes no memory) and WriteExternalDataLayout gives them their place without copying anything.
  // ResourceExhausted, naming the tensor, when the address space cannot hold them.
  absl::Status AddUnwritten(onnx::TensorProto& tensor, int64_t length);

 private:
  std::map<std::string, MappedFile> files_;
  std::vector<std::shared_ptr<char>> unwritten_;  // the anonymous mappings of AddUnwritten
  DetachedPayloads payloads_;
  std::map<const onnx::TensorProto*, Source> sources_;
};

// A data file written for an output model, and where each tensor is in it (payload addresses in
// a read-only mapping of it: write the file with WriteFilled (streamed_fill.h), not through them).
struct NewDataFile {
  OutputFile output;  // commit it before the model that points into it
  MappedFile file;
  DetachedPayloads payloads;
};

// Lays out the external initializers of `model` in a new data file, tensor after tensor at offsets
// aligned to kExternalDataAlignment, copies their current bytes from `sources` into it (in the
// kernel), and points their external_data entries at it: location `location` (the data file's
// name, relative to the output model's folder), the new offset and length. A `checksum` entry is
// dropped, since the values are about to change. The file is `data`, not yet committed.
// With `move_threshold` >= 0, embedded tensors whose raw_data holds at least that many bytes are
// moved into the data file too (tensors in typed fields stay embedded), and so are those for which
// `moved_out` is true whatever their size. Tensors for which `overwritten` is true get their place
// but not their bytes, which the caller is about to write.
absl::StatusOr<NewDataFile> WriteExternalDataLayout(
    onnx::ModelProto& model, const ExternalData& sources, OutputFile data, const std::string& location,
    int64_t move_threshold = -1, const std::function<bool(const onnx::TensorProto&)>& overwritten = nullptr,
    const std::function<bool(const onnx::TensorProto&)>& moved_out = nullptr);

// Brings the bytes of every external tensor into its raw_data, making the model self-contained.
void EmbedExternalData(onnx::ModelProto& model, const ExternalData& sources);

// Weight-stripped models: gives every floating-point initializer whose values are missing - no
// value field at all for a non-empty shape, or an external data file that does not exist - zeroed
// raw_data of its shape, to be re-initialized, and drops Polygraphy's TRT_WEIGHTLESS marks (the
// tensor's, and the model's once no marked tensor is left; see tensor_data.h). Returns their names.
// InvalidArgument for a missing non-float tensor (nothing sensible can replace an integer shape or
// index).
absl::StatusOr<std::vector<std::string>> MaterializeMissingValues(onnx::ModelProto& model,
                                                                  const std::string& model_path);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_EXTERNAL_DATA_H_
