#include "onnx_reinit/name_pattern.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "re2/re2.h"

namespace onnx_reinit {

absl::StatusOr<NamePattern> NamePattern::Compile(absl::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);  // the error is returned, not printed
  auto compiled = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!compiled->ok()) {
    return absl::InvalidArgumentError(absl::StrFormat("bad regex '%s': %s", pattern, compiled->error()));
  }
  return NamePattern(std::move(compiled));
}

bool NamePattern::Matches(absl::string_view name) const {
  return RE2::FullMatch(re2::StringPiece(name.data(), name.size()), *compiled_);
}

bool NamePattern::Search(absl::string_view name) const {
  return RE2::PartialMatch(re2::StringPiece(name.data(), name.size()), *compiled_);
}

const std::string& NamePattern::pattern() const { return compiled_->pattern(); }

}  // namespace onnx_reinit
