// What the harnesses share: a scratch folder per process, file helpers, the options a byte selects,
// and how a harness reports a broken promise (as a crash, so that libFuzzer keeps the input).
#ifndef ONNX_REINIT_FUZZ_FUZZ_SUPPORT_H_
#define ONNX_REINIT_FUZZ_FUZZ_SUPPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/scheme.h"

namespace onnx_reinit::fuzz {

// An empty folder of this process's own under $TMPDIR (or /tmp), made on first use and removed at
// exit. Harnesses run in one process for thousands of inputs: reuse it, and empty it per input.
const std::string& ScratchFolder();

// Removes everything inside `folder` (not `folder` itself).
void EmptyFolder(const std::string& folder);
// The names in `folder`, sorted.
std::vector<std::string> FolderEntries(const std::string& folder);
void WriteFile(const std::string& path, absl::string_view bytes);
std::string ReadFile(const std::string& path);

// The scheme `selector` picks among every accepted name (aliases included), with the parameters
// it requires (constant's value) so that every scheme is reachable.
SchemeOptions SchemeFromByte(uint8_t selector);

// The number of elements the initializers of `model` declare in their dims, saturating at
// INT64_MAX (negative dims count as 0): what --materialize would allocate and fill.
int64_t DeclaredElements(const onnx::ModelProto& model);

// --materialize fills what the model declares, however small the file: a 40-byte model can declare
// a 4096 x 4096 stripped weight, and orthogonal on it takes seconds (minutes under ASan). That is
// work proportional to the declared model, not a bug, so harnesses skip inputs that declare more
// than this (2^18 elements keeps every run well under a second).
constexpr int64_t kMaxMaterializedElements = int64_t{1} << 18;

// Prints "fuzz: <promise> broken: <detail>" and aborts, which libFuzzer records as a crash.
[[noreturn]] void PromiseBroken(absl::string_view promise, absl::string_view detail);

}  // namespace onnx_reinit::fuzz

#endif  // ONNX_REINIT_FUZZ_FUZZ_SUPPORT_H_
