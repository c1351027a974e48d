#include "tools/ops_command.h"

#include <iostream>

#include "onnx_reinit/json_output.h"
#include "onnx_reinit/op_table.h"
#include "tools/text_table.h"

namespace onnx_reinit::cli {

void AddOpsFlags(CLI::App& app, OpsFlags& flags) {
  auto* json = app.add_flag("--json", flags.json, "Print the table as JSON");
  app.add_flag("--markdown", flags.markdown, "Print the supported-ops list of docs/ops.md")->excludes(json);
}

int RunOps(const OpsFlags& flags) {
  if (flags.markdown) {
    std::cout << OpTableMarkdown();
    return 0;
  }
  const proto::OpTableListing listing = DescribeOpTable();
  if (flags.json) {
    std::cout << ToJson(listing);
    return 0;
  }
  TextTable table({{"domain"}, {"op"}, {"opsets"}, {"input"}, {"role"}, {"fans"}, {"parts"}, {"storage"}, {"note"}});
  for (const proto::OpTableInput& input : listing.inputs()) {
    table.AddRow({input.domain(), input.op_type(), input.opsets(), input.input(), input.role(), input.fans(),
                  input.parts(), input.storage(), input.note()});
  }
  std::cout << table.Render();
  return 0;
}

}  // namespace onnx_reinit::cli
