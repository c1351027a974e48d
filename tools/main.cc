// onnx-reinit: re-initializes the weights of an ONNX model. Parsing only; the work is in lib/.
#include <iostream>

#include "CLI/CLI.hpp"
#include "tools/reinit_command.h"

int main(int argc, char** argv) {
  CLI::App app(
      "Re-initializes the weights of an ONNX model (Conv, ConvTranspose, Gemm, MatMul) with a\n"
      "fan-aware scheme, and writes a new model with everything else unchanged.");
  app.get_formatter()->column_width(30);
  onnx_reinit::cli::ReinitFlags flags;
  onnx_reinit::cli::AddReinitFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    std::cerr << "onnx-reinit: error: " << e.what() << " (see --help)\n";
    return 2;  // usage errors exit 2, as in grep and diff
  }
  return onnx_reinit::cli::RunReinit(flags);
}
