#include "tools/report_printer.h"

#include <algorithm>
#include <array>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/scheme.h"

namespace onnx_reinit::cli {
namespace {

constexpr int kColumns = 7;
using Row = std::array<std::string, kColumns>;
// Numeric columns are right-aligned.
constexpr std::array<bool, kColumns> kRightAligned = {false, false, false, false, true, true, false};

Row RowFor(const proto::TensorRecord& t) {
  return {t.name(),
          t.op_type(),
          absl::StrCat("[", absl::StrJoin(t.shape(), ", "), "]"),
          t.dtype(),
          absl::StrCat(t.fan_in()),
          absl::StrCat(t.fan_out()),
          DescribeDistribution(t.distribution())};
}

}  // namespace

std::string FormatTensorTable(const proto::ReinitReport& report) {
  if (report.tensors().empty()) return "";
  std::vector<Row> rows = {{"tensor", "op", "shape", "dtype", "fan_in", "fan_out", "distribution"}};
  for (const proto::TensorRecord& tensor : report.tensors()) rows.push_back(RowFor(tensor));
  std::array<size_t, kColumns> width{};
  for (const Row& row : rows) {
    for (int c = 0; c < kColumns; ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (int c = 0; c < kColumns; ++c) {
      const std::string padding(width[c] - row[c].size(), ' ');
      if (c > 0) line += "  ";
      line += kRightAligned[c] ? padding + row[c] : row[c] + padding;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string WithThousands(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return n < 0 ? "-" + digits : digits;
}

}  // namespace onnx_reinit::cli
