// Renders a ReinitReport for people: an aligned table, one row per rewritten tensor.
#ifndef ONNX_REINIT_TOOLS_REPORT_PRINTER_H_
#define ONNX_REINIT_TOOLS_REPORT_PRINTER_H_

#include <string>

#include "onnx_reinit/report.pb.h"

namespace onnx_reinit::cli {

// Columns: tensor, op, shape, dtype, fan_in, fan_out, distribution. Ends with a newline; empty
// when the report has no tensors.
std::string FormatTensorTable(const proto::ReinitReport& report);

// "1,234,567"
std::string WithThousands(int64_t n);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_REPORT_PRINTER_H_
