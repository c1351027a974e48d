// The one place where an error becomes the command's exit status and its line on stderr. The exit
// status comes from the error's kind (onnx_reinit/errors.h), never from its wording or status code.
// The statuses are documented under EXIT STATUS in docs/onnx-reinit.1.
#ifndef ONNX_REINIT_TOOLS_EXIT_STATUS_H_
#define ONNX_REINIT_TOOLS_EXIT_STATUS_H_

#include "absl/status/status.h"

namespace onnx_reinit::cli {

inline constexpr int kExitUsage = 2;  // as grep and diff

// What a command's exit status 1 means.
enum class CommandType {
  kAction,   // re-initialize, stats: 1 is an error (bad model, unwritable file), 2 a usage error or a
             // --strict refusal
  kVerdict,  // verify, diff: 1 is "fail" or "different", so every error is 2
};

// The exit status of a command of `type` that failed with `status` (not OK).
int ExitStatusFor(const absl::Status& status, CommandType type);

// Prints "onnx-reinit: error: MESSAGE" on stderr and returns ExitStatusFor(status, type).
int ReportError(const absl::Status& status, CommandType type);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_EXIT_STATUS_H_
