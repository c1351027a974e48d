// What an error is about, carried by the absl::Status as data (a payload), not in its wording or
// its code: the command line chooses its exit status, Python its exception class and
// ReinitializeFile its rewrite path from the kind, so rewording a message changes none of them.
// The kind is set where the error arises; WithContext (status_macros.h) keeps it.
#ifndef ONNX_REINIT_ERRORS_H_
#define ONNX_REINIT_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace onnx_reinit {

enum class ErrorKind {
  // The model cannot be read or re-initialized as it is (malformed, a scheme that does not fit a
  // tensor, ...). Also the kind of any error that was given none.
  kModel,
  // The caller's request is wrong: an option, a scheme, a rule or recipe, an output that is the
  // input, a scheme verify cannot judge.
  kUsage,
  // The operating system refused a file (missing, no permission, disk full, ...); the status code
  // says which (NotFound, PermissionDenied, Unavailable) and the message names the file.
  kFile,
  // ReinitOptions::strict refused a run: a rule that takes no effect, nothing re-initialized, a
  // tensor read by an op not in the op table.
  kStrict,
  // ReinitOptions::require_detached refused a model that must be rewritten in memory (values not
  // stored in place-rewritable form, requantization); ReinitializeFile then takes that path.
  kNotInPlace,
  // A tensor is stored in a form this version does not read (BindBlockwise: a g_idx, int4 tables,
  // ...); callers that can leave it unchanged name it instead of failing.
  kUnsupported,
};

// `status` with `kind` (replacing any earlier kind); OK stays OK.
absl::Status WithErrorKind(absl::Status status, ErrorKind kind);

// The kind of a non-OK `status`: the one given by WithErrorKind, else kModel.
ErrorKind ErrorKindOf(const absl::Status& status);

// An InvalidArgument error of kind kUsage.
absl::Status UsageError(absl::string_view message);

// "model", "usage", "file", "strict", "not_in_place", "unsupported".
absl::string_view ErrorKindName(ErrorKind kind);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_ERRORS_H_
