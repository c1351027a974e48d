// Plain-text output helpers: aligned tables and compact number formats.
#ifndef ONNX_REINIT_TOOLS_TEXT_TABLE_H_
#define ONNX_REINIT_TOOLS_TEXT_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "google/protobuf/repeated_field.h"
#include "onnx_reinit/byte_size.h"

namespace onnx_reinit::cli {

// Columns separated by two spaces, each as wide as its widest cell (counted in UTF-8 code points).
// Numeric columns are right-aligned. When `max_width` is set and the table is wider, the cells of
// the first column are shortened in the middle ("conv1...weight") to fit.
class TextTable {
 public:
  struct Column {
    std::string title;
    bool right_aligned = false;
  };
  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  // The table with a header line; every line ends with a newline. Empty when there are no rows.
  std::string Render(size_t max_width = 0) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// The width of the terminal on stdout, or 0 when stdout is not a terminal (no shortening).
size_t TerminalWidth();

std::string FormatNumber(double x);    // 4 significant digits: "0.2722", "1.2e-05"
std::string WithThousands(int64_t n);  // "1,234,567"
std::string FormatShape(const google::protobuf::RepeatedField<int64_t>& shape);  // "[8, 3, 3, 3]"

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_TEXT_TABLE_H_
