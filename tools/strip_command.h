// onnx-reinit strip IN.onnx -o SMALL.onnx --scheme S [...]: the model without the values the recipe
// regenerates (strip.h); `onnx-reinit SMALL.onnx --materialize -o FULL.onnx` brings them back.
#ifndef ONNX_REINIT_TOOLS_STRIP_COMMAND_H_
#define ONNX_REINIT_TOOLS_STRIP_COMMAND_H_

#include "tools/reinit_command.h"

namespace onnx_reinit::cli {

// The flags of the re-initialization, which the stripped model records; returns the exit status
// (0 ok, 1 error, 2 bad flags).
int RunStrip(const ReinitFlags& flags);

// "dir/model.onnx" -> "dir/model.stripped.onnx".
std::string DefaultStrippedPath(const std::string& input);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_STRIP_COMMAND_H_
