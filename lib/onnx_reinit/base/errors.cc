#include "onnx_reinit/errors.h"

#include "absl/strings/cord.h"

namespace onnx_reinit {
namespace {

constexpr absl::string_view kKindPayload = "onnx-reinit/error-kind";
constexpr ErrorKind kKinds[] = {ErrorKind::kModel,  ErrorKind::kUsage,      ErrorKind::kFile,
                                ErrorKind::kStrict, ErrorKind::kNotInPlace, ErrorKind::kUnsupported};

}  // namespace

absl::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kModel: return "model";
    case ErrorKind::kUsage: return "usage";
    case ErrorKind::kFile: return "file";
    case ErrorKind::kStrict: return "strict";
    case ErrorKind::kNotInPlace: return "not_in_place";
    case ErrorKind::kUnsupported: return "unsupported";
  }
  return "model";
}

absl::Status WithErrorKind(absl::Status status, ErrorKind kind) {
  if (!status.ok()) status.SetPayload(kKindPayload, absl::Cord(ErrorKindName(kind)));
  return status;
}

absl::Status UsageError(absl::string_view message) {
  return WithErrorKind(absl::InvalidArgumentError(message), ErrorKind::kUsage);
}

ErrorKind ErrorKindOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kKindPayload);  // absl::optional in this abseil
  if (!payload) return ErrorKind::kModel;
  for (ErrorKind kind : kKinds) {
    if (*payload == ErrorKindName(kind)) return kind;
  }
  return ErrorKind::kModel;
}

}  // namespace onnx_reinit
