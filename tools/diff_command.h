// onnx-reinit diff A.onnx B.onnx: which tensors differ between two models.
#ifndef ONNX_REINIT_TOOLS_DIFF_COMMAND_H_
#define ONNX_REINIT_TOOLS_DIFF_COMMAND_H_

#include <string>

#include "CLI/CLI.hpp"

namespace onnx_reinit::cli {

struct DiffFlags {
  std::string model_a, model_b;
  bool json = false;
  int threads = 0;
};

void AddDiffFlags(CLI::App& app, DiffFlags& flags);

// Exit status as diff(1): 0 the tensors are identical, 1 they differ, 2 error.
int RunDiff(const DiffFlags& flags);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_DIFF_COMMAND_H_
