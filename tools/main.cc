// onnx-reinit: re-initializes the weights of an ONNX model, or inspects them (stats, verify, diff).
// Parsing only; the work is in lib/.
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/version.h"
#include "tools/exit_status.h"
#include "tools/diff_command.h"
#include "tools/ops_command.h"
#include "tools/reinit_command.h"
#include "tools/stats_command.h"
#include "tools/strip_command.h"
#include "tools/verify_command.h"

namespace {

// Parses argv into `flags` with `add_flags`, then runs `run`. Flag errors are usage errors.
template <typename Flags>
int ParseAndRun(const std::string& description, const std::string& examples, int argc, char** argv,
                void (*add_flags)(CLI::App&, Flags&), int (*run)(const Flags&)) {
  CLI::App app(description);
  app.get_formatter()->column_width(30);
  app.set_version_flag("--version", std::string("onnx-reinit ") + onnx_reinit::kVersion,
                       "Print the version (onnx-reinit X.Y.Z) and exit");
  app.footer("Examples:\n" + examples + "\nSee also: man onnx-reinit");
  Flags flags;
  add_flags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    return ReportError(onnx_reinit::UsageError(std::string(e.what()) + " (see --help)"),
                       onnx_reinit::cli::CommandType::kAction);
  }
  return run(flags);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace onnx_reinit::cli;
  const std::string command = argc > 1 ? argv[1] : "";
  // Subcommands see their name as argv[0], so "onnx-reinit stats --help" reads naturally.
  if (command == "stats") {
    return ParseAndRun<StatsFlags>(
        "Per-tensor statistics of every floating-point constant of a model.",
        "  onnx-reinit stats model.onnx                   # one row per tensor\n"
        "  onnx-reinit stats model.onnx --scheme he --hist  # each weight's std against He's\n"
        "  onnx-reinit stats model.onnx --json > stats.json\n",
        argc - 1, argv + 1, AddStatsFlags, RunStats);
  }
  if (command == "verify") {
    return ParseAndRun<VerifyFlags>(
        "Exit 0 when every weight's std and mean fit the scheme, 1 when some do not, 2 on error.",
        "  onnx-reinit verify model.reinit.onnx --scheme he        # a CI gate\n"
        "  onnx-reinit verify model.onnx --scheme normal --std 0.02 --json\n",
        argc - 1, argv + 1, AddVerifyFlags, RunVerify);
  }
  if (command == "diff") {
    return ParseAndRun<DiffFlags>("Which tensors differ between two models. Exit 0 identical, 1 different, 2 error.",
                                  "  onnx-reinit diff model.onnx model.reinit.onnx\n"
                                  "  onnx-reinit diff a.onnx b.onnx --json\n",
                                  argc - 1, argv + 1, AddDiffFlags, RunDiff);
  }
  if (command == "strip") {
    return ParseAndRun<ReinitFlags>(
        "Writes the model without the values the recipe re-initializes (marked as Polygraphy's\n"
        "weight-strip marks them), with the recipe and each tensor's SHA-256 in its metadata;\n"
        "onnx-reinit SMALL.onnx --materialize -o FULL.onnx regenerates them bit for bit.",
        "  onnx-reinit strip model.onnx --scheme he --seed 7 -o small.onnx\n"
        "  onnx-reinit small.onnx --materialize -o full.onnx   # = onnx-reinit model.onnx --scheme he --seed 7\n",
        argc - 1, argv + 1, AddReinitFlags, RunStrip);
  }
  if (command == "ops") {
    return ParseAndRun<OpsFlags>(
        "The ops onnx-reinit knows: per input, its role, the layout its fans are read from, its parts\n"
        "and how it is stored. A constant read by an op not listed here is left unchanged, named.",
        "  onnx-reinit ops\n"
        "  onnx-reinit ops --json | jq '.inputs[] | select(.domain == \"com.microsoft\")'\n",
        argc - 1, argv + 1, AddOpsFlags, RunOps);
  }
  return ParseAndRun<ReinitFlags>(
      "Re-initializes the tensors of an ONNX model by role - weights with a fan-aware scheme,\n"
      "biases, norms, embeddings and RNN tensors with their defaults or --rule overrides - and\n"
      "writes a new model with everything else unchanged.\n"
      "Other commands: onnx-reinit strip|stats|verify|diff|ops ... (each with --help)",
      "  onnx-reinit model.onnx --scheme he                      # writes model.reinit.onnx\n"
      "  onnx-reinit model.onnx --scheme kaiming_uniform --seed 7 -o out.onnx\n"
      "  onnx-reinit model.onnx --scheme he --rule 'name:.*head.*=normal:std=0.02' --dry-run\n"
      "  onnx-reinit vit.onnx --scheme he --bias torch --untie --rule role:parameter=normal:std=0.02\n"
      "  onnx-reinit vit.onnx --scheme he --only mlp --strict        # mlp weights by their node names\n"
      "  onnx-reinit model.onnx --recipe ci.textproto --report report.json\n"
      "  curl -s URL/model.onnx | onnx-reinit - --scheme xavier -o - > out.onnx\n",
      argc, argv, AddReinitFlags, RunReinit);
}
