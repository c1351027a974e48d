// onnx-reinit ops [--json|--markdown]: the op table (op_table.h), what onnx-reinit knows of each op.
#ifndef ONNX_REINIT_TOOLS_OPS_COMMAND_H_
#define ONNX_REINIT_TOOLS_OPS_COMMAND_H_

#include "CLI/CLI.hpp"

namespace onnx_reinit::cli {

struct OpsFlags {
  bool json = false;
  bool markdown = false;  // the README's "Supported ops" list
};

void AddOpsFlags(CLI::App& app, OpsFlags& flags);

// Exit status: 0.
int RunOps(const OpsFlags& flags);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_OPS_COMMAND_H_
