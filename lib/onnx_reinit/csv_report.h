// The rows of a stats report as CSV (RFC 4180), for spreadsheets and pandas.
//
// One column per field of TensorStats, in the .proto's field order and with its names, so the
// columns are the --json document's: repeated numbers (shape) as "[8, 3, 3, 3]", a message field
// (histogram) as one column per subfield ("histogram.low", ...), an unset optional field as an
// empty cell. Numbers in full precision: the shortest decimal that reads back as the same double.
#ifndef ONNX_REINIT_CSV_REPORT_H_
#define ONNX_REINIT_CSV_REPORT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "onnx_reinit/stats.pb.h"

namespace onnx_reinit {

// The header line, then one line per tensor; lines end with CRLF, as RFC 4180 specifies.
std::string StatsReportToCsv(const proto::StatsReport& report);

// `cell` quoted when it holds a comma, a double quote, CR or LF (quotes doubled), else as is.
std::string CsvCell(absl::string_view cell);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_CSV_REPORT_H_
