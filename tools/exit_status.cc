#include "tools/exit_status.h"

#include <iostream>

#include "onnx_reinit/errors.h"

namespace onnx_reinit::cli {

int ExitStatusFor(const absl::Status& status, CommandType type) {
  if (type == CommandType::kVerdict) return kExitUsage;
  switch (ErrorKindOf(status)) {
    case ErrorKind::kUsage:
    case ErrorKind::kStrict: return kExitUsage;
    case ErrorKind::kModel:
    case ErrorKind::kFile:
    case ErrorKind::kNotInPlace:
    case ErrorKind::kUnsupported: return 1;
  }
  return 1;
}

int ReportError(const absl::Status& status, CommandType type) {
  std::cerr << "onnx-reinit: error: " << status.message() << "\n";
  return ExitStatusFor(status, type);
}

}  // namespace onnx_reinit::cli
