// Overflow-checked arithmetic for the sizes a model file states: dims, element counts, byte sizes
// and offsets. A malformed file can hold any int64 in those fields, and a wrapped product would size
// a buffer or an index wrongly, so every such product and sum in the library goes through here.
#ifndef ONNX_REINIT_BASE_CHECKED_MATH_H_
#define ONNX_REINIT_BASE_CHECKED_MATH_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace onnx_reinit {

// The most elements one tensor may have: 2^59, so that its byte size (at most 8 bytes per element)
// stays under 2^62 and the sum of an offset and a size under 2^63.
inline constexpr int64_t kMaxElementCount = int64_t{1} << 59;

// a * b and a + b, or nullopt when the result does not fit in int64.
inline std::optional<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t result;
  if (__builtin_mul_overflow(a, b, &result)) return std::nullopt;
  return result;
}
inline std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t result;
  if (__builtin_add_overflow(a, b, &result)) return std::nullopt;
  return result;
}

// The product of `dims`, or nullopt when a dim is negative or the product exceeds kMaxElementCount.
std::optional<int64_t> ShapeProduct(absl::Span<const int64_t> dims);

// ShapeProduct as an InvalidArgument error naming tensor `name`: "tensor 'w' has a negative
// dimension (-3)", "tensor 'w' has more than 2^59 elements".
absl::StatusOr<int64_t> ElementCountOf(absl::Span<const int64_t> dims, absl::string_view name);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_BASE_CHECKED_MATH_H_
