// Writes new tensor values into a file front to back, through a small buffer that is reused.
//
// The fill jobs' tensors are byte ranges of a file, `layout` (detached payloads pointing into its
// mapping: see model_io.h and external_data.h); their new values go to the same offsets of an
// output file. WriteFilled computes them window by window into a buffer of about `window_bytes`
// and writes each window with pwrite while the next one is being filled (by a pool of threads
// kept for the whole file). With `copy_gaps`, the
// bytes between the tensors are copied from `layout` as well (short gaps through the buffer, long
// ones in the kernel), so a new, empty output becomes a copy of `layout` with the tensors replaced,
// written in one sequential pass; without, the output keeps whatever it holds there.
//
// This is the fast path for large models: every output byte is written once, the memory is two
// windows whatever the model's size, and the buffer's pages are faulted in once and then reused.
// (Filling a writable shared mapping of the output instead costs a file-system fault per page, and
// fresh anonymous memory a fault and a zeroing per page.) The bytes written are those Fill would
// store in the tensors, whatever the window size and thread count.
#ifndef ONNX_REINIT_INIT_STREAMED_FILL_H_
#define ONNX_REINIT_INIT_STREAMED_FILL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "onnx_reinit/file_util.h"
#include "onnx_reinit/fill.h"

namespace onnx_reinit {

struct StreamedFillOptions {
  uint64_t seed = 0;
  int threads = 1;  // one writes (and fills when it would wait), the others fill
  // The buffer holds two windows. An ORTHOGONAL job is computed whole, so its window may be larger.
  int64_t window_bytes = int64_t{2} << 20;
  bool copy_gaps = false;
  // Called after each window is written, with the tensor bytes written so far and in all.
  std::function<void(int64_t done, int64_t total)> progress;
};

// Writes the values of `jobs` (each must pass CheckFillJob, and lie inside `layout`'s mapping) to
// `output_fd`, the file `output_path`, at their offsets in `layout`; with options.copy_gaps also
// every other byte of `layout`. Errors name `output_path` (or `layout`'s path for a failed read).
absl::Status WriteFilled(const std::vector<FillJob>& jobs, const MappedFile& layout, int output_fd,
                         const std::string& output_path, const StreamedFillOptions& options);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_INIT_STREAMED_FILL_H_
