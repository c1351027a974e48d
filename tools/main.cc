// onnx-reinit: re-initializes the weights of an ONNX model. Parsing only; the work is in lib/.
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
    const int status = app.exit(e);
    return status == 0 ? 0 : 2;  // usage errors exit 2, as in grep and diff
  }
  return onnx_reinit::cli::RunReinit(flags);
}
