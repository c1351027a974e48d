// The parsers of what users type: scheme specs, --rule, recipe textprotos and the command line.
//
// Input: [selector] [text]
//   selector % 4 == 0  ParseSchemeSpec(text)                        "normal:std=0.02"
//                  1   ParseRule(first line), then the rule matched against the tensor name on
//                      the second line and planned for a weight   "name:.*head.*=keep\nhead.w"
//                  2   a recipe textproto (ParseRecipe), turned into RewriteOptions
//                  3   the command line: one argument per line, parsed with the CLI's flags, then
//                      turned into RewriteOptions (options.h, as the CLI does)
// Promise checked besides "no crash": what ParseSchemeSpec accepts passes Validate.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "fuzz/fuzz_support.h"
#include "onnx_reinit/options.h"
#include "onnx_reinit/policy.h"
#include "tools/reinit_command.h"

namespace {

using namespace onnx_reinit;

void FuzzSchemeSpec(absl::string_view text) {
  auto scheme = ParseSchemeSpec(text);
  if (scheme.ok() && !Validate(*scheme).ok()) {
    fuzz::PromiseBroken("parsed schemes are valid", Validate(*scheme).ToString());
  }
}

void FuzzRule(absl::string_view text) {
  const std::pair<absl::string_view, absl::string_view> lines = absl::StrSplit(text, absl::MaxSplits('\n', 1));
  auto rule = ParseRule(lines.first);
  if (!rule.ok()) return;
  onnx::TensorProto tensor;
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  for (const int64_t dim : {4, 3, 3, 3}) tensor.add_dims(dim);
  TensorUse use;
  use.tensor = &tensor;
  use.name = std::string(lines.second);
  use.role = Role::kWeight;
  use.view_shape = {4, 3, 3, 3};
  use.fans = Fans{27, 36};
  (void)rule->Matches(use);
  Policy policy;
  policy.rules.push_back(*std::move(rule));
  (void)PlanTensor(use, policy);
}

// The recipe as a file (text) over no flags, then as given options over the default recipe, so
// both sides of ToRewriteOptions see fuzzed fields.
void FuzzRecipe(absl::string_view text) {
  auto recipe = ParseRecipe(text, "fuzz.textproto");
  if (!recipe.ok()) return;
  (void)ToRewriteOptions(proto::Recipe(), *recipe, "fuzz.textproto");
  (void)ToRewriteOptions(*recipe);
}

void FuzzCommandLine(absl::string_view text) {
  // The positional input must exist (CLI::ExistingFile): the scratch folder stands in for it.
  std::vector<std::string> args = absl::StrSplit(text, '\n');
  args.push_back(fuzz::ScratchFolder());
  CLI::App app;
  cli::ReinitFlags flags;
  cli::AddReinitFlags(app, flags);
  std::reverse(args.begin(), args.end());  // CLI11 takes its arguments in reverse
  try {
    app.parse(args);
  } catch (const CLI::ParseError&) {
    return;
  }
  (void)ToRewriteOptions(flags.options);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: FuzzSchemeSpec(text); break;
    case 1: FuzzRule(text); break;
    case 2: FuzzRecipe(text); break;
    case 3: FuzzCommandLine(text); break;
  }
  return 0;
}
