// onnx-reinit verify MODEL... --scheme S [--tolerance T] [--format F] [--junit FILE]: are the
// weights freshly initialized with S?
#ifndef ONNX_REINIT_TOOLS_VERIFY_COMMAND_H_
#define ONNX_REINIT_TOOLS_VERIFY_COMMAND_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "onnx_reinit/recipe.pb.h"

namespace onnx_reinit::cli {

struct VerifyFlags {
  std::vector<std::string> models;
  double tolerance = 0;
  std::string format = "text";  // text, json (--json) or github
  std::string junit;            // JUnit XML path; empty for none
  bool spectral = false;
  int threads = 0;
  proto::Recipe scheme;  // the scheme flags given (options.h), or --preset and --initializer-range
  CLI::Option* tolerance_flag = nullptr;
};

void AddVerifyFlags(CLI::App& app, VerifyFlags& flags);

// Exit status: 0 every model's weights fit the scheme (or each tensor the preset's distribution for it), 1 some do not
// (or a model has no weight it could check), 2 error.
int RunVerify(const VerifyFlags& flags);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_VERIFY_COMMAND_H_
