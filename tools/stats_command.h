// onnx-reinit stats MODEL [--json|--csv] [--hist] [--spectral] [--html FILE] [--scheme S ...]: per-tensor statistics.
#ifndef ONNX_REINIT_TOOLS_STATS_COMMAND_H_
#define ONNX_REINIT_TOOLS_STATS_COMMAND_H_

#include <string>

#include "CLI/CLI.hpp"
#include "onnx_reinit/recipe.pb.h"
#include "onnx_reinit/stats.pb.h"

namespace onnx_reinit::cli {

struct StatsFlags {
  std::string model;
  bool json = false;
  bool csv = false;
  bool histogram = false;
  bool spectral = false;
  bool hash = false;  // --hash
  std::string html;   // write the HTML report there
  int threads = 0;
  proto::Recipe scheme;  // the scheme flags given (options.h)
};

void AddStatsFlags(CLI::App& app, StatsFlags& flags);

// Exit status: 0 ok, 1 error, 2 bad flag values.
int RunStats(const StatsFlags& flags);

// The human form of a report: an aligned table (shortened to `max_width` columns when non-zero)
// and a totals line.
std::string FormatStatsReport(const proto::StatsReport& report, size_t max_width);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_STATS_COMMAND_H_
