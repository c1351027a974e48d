// The one options layer: from the user's choices - a recipe file, the CLI's flags, the Python
// module's keyword arguments, all held as a proto::Recipe (proto/onnx_reinit/recipe.proto) - to the
// library's RewriteOptions, with one parser and one set of error messages for every front end.
//
// Example (what the CLI does):
//   ONNX_REINIT_ASSIGN_OR_RETURN(proto::Recipe file, ReadRecipe("ci.textproto"));
//   proto::Recipe given;  // from the flags
//   given.set_seed(7);
//   ONNX_REINIT_ASSIGN_OR_RETURN(RewriteOptions options,
//                                ToRewriteOptions(given, file, "ci.textproto"));
//
// Error messages name the option as its flag ("--std does not apply to scheme 'he_normal' ...",
// "--bias 'x': choose zeros or torch"); errors in a recipe file's rules are prefixed with the
// file's name, its syntax errors with the name and "line L:C". Every error is InvalidArgument
// (NotFound for an unreadable file): a usage error, not a bad model.
#ifndef ONNX_REINIT_OPTIONS_H_
#define ONNX_REINIT_OPTIONS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx_reinit/recipe.pb.h"
#include "onnx_reinit/rewrite.h"
#include "onnx_reinit/scheme.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

// Parses recipe textproto; `source` names it in errors ("ci.textproto: line 2:1: ...").
absl::StatusOr<proto::Recipe> ParseRecipe(absl::string_view text, absl::string_view source);
// Reads and parses a recipe file.
absl::StatusOr<proto::Recipe> ReadRecipe(const std::string& path);

// The scheme `options` names, with its parameters (the `value` ... `gain` fields, or the ones
// after its name), validated. InvalidArgument when there is no scheme.
absl::StatusOr<SchemeOptions> SchemeFromOptions(const proto::Recipe& options);

// What the preset of `options` (its `preset` and `initializer_range`) gives the tensors of `model`,
// for checking a model against it (verify --preset, VerifyOptions::targets): the distribution of
// each tensor it re-initializes as one whole region, by name, with the structural rules the graph
// supports, and what it says about the structure it could not read (ExpandPreset's warnings).
struct PresetTargets {
  std::string source;  // "preset gpt2"
  std::map<std::string, proto::Distribution> distributions;
  std::vector<std::string> warnings;
};
absl::StatusOr<PresetTargets> PresetTargetsOf(onnx::ModelProto& model, const proto::Recipe& options,
                                              const DetachedPayloads& payloads = DetachedPayloads());

// The options `given` (flags, keyword arguments) over those of a recipe `file` (named
// `file_name` in errors): fields set in `given` win, its rules are tried first, and a scheme in
// `given` comes with its own parameters only. Only the fields that change what is written are
// read; `with_statistics`, `progress` and the like are the caller's to set.
absl::StatusOr<RewriteOptions> ToRewriteOptions(const proto::Recipe& given, const proto::Recipe& file = proto::Recipe(),
                                                absl::string_view file_name = "");

// The one recipe that `given` over `file` amount to, as ToRewriteOptions reads them (given's rules
// first): what a stripped model stores (strip.h).
proto::Recipe EffectiveRecipe(const proto::Recipe& given, const proto::Recipe& file);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_OPTIONS_H_
