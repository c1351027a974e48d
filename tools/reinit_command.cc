#include "tools/reinit_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "onnx_reinit/recipe.pb.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/external_data.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/options.h"
#include "onnx_reinit/report_file.h"
#include "onnx_reinit/rewrite.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/strip.h"
#include "tools/exit_status.h"
#include "tools/scheme_flags.h"
#include "tools/stdio.h"
#include "tools/text_table.h"

namespace onnx_reinit::cli {
namespace {

template <typename Record>
std::string Fans(const Record& t) {
  if (t.fan_in() == 0 && t.fan_out() == 0) return "-";
  return t.fan_out() == 0 ? absl::StrCat(t.fan_in(), "/-") : absl::StrCat(t.fan_in(), "/", t.fan_out());
}

std::string NodeName(const std::string& name) { return name.empty() ? "-" : name; }

std::string FormatTensorTable(const proto::ReinitReport& report) {
  TextTable table(
      {{"tensor"}, {"node"}, {"role"}, {"op"}, {"shape"}, {"dtype"}, {"fan_in/out", true}, {"values"}, {"rule"}});
  for (const proto::TensorRecord& t : report.tensors()) {
    table.AddRow({t.name(), NodeName(t.consumer()), t.role(),
                  t.via().empty() ? t.op_type() : t.via() + " -> " + t.op_type(), FormatShape(t.shape()), t.dtype(),
                  Fans(t), t.description(), t.rule()});
  }
  return table.Render(TerminalWidth());
}

std::string FormatRequantized(const proto::ReinitReport& report) {
  if (report.requantized().empty()) return "";
  TextTable table(
      {{"requantized"}, {"role"}, {"op"}, {"shape"}, {"dtype"}, {"fan_in/out", true}, {"values"}, {"rule"}});
  int64_t values = 0;
  for (const proto::RequantizedTensor& t : report.requantized()) {
    table.AddRow({t.name(), t.role(), t.via().empty() ? t.op_type() : t.via() + " -> " + t.op_type(),
                  FormatShape(t.shape()), t.dtype(), Fans(t), t.description(), t.rule()});
    values += t.count();
  }
  return absl::StrCat(
      table.Render(TerminalWidth()),
      absl::StrFormat("%s %d quantized tensor%s (%s values)\n", report.dry_run() ? "would requantize" : "requantized",
                      report.requantized_size(), report.requantized_size() == 1 ? "" : "s", WithThousands(values)));
}

std::string FormatSkipped(const proto::ReinitReport& report) {
  TextTable table({{"left unchanged"}, {"node"}, {"role"}, {"reason"}});
  for (const proto::SkippedTensor& t : report.skipped()) {
    table.AddRow({t.name(), NodeName(t.consumer()), t.role(), t.reason()});
  }
  return table.Render(TerminalWidth());
}

// The library options for the flags and the recipe (its errors are usage errors, or a recipe file
// that cannot be read).
absl::StatusOr<RewriteOptions> OptionsFromFlags(const ReinitFlags& flags) {
  proto::Recipe recipe;
  if (!flags.recipe.empty()) {
    ONNX_REINIT_ASSIGN_OR_RETURN(recipe, ReadRecipe(flags.recipe));
  }
  RewriteOptions options;
  std::optional<RewriteOptions> stored;
  if (flags.options.materialize() && flags.input != kStdio) {
    ONNX_REINIT_ASSIGN_OR_RETURN(stored, MaterializeOptions(flags.input, EffectiveRecipe(flags.options, recipe)));
  }
  if (stored) {
    options = *std::move(stored);
  } else {
    ONNX_REINIT_ASSIGN_OR_RETURN(options, ToRewriteOptions(flags.options, recipe, flags.recipe));
  }
  options.reinit.with_statistics = ReportNeedsStatistics(flags.report);
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
    std::cerr << absl::StrFormat("\r[%s%s] %3d%% %s of %s", std::string(filled, '#'), std::string(kWidth - filled, ' '),
                                 static_cast<int>(100 * done / total), FormatBytes(done), FormatBytes(total))
              << std::flush;
    shown_ = true;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Re-initializes `input` into `output`, the files standing for flags.input and flags.output (or
// their default); prints to `out`.
absl::Status Run(const ReinitFlags& flags, const std::string& input, const std::string& output, RewriteOptions rewrite,
                 std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  const ReinitOptions& options = rewrite.reinit;
  rewrite.output.fsync = flags.fsync;
  absl::StatusOr<proto::ReinitReport> report;
  {
    ProgressBar bar(!flags.quiet && !options.dry_run);
    rewrite.reinit.progress = [&bar](int64_t done, int64_t total) { bar.Update(done, total); };
    report = ReinitializeFile(input, output, rewrite);
  }
  if (!report.ok()) return report.status();
  report->set_model(flags.input);
  if (!flags.report.empty()) {
    ONNX_REINIT_RETURN_IF_ERROR(WriteReinitReport(flags.report, *report, input, output, options.policy.scheme,
                                                  options.threads, rewrite.output));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (flags.quiet) return absl::OkStatus();
  for (const std::string& warning : report->warnings()) {
    std::cerr << "onnx-reinit: warning: " << warning << "\n";
  }
  for (const proto::UntiedCopy& copy : report->untied()) {
    out << absl::StrFormat("untied '%s': %s '%s' for %s\n", copy.source(), copy.role(), copy.name(),
                           absl::StrJoin(copy.readers(), ", "));
  }
  const int tensors = report->tensors_size();
  if (options.dry_run) {
    out << FormatTensorTable(*report) << FormatRequantized(*report) << FormatSkipped(*report)
        << absl::StrFormat(
               "dry run: would re-initialize %d tensor%s (%s values) with %s, "
               "seed %d; nothing written\n",
               tensors, tensors == 1 ? "" : "s", WithThousands(report->values()), report->scheme(), report->seed());
    return absl::OkStatus();
  }
  out << FormatTensorTable(*report) << FormatRequantized(*report);
  if (!report->skipped().empty()) {
    out << absl::StrFormat(
        "%d tensor%s left unchanged (parameters, constants without a role, or not "
        "selected; --dry-run lists them)%s\n",
        report->skipped_size(), report->skipped_size() == 1 ? "" : "s",
        report->unknown_op_tensors() == 0
            ? ""
            : absl::StrFormat("; %d read by ops not in the op table", report->unknown_op_tensors()));
  }
  out << absl::StrFormat("re-initialized %d tensor%s (%s values) with %s, seed %d, in %.3f s -> %s\n", tensors,
                         tensors == 1 ? "" : "s", WithThousands(report->values()), report->scheme(), report->seed(),
                         seconds, flags.output.empty() ? output : flags.output);
  return absl::OkStatus();
}

// Run, with "-" standing for stdin or stdout: the model goes through a scratch directory, whose
// paths errors show as "-".
absl::Status RunWithStdio(const ReinitFlags& flags, RewriteOptions options) {
  const bool from_stdin = flags.input == kStdio, to_stdout = flags.output == kStdio;
  if (!from_stdin && !to_stdout) {
    const std::string output = flags.output.empty() ? DefaultOutputPath(flags.input) : flags.output;
    return Run(flags, flags.input, output, std::move(options), std::cout);
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(const ScratchDir scratch, ScratchDir::Create());
  const std::string input = from_stdin ? scratch / "stdin.onnx" : flags.input;
  const std::string output = to_stdout ? scratch / "stdout.onnx" : flags.output;
  const bool embed = options.layout == RewriteOptions::Layout::kEmbed;
  absl::Status status = [&]() -> absl::Status {
    if (from_stdin) {
      ONNX_REINIT_RETURN_IF_ERROR(CopyStreamToFile(STDIN_FILENO, input));
      ONNX_REINIT_ASSIGN_OR_RETURN(const onnx::ModelProto model, LoadModel(input));
      if (HasExternalData(model)) {
        return absl::InvalidArgumentError(
            "-: the model keeps tensors in external data files, which are found beside the model "
            "file: give its path instead of -");
      }
    } else if (!embed) {
      ONNX_REINIT_ASSIGN_OR_RETURN(MappedModel model, MappedModel::Open(input, MappedFile::Mode::kReadSparse));
      if (HasExternalData(model.model())) {
        return absl::InvalidArgumentError(
            "-o -: the model keeps tensors in external data, which needs files: give -o OUT.onnx, "
            "or --embed");
      }
    }
    return Run(flags, input, output, std::move(options), to_stdout ? std::cerr : std::cout);
  }();
  if (!status.ok()) {
    std::vector<std::pair<std::string, std::string>> scratch_names;
    if (from_stdin) scratch_names.push_back({input, kStdio});
    if (to_stdout) scratch_names.push_back({output, kStdio});
    return WithMessage(status, absl::StrReplaceAll(status.message(), scratch_names));
  }
  if (!to_stdout || !std::filesystem::exists(output)) return absl::OkStatus();  // --dry-run
  return CopyFileToStream(output, STDOUT_FILENO, "stdout");
}

}  // namespace

std::string DefaultOutputPath(const std::string& input) {
  if (absl::EndsWith(input, ".onnx")) {
    return input.substr(0, input.size() - 5) + ".reinit.onnx";
  }
  return input + ".reinit.onnx";
}

void AddReinitFlags(CLI::App& app, ReinitFlags& flags) {
  proto::Recipe& o = flags.options;
  app.add_option("input", flags.input, "The ONNX model to re-initialize (never modified); - reads it from stdin")
      ->required()
      ->check(CLI::Validator([](std::string& path) { return path == kStdio ? std::string() : CLI::ExistingFile(path); },
                             "FILE"));
  app.add_option("-o,--output", flags.output,
                 "Where to write the result (default: IN.reinit.onnx beside the input); - writes it to stdout")
      ->check(CLI::Validator([](std::string& path) { return path.empty() ? std::string("empty path") : std::string(); },
                             "PATH"));
  AddSchemeFlags(app, o, /*scheme_required=*/false);
  AddSettingFlag<std::string>(
      app, "--preset", [&o](const std::string& v) { o.set_preset(v); },
      "Initialize as a framework does, instead of --scheme: torch (reset_parameters), keras "
      "(glorot_uniform, zero biases, orthogonal recurrence, forget bias 1, U(+-0.05) embeddings), bert "
      "(N(0, 0.02) weights and embeddings, zero biases, norms 1/0), gpt2 (bert, and each block's attention "
      "output and MLP down projection N(0, 0.02/sqrt(2*n_layer)), blocks found in the graph), llama "
      "(N(0, 0.02), RMSNorm 1), megatron (N(0, sigma), each block's output layers N(0, sigma/sqrt(2*num_layers))), "
      "t5 (T5's per-projection factors from d_model, d_kv, n_heads and d_ff read in the graph). "
      "--rule still overrides it; --dry-run shows the rule behind each tensor");
  AddSettingFlag<double>(
      app, "--initializer-range", [&o](double v) { o.set_initializer_range(v); },
      "The std of --preset bert, gpt2, llama (their configs' initializer_range) and megatron "
      "(its --init-method-std); default 0.02");
  AddSettingFlag<std::vector<std::string>>(
      app, "--rule",
      [&o](const std::vector<std::string>& rules) {
        for (const std::string& rule : rules) o.add_rules(rule);
      },
      "PATTERN=SCHEME[:key=value,...] or PATTERN=keep, repeatable, first match wins; "
      "PATTERN is name:REGEX (the whole name of the tensor or of a node that reads it), "
      "op:OPTYPE, op:DOMAIN::OPTYPE or role:ROLE (e.g. role:bias=zeros, role:parameter=normal:std=0.02, "
      "name:.*head.*=normal:std=0.02); name: rules apply to tensors of any role");
  app.add_option("--recipe", flags.recipe,
                 "Read scheme, rules and options from a textproto file (proto/onnx_reinit/recipe.proto)")
      ->check(CLI::ExistingFile);
  AddSettingFlag<std::string>(
      app, "--bias", [&o](const std::string& v) { o.set_bias(v); },
      "Biases: zeros, or torch = U(+-1/sqrt(fan_in)) (default zeros)");
  AddSettingFlag<std::string>(
      app, "--embedding", [&o](const std::string& v) { o.set_embedding(v); },
      "Embedding tables: normal = N(0, 1) as PyTorch, or scheme (default normal)");
  AddSettingFlag<std::string>(
      app, "--rnn-recurrence", [&o](const std::string& v) { o.set_rnn_recurrence(v); },
      "RNN recurrence weights: orthogonal per gate, or scheme per gate (default orthogonal)");
  AddSettingFlag<double>(
      app, "--lstm-forget-bias", [&o](double v) { o.set_lstm_forget_bias(v); },
      "Set the LSTM forget-gate input bias to this value (e.g. 1); default: zeros like the rest");
  AddSettingFlag<std::string>(
      app, "--convtranspose-fan", [&o](const std::string& v) { o.set_convtranspose_fan(v); },
      "ConvTranspose fans: torch (fan_in from size(1), PyTorch's) or input_channels "
      "(default torch)");
  app.add_flag_callback(
      "--external-data", [&o] { o.set_external_data(true); },
      "Write tensors of at least --size-threshold bytes to OUT.onnx.data (4096-aligned)");
  AddSettingFlag<int64_t>(
      app, "--size-threshold", [&o](int64_t v) { o.set_size_threshold(v); },
      "Smallest tensor, in bytes, that --external-data moves out of the model")
      ->default_str("1024")
      ->check(CLI::NonNegativeNumber);
  app.add_flag_callback(
      "--embed", [&o] { o.set_embed(true); },
      "Bring external tensors into the model (it must fit protobuf's 2 GiB limit)");
  app.add_flag_callback(
      "--materialize", [&o] { o.set_materialize(true); },
      "Regenerate the values of a model written by onnx-reinit strip (its stored recipe, "
      "each tensor checked against its SHA-256); other weight-stripped tensors (no values, "
      "or a missing data file) get fresh values");
  app.add_flag("--fsync", flags.fsync,
               "Flush the outputs and their folder to disk before reporting success, so that they "
               "survive a power loss");
  app.add_flag_callback(
      "--requantize", [&o] { o.set_requantize(true); },
      "Give quantized weights (DequantizeLinear, QLinearConv, QLinearMatMul, MatMulNBits, ...) "
      "fresh values as integers with new scales, and recompute their int32 biases");
  app.add_flag_callback(
      "--dry-run", [&o] { o.set_dry_run(true); },
      "Print the plan - every tensor, role, fans, rule, distribution - and write nothing");
  AddSettingFlag<uint64_t>(
      app, "--seed", [&o](uint64_t v) { o.set_seed(v); },
      "Random seed; the same seed gives the same bytes for any --threads")
      ->default_str(std::to_string(kDefaultSeed))
      ->check(CLI::Validator(  // CLI11 would wrap "-1" around to 2^64 - 1
          [](std::string& text) {
            return text.rfind('-', 0) == 0 ? std::string("must be a non-negative integer") : std::string();
          },
          "UINT64"));
  AddSettingFlag<int>(
      app, "--threads", [&o](int v) { o.set_threads(v); }, "Fill threads; 0 = all cores")
      ->default_str("0")
      ->check(CLI::Range(0, 1024));
  AddSettingFlag<std::string>(
      app, "--only", [&o](const std::string& v) { o.set_only(v); },
      "Re-initialize only tensors whose name, or the name of a node that reads "
      "them, contains a match of this regex (RE2 syntax); tensors without a role default "
      "(parameter, other) it selects get the scheme");
  AddSettingFlag<std::string>(
      app, "--exclude", [&o](const std::string& v) { o.set_exclude(v); },
      "Leave tensors whose name, or the name of a node that reads them, contains "
      "a match of this regex unchanged");
  app.add_flag_callback(
      "--untie", [&o] { o.set_untie(true); },
      "Give readers of an exporter-merged tensor that need different values (one zero "
      "bias read as a Conv bias and as LayerNorm biases) their own copies; tied weights "
      "whose values differ stay tied");
  app.add_flag_callback(
      "--strict", [&o] { o.set_strict(true); },
      "Exit 2, writing nothing, when a rule takes no effect or no tensor is "
      "re-initialized");
  app.add_option("--report", flags.report,
                 "Also write a report of what changed, with statistics before and after: JSON, or "
                 "for FILE.html a self-contained HTML page with both side by side");
  app.add_flag("-q,--quiet", flags.quiet, "Print nothing but errors");
}

int RunReinit(const ReinitFlags& flags) {
  absl::StatusOr<RewriteOptions> options = OptionsFromFlags(flags);
  if (options.ok() && flags.input == kStdio && flags.output.empty()) {
    options = UsageError("the model comes from stdin (-): give -o OUT.onnx, or -o - for stdout");
  }
  if (options.ok() && flags.output == kStdio && options->layout == RewriteOptions::Layout::kExternal) {
    options = UsageError("-o -: --external-data writes a second file: give -o OUT.onnx");
  }
  if (!options.ok()) return ReportError(options.status(), CommandType::kAction);
  const absl::Status status = RunWithStdio(flags, *std::move(options));
  return status.ok() ? 0 : ReportError(status, CommandType::kAction);
}

}  // namespace onnx_reinit::cli
