// Command-line flags for a scheme and its parameters (shared by every command that takes --scheme).
// They fill the scheme fields of a proto::Recipe; options.h turns them into SchemeOptions.
#ifndef ONNX_REINIT_TOOLS_SCHEME_FLAGS_H_
#define ONNX_REINIT_TOOLS_SCHEME_FLAGS_H_

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "onnx_reinit/recipe.pb.h"

namespace onnx_reinit::cli {

// A flag that, when given, calls `set` with its value (so that unset options stay unset).
template <typename T>
CLI::Option* AddSettingFlag(CLI::App& app, const std::string& name, std::function<void(const T&)> set,
                            const std::string& help) {
  return app.add_option_function<T>(name, std::move(set), help);
}

// Adds --scheme and its parameters to `app`; given flags are set in `options`.
void AddSchemeFlags(CLI::App& app, proto::Recipe& options, bool scheme_required);

// A CLI11 validator from a library parser, so that bad names fail at parse time with its message.
template <typename Parser>
CLI::Validator FromParser(Parser parse, const std::string& description) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        auto parsed = parse(text);
        return parsed.ok() ? std::string() : std::string(parsed.status().message());
      },
      description);
}

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_SCHEME_FLAGS_H_
