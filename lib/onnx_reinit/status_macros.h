// Early-return helpers for absl::Status, with the contract of absl's status_macros.h (absent from
// Debian 12's abseil 20220623), so that switching to ABSL_* later is a rename.
#ifndef ONNX_REINIT_STATUS_MACROS_H_
#define ONNX_REINIT_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace onnx_reinit {

// `status` with `message` instead of its own, keeping its code and payloads (its ErrorKind); OK
// stays OK.
inline absl::Status WithMessage(const absl::Status& status, absl::string_view message) {
  if (status.ok()) return status;
  absl::Status result(status.code(), message);
  status.ForEachPayload(
      [&result](absl::string_view type_url, const absl::Cord& payload) { result.SetPayload(type_url, payload); });
  return result;
}

// `status` with "<context>: " before its message, keeping its code and payloads (OK stays OK).
inline absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  return WithMessage(status, absl::StrCat(context, ": ", status.message()));
}

}  // namespace onnx_reinit

// Returns the status from the enclosing function when `expr` is not OK.
#define ONNX_REINIT_RETURN_IF_ERROR(expr)                      \
  do {                                                         \
    ::absl::Status onnx_reinit_status_ = (expr);               \
    if (!onnx_reinit_status_.ok()) return onnx_reinit_status_; \
  } while (false)

#define ONNX_REINIT_CONCAT_INNER_(a, b) a##b
#define ONNX_REINIT_CONCAT_(a, b) ONNX_REINIT_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status and leaves `lhs` untouched,
// otherwise moves the value into `lhs`, which may be a declaration: `ASSIGN_OR_RETURN(auto x, F());`
#define ONNX_REINIT_ASSIGN_OR_RETURN(lhs, rexpr) \
  ONNX_REINIT_ASSIGN_OR_RETURN_IMPL_(ONNX_REINIT_CONCAT_(onnx_reinit_statusor_, __LINE__), lhs, rexpr)

#define ONNX_REINIT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                       \
  if (!statusor.ok()) return std::move(statusor).status();       \
  lhs = std::move(statusor).value()

#endif  // ONNX_REINIT_STATUS_MACROS_H_
