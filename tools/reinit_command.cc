#include "tools/reinit_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <iterator>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "onnx_reinit/recipe.pb.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/rewrite.h"
#include "onnx_reinit/status_macros.h"
#include "tools/json_output.h"
#include "tools/text_table.h"

namespace onnx_reinit::cli {
namespace {

std::string Fans(const proto::TensorRecord& t) {
  if (t.fan_in() == 0 && t.fan_out() == 0) return "-";
  return t.fan_out() == 0 ? absl::StrCat(t.fan_in(), "/-") : absl::StrCat(t.fan_in(), "/", t.fan_out());
}

std::string FormatTensorTable(const proto::ReinitReport& report) {
  TextTable table({{"tensor"}, {"role"}, {"op"}, {"shape"}, {"dtype"}, {"fan_in/out", true},
                   {"values"}, {"rule"}});
  for (const proto::TensorRecord& t : report.tensors()) {
    table.AddRow({t.name(), t.role(), t.via().empty() ? t.op_type() : t.via() + " -> " + t.op_type(),
                  FormatShape(t.shape()), t.dtype(), Fans(t), t.description(), t.rule()});
  }
  return table.Render(TerminalWidth());
}

std::string FormatSkipped(const proto::ReinitReport& report) {
  TextTable table({{"left unchanged"}, {"role"}, {"reason"}});
  for (const proto::SkippedTensor& t : report.skipped()) table.AddRow({t.name(), t.role(), t.reason()});
  return table.Render(TerminalWidth());
}

absl::StatusOr<std::regex> CompileRegex(const std::string& flag, const std::string& pattern) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s '%s': %s", flag, pattern, e.what()));
  }
}

absl::StatusOr<std::function<bool(absl::string_view)>> TensorSelector(const ReinitFlags& flags) {
  if (flags.only.empty() && flags.exclude.empty()) return nullptr;
  std::optional<std::regex> only, exclude;
  if (!flags.only.empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(only, CompileRegex("--only", flags.only));
  }
  if (!flags.exclude.empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(exclude, CompileRegex("--exclude", flags.exclude));
  }
  return [only, exclude](absl::string_view name) {
    const std::string text(name);
    if (only && !std::regex_search(text, *only)) return false;
    return !(exclude && std::regex_search(text, *exclude));
  };
}

absl::Status RefuseOverwritingInput(const std::string& input, const std::string& output) {
  std::error_code error;
  if (std::filesystem::equivalent(input, output, error)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: the output would overwrite the input; choose another -o", output));
  }
  return absl::OkStatus();
}

absl::StatusOr<proto::Recipe> ReadRecipe(const std::string& path) {
  proto::Recipe recipe;
  if (path.empty()) return recipe;
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrFormat("%s: cannot read the recipe", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Collects the parser's first error, with its line and column, instead of logging to stderr.
  class FirstError : public google::protobuf::io::ErrorCollector {
   public:
    void AddError(int line, int column, const std::string& message) override {
      if (text.empty()) text = absl::StrFormat("line %d:%d: %s", line + 1, column + 1, message);
    }
    std::string text;
  } errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &recipe)) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", path, errors.text));
  }
  return recipe;
}

// "--flag value" if the flag was given, else the recipe's value, else the default.
template <typename Enum>
absl::StatusOr<Enum> Choice(absl::string_view flag, const std::string& given, const std::string& in_recipe,
                            std::initializer_list<std::pair<const char*, Enum>> choices) {
  const std::string& text = !given.empty() ? given : in_recipe;
  if (text.empty()) return choices.begin()->second;
  std::vector<std::string> names;
  for (const auto& [name, value] : choices) {
    if (text == name) return value;
    names.push_back(name);
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("%s '%s': choose %s", flag, text, absl::StrJoin(names, " or ")));
}

// The library options for the parsed flags and the recipe; an error here is a usage error.
absl::StatusOr<ReinitOptions> OptionsFromFlags(const ReinitFlags& flags) {
  ONNX_REINIT_ASSIGN_OR_RETURN(const proto::Recipe recipe, ReadRecipe(flags.recipe));
  ReinitOptions options;
  Policy& policy = options.policy;
  if (SchemeGiven(flags.scheme)) {
    ONNX_REINIT_ASSIGN_OR_RETURN(policy.scheme, ToSchemeOptions(flags.scheme));
  } else if (!recipe.scheme().empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(policy.scheme, ParseSchemeSpec(recipe.scheme()));
  } else {
    return absl::InvalidArgumentError("give --scheme (or a --recipe with a scheme)");
  }
  for (const std::string& text : flags.rules) {
    ONNX_REINIT_ASSIGN_OR_RETURN(Rule rule, ParseRule(text));
    policy.rules.push_back(std::move(rule));
  }
  for (const std::string& text : recipe.rules()) {
    auto rule = ParseRule(text);
    if (!rule.ok()) return WithContext(rule.status(), flags.recipe);
    policy.rules.push_back(*std::move(rule));
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(policy.bias, Choice<BiasInit>("--bias", flags.bias, recipe.bias(),
                                                              {{"zeros", BiasInit::kZeros},
                                                               {"torch", BiasInit::kTorch}}));
  ONNX_REINIT_ASSIGN_OR_RETURN(
      policy.embedding,
      Choice<EmbeddingInit>("--embedding", flags.embedding, recipe.embedding(),
                            {{"normal", EmbeddingInit::kNormal}, {"scheme", EmbeddingInit::kScheme}}));
  ONNX_REINIT_ASSIGN_OR_RETURN(
      policy.recurrence,
      Choice<RecurrenceInit>("--rnn-recurrence", flags.rnn_recurrence, recipe.rnn_recurrence(),
                             {{"orthogonal", RecurrenceInit::kOrthogonal},
                              {"scheme", RecurrenceInit::kScheme}}));
  ONNX_REINIT_ASSIGN_OR_RETURN(
      options.analysis.convtranspose_input_channel_fans,
      Choice<bool>("--convtranspose-fan", flags.convtranspose_fan, recipe.convtranspose_fan(),
                   {{"torch", false}, {"input_channels", true}}));
  if (flags.lstm_forget_bias_flag->count() > 0) {
    policy.lstm_forget_bias = flags.lstm_forget_bias;
  } else if (recipe.has_lstm_forget_bias()) {
    policy.lstm_forget_bias = recipe.lstm_forget_bias();
  }
  ReinitFlags selection = flags;
  if (selection.only.empty()) selection.only = recipe.only();
  if (selection.exclude.empty()) selection.exclude = recipe.exclude();
  ONNX_REINIT_ASSIGN_OR_RETURN(options.select, TensorSelector(selection));
  options.seed = flags.seed_flag->count() == 0 && recipe.has_seed() ? recipe.seed() : flags.seed;
  options.threads = flags.threads;
  options.with_statistics = !flags.report.empty();
  options.dry_run = flags.dry_run;
  return options;
}

// A one-line progress bar on stderr, shown once a run has taken a second, and only on a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
  ~ProgressBar() {
    if (shown_) std::cerr << "\r\033[K" << std::flush;
  }
  void Update(int64_t done, int64_t total) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (!enabled_ || total <= 0 || elapsed < 1.0) return;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / total);
    std::cerr << absl::StrFormat("\r[%s%s] %3d%% %s of %s", std::string(filled, '#'),
                                 std::string(kWidth - filled, ' '), static_cast<int>(100 * done / total),
                                 FormatBytes(done), FormatBytes(total))
              << std::flush;
    shown_ = true;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

absl::Status Run(const ReinitFlags& flags, const ReinitOptions& options, const std::string& output) {
  const auto start = std::chrono::steady_clock::now();
  ONNX_REINIT_RETURN_IF_ERROR(RefuseOverwritingInput(flags.input, output));
  RewriteOptions rewrite;
  rewrite.reinit = options;
  if (flags.external_data && flags.embed) {
    return absl::InvalidArgumentError("give --external-data or --embed, not both");
  }
  rewrite.layout = flags.external_data ? RewriteOptions::Layout::kExternal
                   : flags.embed       ? RewriteOptions::Layout::kEmbed
                                       : RewriteOptions::Layout::kKeep;
  rewrite.size_threshold = flags.size_threshold;
  rewrite.materialize = flags.materialize;
  absl::StatusOr<proto::ReinitReport> report;
  {
    ProgressBar bar(!flags.quiet && !options.dry_run);
    rewrite.reinit.progress = [&bar](int64_t done, int64_t total) { bar.Update(done, total); };
    report = ReinitializeFile(flags.input, output, rewrite);
  }
  if (!report.ok()) return report.status();
  report->set_model(flags.input);
  if (!flags.report.empty()) ONNX_REINIT_RETURN_IF_ERROR(WriteFileAtomically(flags.report, ToJson(*report)));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (flags.quiet) return absl::OkStatus();
  if (options.select && report->tensors().empty()) {
    report->add_warnings("no tensor matches --only/--exclude; the output equals the input");
  }
  for (const std::string& warning : report->warnings()) {
    std::cerr << "onnx-reinit: warning: " << warning << "\n";
  }
  const int tensors = report->tensors_size();
  if (options.dry_run) {
    std::cout << FormatTensorTable(*report) << FormatSkipped(*report)
              << absl::StrFormat("dry run: would re-initialize %d tensor%s (%s values) with %s, "
                                 "seed %d; nothing written\n",
                                 tensors, tensors == 1 ? "" : "s", WithThousands(report->values()),
                                 report->scheme(), report->seed());
    return absl::OkStatus();
  }
  std::cout << FormatTensorTable(*report);
  if (!report->skipped().empty()) {
    std::cout << absl::StrFormat("%d tensor%s left unchanged (no role, or not selected; --dry-run lists them)\n",
                                 report->skipped_size(), report->skipped_size() == 1 ? "" : "s");
  }
  std::cout << absl::StrFormat("re-initialized %d tensor%s (%s values) with %s, seed %d, in %.3f s -> %s\n",
                               tensors, tensors == 1 ? "" : "s", WithThousands(report->values()),
                               report->scheme(), report->seed(), seconds, output);
  return absl::OkStatus();
}

}  // namespace

std::string DefaultOutputPath(const std::string& input) {
  if (absl::EndsWith(input, ".onnx")) {
    return input.substr(0, input.size() - 5) + ".reinit.onnx";
  }
  return input + ".reinit.onnx";
}

void AddReinitFlags(CLI::App& app, ReinitFlags& flags) {
  app.add_option("input", flags.input, "The ONNX model to re-initialize (never modified)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("-o,--output", flags.output,
                 "Where to write the result (default: IN.reinit.onnx beside the input)")
      ->check(CLI::Validator(
          [](std::string& path) { return path.empty() ? std::string("empty path") : std::string(); },
          "PATH"));
  AddSchemeFlags(app, flags.scheme, /*scheme_required=*/false);
  app.add_option("--rule", flags.rules,
                 "PATTERN=SCHEME[:key=value,...] or PATTERN=keep, repeatable, first match wins; "
                 "PATTERN is name:REGEX, op:OPTYPE or role:ROLE (e.g. role:bias=zeros, "
                 "name:.*head.*=normal:std=0.02)");
  app.add_option("--recipe", flags.recipe,
                 "Read scheme, rules and options from a textproto file (proto/onnx_reinit/recipe.proto)")
      ->check(CLI::ExistingFile);
  app.add_option("--bias", flags.bias, "Biases: zeros, or torch = U(+-1/sqrt(fan_in)) (default zeros)");
  app.add_option("--embedding", flags.embedding,
                 "Embedding tables: normal = N(0, 1) as PyTorch, or scheme (default normal)");
  app.add_option("--rnn-recurrence", flags.rnn_recurrence,
                 "RNN recurrence weights: orthogonal per gate, or scheme per gate (default orthogonal)");
  flags.lstm_forget_bias_flag = app.add_option(
      "--lstm-forget-bias", flags.lstm_forget_bias,
      "Set the LSTM forget-gate input bias to this value (e.g. 1); default: zeros like the rest");
  app.add_option("--convtranspose-fan", flags.convtranspose_fan,
                 "ConvTranspose fans: torch (fan_in from size(1), PyTorch's) or input_channels "
                 "(default torch)");
  app.add_flag("--external-data", flags.external_data,
               "Write tensors of at least --size-threshold bytes to OUT.onnx.data (4096-aligned)");
  app.add_option("--size-threshold", flags.size_threshold,
                 "Smallest tensor, in bytes, that --external-data moves out of the model")
      ->default_val(1024)
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--embed", flags.embed,
               "Bring external tensors into the model (it must fit protobuf's 2 GiB limit)");
  app.add_flag("--materialize", flags.materialize,
               "Fill weight-stripped tensors (no values, or a missing data file) with fresh values");
  app.add_flag("--dry-run", flags.dry_run,
               "Print the plan - every tensor, role, fans, rule, distribution - and write nothing");
  flags.seed_flag = app.add_option("--seed", flags.seed,
                 "Random seed; the same seed gives the same bytes for any --threads")
      ->default_val(kDefaultSeed)
      ->check(CLI::Validator(  // CLI11 would wrap "-1" around to 2^64 - 1
          [](std::string& text) {
            return text.rfind('-', 0) == 0 ? std::string("must be a non-negative integer")
                                           : std::string();
          },
          "UINT64"));
  app.add_option("--threads", flags.threads, "Fill threads; 0 = all cores")
      ->default_val(0)
      ->check(CLI::Range(0, 1024));
  app.add_option("--only", flags.only, "Re-initialize only tensors whose name contains a match of this regex");
  app.add_option("--exclude", flags.exclude, "Leave tensors whose name contains a match of this regex unchanged");
  app.add_option("--report", flags.report,
                 "Also write a JSON report of what changed, with statistics before and after");
  app.add_flag("-q,--quiet", flags.quiet, "Print nothing but errors");
}

int RunReinit(const ReinitFlags& flags) {
  const absl::StatusOr<ReinitOptions> options = OptionsFromFlags(flags);
  if (!options.ok()) {
    std::cerr << "onnx-reinit: error: " << options.status().message() << "\n";
    return 2;
  }
  const std::string output = flags.output.empty() ? DefaultOutputPath(flags.input) : flags.output;
  const absl::Status status = Run(flags, *options, output);
  if (status.ok()) return 0;
  std::cerr << "onnx-reinit: error: " << status.message() << "\n";
  return 1;
}

}  // namespace onnx_reinit::cli
