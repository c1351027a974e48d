#include "onnx_reinit/byte_size.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace onnx_reinit {

std::string FormatBytes(int64_t n) {
  if (n < 1024) return absl::StrCat(n, " B");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(n);
  int unit = -1;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.3g %s", value, units[unit]);
}

}  // namespace onnx_reinit
