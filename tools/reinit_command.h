// The re-initialization command: onnx-reinit IN.onnx --scheme S [-o OUT.onnx] [--rule ...] ...
#ifndef ONNX_REINIT_TOOLS_REINIT_COMMAND_H_
#define ONNX_REINIT_TOOLS_REINIT_COMMAND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "tools/scheme_flags.h"

namespace onnx_reinit::cli {

struct ReinitFlags {
  std::string input;
  std::string output;  // default: IN.reinit.onnx beside the input
  uint64_t seed = 0;
  int threads = 0;
  std::string only, exclude;  // ECMAScript regexes searched in tensor names
  std::vector<std::string> rules;
  std::string recipe;  // textproto path
  std::string bias, embedding, rnn_recurrence, convtranspose_fan;
  double lstm_forget_bias = 1;
  bool external_data = false, embed = false, materialize = false;
  int64_t size_threshold = 1024;
  bool dry_run = false;
  std::string report;  // JSON report path; empty for none
  bool quiet = false;
  SchemeFlags scheme;
  // Set by AddReinitFlags: whether a flag was given, so that it can win over the recipe.
  CLI::Option *seed_flag = nullptr, *lstm_forget_bias_flag = nullptr;
};

void AddReinitFlags(CLI::App& app, ReinitFlags& flags);

// Runs the command; returns the process exit status: 0 ok, 1 error, 2 bad flag values. Errors go to
// stderr as one line.
int RunReinit(const ReinitFlags& flags);

// "dir/model.onnx" -> "dir/model.reinit.onnx"; names without ".onnx" get ".reinit.onnx" appended.
std::string DefaultOutputPath(const std::string& input);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_REINIT_COMMAND_H_
