#include "onnx_reinit/base/checked_math.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace onnx_reinit {

std::optional<int64_t> ShapeProduct(absl::Span<const int64_t> dims) {
  int64_t product = 1;
  for (int64_t dim : dims) {
    if (dim < 0) return std::nullopt;
    const std::optional<int64_t> next = CheckedMul(product, dim);
    if (!next || *next > kMaxElementCount) return std::nullopt;
    product = *next;
  }
  return product;
}

absl::StatusOr<int64_t> ElementCountOf(absl::Span<const int64_t> dims, absl::string_view name) {
  for (int64_t dim : dims) {
    if (dim < 0) {
      return absl::InvalidArgumentError(absl::StrFormat("tensor '%s' has a negative dimension (%d)", name, dim));
    }
  }
  const std::optional<int64_t> count = ShapeProduct(dims);
  if (!count) {
    return absl::InvalidArgumentError(absl::StrFormat("tensor '%s' has more than 2^59 elements", name));
  }
  return *count;
}

}  // namespace onnx_reinit
