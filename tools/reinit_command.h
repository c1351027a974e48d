// The re-initialization command: onnx-reinit IN.onnx --scheme S [-o OUT.onnx] [--rule ...] ...
#ifndef ONNX_REINIT_TOOLS_REINIT_COMMAND_H_
#define ONNX_REINIT_TOOLS_REINIT_COMMAND_H_

#include <string>

#include "CLI/CLI.hpp"
#include "onnx_reinit/recipe.pb.h"

namespace onnx_reinit::cli {

struct ReinitFlags {
  std::string input;
  std::string output;  // default: IN.reinit.onnx beside the input
  std::string recipe;  // textproto path
  std::string report;  // JSON report path; empty for none
  bool quiet = false;
  bool fsync = false;  // durable outputs (OutputOptions::fsync)
  // The options given as flags, which win over the recipe's (options.h reads both).
  proto::Recipe options;
};

void AddReinitFlags(CLI::App& app, ReinitFlags& flags);

// Runs the command; returns the process exit status: 0 ok, 1 error, 2 bad flag values. Errors go to
// stderr as one line.
int RunReinit(const ReinitFlags& flags);

// "dir/model.onnx" -> "dir/model.reinit.onnx"; names without ".onnx" get ".reinit.onnx" appended.
std::string DefaultOutputPath(const std::string& input);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_REINIT_COMMAND_H_
