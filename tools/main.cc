// onnx-reinit: re-initializes the weights of an ONNX model, or inspects them (stats, verify, diff).
// Parsing only; the work is in lib/.
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/diff_command.h"
#include "tools/reinit_command.h"
#include "tools/stats_command.h"
#include "tools/verify_command.h"

namespace {

// Parses argv into `flags` with `add_flags`, then runs `run`. Usage errors are one line and exit 2.
template <typename Flags>
int ParseAndRun(const std::string& description, int argc, char** argv,
                void (*add_flags)(CLI::App&, Flags&), int (*run)(const Flags&)) {
  CLI::App app(description);
  app.get_formatter()->column_width(30);
  Flags flags;
  add_flags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    std::cerr << "onnx-reinit: error: " << e.what() << " (see --help)\n";
    return 2;  // usage errors exit 2, as in grep and diff
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
        "Per-tensor statistics of every floating-point constant of a model.", argc - 1, argv + 1,
        AddStatsFlags, RunStats);
  }
  if (command == "verify") {
    return ParseAndRun<VerifyFlags>(
        "Exit 0 when every weight's std and mean fit the scheme, 1 when some do not, 2 on error.",
        argc - 1, argv + 1, AddVerifyFlags, RunVerify);
  }
  if (command == "diff") {
    return ParseAndRun<DiffFlags>(
        "Which tensors differ between two models. Exit 0 identical, 1 different, 2 error.",
        argc - 1, argv + 1, AddDiffFlags, RunDiff);
  }
  return ParseAndRun<ReinitFlags>(
      "Re-initializes the tensors of an ONNX model by role - weights with a fan-aware scheme,\n"
      "biases, norms, embeddings and RNN tensors with their defaults or --rule overrides - and\n"
      "writes a new model with everything else unchanged.\n"
      "Other commands: onnx-reinit stats|verify|diff ... (each with --help)",
      argc, argv, AddReinitFlags, RunReinit);
}
