#include "tools/text_table.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace onnx_reinit::cli {
namespace {

size_t DisplayWidth(const std::string& text) {
  // Counts code points: every byte that is not a UTF-8 continuation byte.
  return std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; });
}

std::string ShortenMiddle(const std::string& text, size_t width) {
  if (DisplayWidth(text) <= width || width < 5) return text;
  const size_t keep = width - 3;
  return text.substr(0, keep - keep / 2) + "..." + text.substr(text.size() - keep / 2);
}

}  // namespace

std::string TextTable::Render(size_t max_width) const {
  if (rows_.empty()) return "";
  std::vector<std::vector<std::string>> lines = rows_;
  std::vector<std::string> header;
  for (const Column& column : columns_) header.push_back(column.title);
  lines.insert(lines.begin(), header);

  std::vector<size_t> width(columns_.size(), 0);
  for (const auto& line : lines) {
    for (size_t c = 0; c < columns_.size(); ++c) width[c] = std::max(width[c], DisplayWidth(line[c]));
  }
  size_t total = 2 * (columns_.size() - 1);
  for (size_t w : width) total += w;
  if (max_width > 0 && total > max_width) {
    const size_t first = std::max<size_t>(12, width[0] - std::min(width[0], total - max_width));
    for (auto& line : lines) line[0] = ShortenMiddle(line[0], first);
    width[0] = std::min(width[0], first);
  }

  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string padding(width[c] - std::min(width[c], DisplayWidth(line[c])), ' ');
      if (c > 0) text += "  ";
      text += columns_[c].right_aligned ? padding + line[c] : line[c] + padding;
    }
    text.erase(text.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, text, "\n");
  }
  return out;
}

size_t TerminalWidth() {
  struct winsize size;
  if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return 0;
}

std::string FormatNumber(double x) { return absl::StrFormat("%.4g", x); }

std::string WithThousands(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return n < 0 ? "-" + digits : digits;
}

std::string FormatShape(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace onnx_reinit::cli
