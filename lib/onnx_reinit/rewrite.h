// Re-initializes a model file into a new model file: the whole job of the CLI's main command.
//
// Three paths, chosen by the input:
// - Embedded weights (the common case): the output is the input with the weights' bytes replaced,
//   written front to back in one pass (streamed_fill.h): the weights are found by walking the
//   protobuf wire format, their new values computed into a small reused buffer, and the bytes
//   between them copied in the kernel. No tensor is parsed into memory, the 2 GiB protobuf limit
//   does not apply to the work, and memory stays a few MiB whatever the model's size.
//   Re-initialization never changes a payload's length, so the output's structure is the input's:
//   it passes the ONNX checker exactly when the input does.
// - Everything else - external data, a layout change (--external-data, --embed), untying tensors
//   (--untie, which adds tensors: see untie.h), materializing a weight-stripped model, weights in
//   varint int32_data or in Constant nodes: the model file is
//   parsed (external tensors stay out of memory), external tensors are laid out in a new data file
//   named after the output model ("OUT.onnx.data", offsets aligned to 4096) by kernel-side copies
//   and their new values streamed over them there, embedded ones filled in memory; the result is checked with the ONNX
//   checker and serialized. A model that would exceed protobuf's 2 GiB limit is refused before
//   anything is written, with the fix (--external-data) in the message.
// Every path writes its outputs as OutputFiles (output_file.h): they appear under their names only
// when complete; on error, or when the process is killed, nothing is left behind and existing files
// are untouched. The data file is committed before the model that points into it.
#ifndef ONNX_REINIT_REWRITE_H_
#define ONNX_REINIT_REWRITE_H_

#include <string>

#include "absl/status/statusor.h"
#include "onnx_reinit/output_file.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/report.pb.h"

namespace onnx_reinit {

struct RewriteOptions {
  ReinitOptions reinit;
  // Where the output keeps its tensors.
  enum class Layout {
    kKeep,      // as the input: external tensors stay external (in a new data file), embedded stay
    kExternal,  // also move embedded raw_data tensors of at least `size_threshold` bytes out
    kEmbed,     // bring external tensors into the model (which must then fit in 2 GiB)
  };
  Layout layout = Layout::kKeep;
  int64_t size_threshold = 1024;
  // Give weight-stripped tensors (no values, or a missing data file) values to re-initialize.
  bool materialize = false;
  // The window of the streamed writes (streamed_fill.h): two windows of this many bytes are all the
  // memory the new values take, whatever the model's size.
  int64_t window_bytes = int64_t{2} << 20;
  // How the outputs are written: `fsync` for durable results.
  OutputOptions output;
};

// Reads `input`, re-initializes it and writes `output` (plus its data file for external data).
// With options.reinit.dry_run, only plans and writes nothing. The report's notes give the path
// taken when it is not the in-place one.
absl::StatusOr<proto::ReinitReport> ReinitializeFile(const std::string& input, const std::string& output,
                                                     const RewriteOptions& options);

// The name of the data file written beside `output`: its file name plus ".data".
std::string DataFileFor(const std::string& output);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_REWRITE_H_
