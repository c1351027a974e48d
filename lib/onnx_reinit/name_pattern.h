// Regular expressions over tensor and node names: --only, --exclude and name: rules.
//
// Names come from model files, and patterns from command lines and recipe files, both from
// anywhere. std::regex (libstdc++) recurses once per character of the name and backtracks
// exponentially: `--only '.*mlp.*'` overflowed the stack on a 100,000-character tensor name, and
// a 100-byte pattern ran for minutes. A NamePattern is an RE2 expression: matching takes time
// linear in the name's length, in bounded memory, whatever the pattern. The syntax is RE2's
// (https://github.com/google/re2/wiki/Syntax), the same as ECMAScript's and Python's for what
// name patterns use - `.` `*` `+` `?` `{m,n}` `|` `[...]` `\d` `\w` `\.` `^` `$` `(?:...)` - but
// without backreferences and lookaround, which cannot be matched in linear time.
#ifndef ONNX_REINIT_NAME_PATTERN_H_
#define ONNX_REINIT_NAME_PATTERN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace re2 {
class RE2;
}

namespace onnx_reinit {

class NamePattern {
 public:
  // The pattern, or an error that quotes it and says what is wrong ("missing ): (").
  static absl::StatusOr<NamePattern> Compile(absl::string_view pattern);

  // Whether the pattern matches all of `name`, or with Search any part of it.
  bool Matches(absl::string_view name) const;
  bool Search(absl::string_view name) const;

  const std::string& pattern() const;

 private:
  explicit NamePattern(std::shared_ptr<const re2::RE2> compiled) : compiled_(std::move(compiled)) {}
  std::shared_ptr<const re2::RE2> compiled_;  // immutable and thread-safe, so copies share it
};

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_NAME_PATTERN_H_
