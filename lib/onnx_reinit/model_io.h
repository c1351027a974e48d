// Reading, checking and writing ONNX model files.
//
// Every error message names the file. The ONNX checker's exceptions end here: CheckModel turns them
// into a Status.
#ifndef ONNX_REINIT_MODEL_IO_H_
#define ONNX_REINIT_MODEL_IO_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/external_data.h"
#include "onnx_reinit/file_util.h"
#include "onnx_reinit/output_file.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

// Reads and parses the model at `path`. NotFound when the file does not exist; InvalidArgument when
// it is not a serialized ModelProto with a graph (empty, truncated, another format, nested past
// protobuf's limit of 100) or fails ValidateModel (validate.h). Files are limited to 2 GiB,
// protobuf's message limit.
absl::StatusOr<onnx::ModelProto> LoadModel(const std::string& path);

// Parses a serialized model held in memory, with LoadModel's checks and messages; errors start with
// `name` (the model's file, or what the caller calls the bytes). InvalidArgument over 2 GiB.
absl::StatusOr<onnx::ModelProto> ParseModel(absl::string_view bytes, const std::string& name);

// A model file mapped into memory for reading. Its ModelProto holds everything except the values of
// the top-level initializers stored in raw_data or packed float_data/double_data: those stay in the
// mapping, described by payloads(), so opening costs about as much as reading the graph's structure.
// In read mode, tensors in external data files are opened (and validated) too, and their payloads
// point into those files (see external_data.h).
// The mapping is read-only: views bound through payloads() must not be written.
class MappedModel {
 public:
  // Fails like LoadModel. kReadLazy and kReadSparse read pages in on first touch rather than up front.
  static absl::StatusOr<MappedModel> Open(const std::string& path, MappedFile::Mode mode = MappedFile::Mode::kRead);

  MappedModel(MappedModel&& other) noexcept = default;
  MappedModel& operator=(MappedModel&&) = delete;

  onnx::ModelProto& model() { return *model_; }
  const DetachedPayloads& payloads() const { return payloads_; }
  const MappedFile& file() const { return file_; }

 private:
  MappedModel() = default;

  MappedFile file_;
  std::unique_ptr<onnx::ModelProto> model_;  // on the heap: payloads_ holds pointers into it
  std::unique_ptr<ExternalData> external_;
  DetachedPayloads payloads_;
};

// Serializes `model` to `path` atomically, as an OutputFile (output_file.h): the file appears under
// its name only once complete; on error, or if the process is killed, no file is left behind and an
// existing `path` is untouched. The file gets mode 0666 minus the umask, as a plain create would.
absl::Status SaveModel(const onnx::ModelProto& model, const std::string& path, const OutputOptions& options = {});

// Serializes `model` into `file`, not yet committed. FailedPrecondition over protobuf's 2 GiB limit.
absl::Status WriteModel(const onnx::ModelProto& model, OutputFile& file);

// Writes `bytes` to `path` with SaveModel's guarantees: all or nothing, mode 0666 minus the umask.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view bytes, const OutputOptions& options = {});

// Runs onnx::checker::check_model. Unimplemented when the model's IR version is newer than the
// linked checker understands (libonnx 1.12: IR 8), InvalidArgument with the checker's message when
// the model fails the check.
absl::Status CheckModel(const onnx::ModelProto& model);
// The same for a model file; external data files are looked up beside it.
absl::Status CheckModelFile(const std::string& path);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_MODEL_IO_H_
