#include "onnx_reinit/tensor_data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/base/checked_math.h"

namespace onnx_reinit {
namespace {

static_assert(sizeof(float) == 4 && sizeof(double) == 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw_data is little-endian; onnx-reinit writes it with host byte order"
#endif

uint32_t FloatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float BitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint16_t EncodeHalfLike(FloatType type, double value) {
  const float narrowed = static_cast<float>(value);
  return type == FloatType::kFloat16 ? FloatToHalfBits(narrowed) : FloatToBFloat16Bits(narrowed);
}

double DecodeHalfLike(FloatType type, uint16_t bits) {
  return type == FloatType::kFloat16 ? HalfBitsToFloat(bits) : BFloat16BitsToFloat(bits);
}

// Sign-magnitude neighbour of a 16-bit pattern, one step up (+1) or down (-1) the real line.
uint16_t StepHalfLike(uint16_t bits, int direction) {
  const bool negative = bits & 0x8000;
  const uint16_t magnitude = bits & 0x7fff;
  if (magnitude == 0) return direction > 0 ? 0x0001 : 0x8001;
  const bool away_from_zero = (direction > 0) != negative;
  return away_from_zero ? bits + 1 : bits - 1;
}

}  // namespace

std::optional<FloatType> FloatTypeOf(int32_t onnx_data_type) {
  switch (onnx_data_type) {
    case onnx::TensorProto::FLOAT: return FloatType::kFloat32;
    case onnx::TensorProto::DOUBLE: return FloatType::kFloat64;
    case onnx::TensorProto::FLOAT16: return FloatType::kFloat16;
    case onnx::TensorProto::BFLOAT16: return FloatType::kBFloat16;
    default: return std::nullopt;
  }
}

bool IsKnownDataType(int32_t onnx_data_type) { return onnx::TensorProto::DataType_IsValid(onnx_data_type); }

std::string DataTypeName(int32_t onnx_data_type) {
  if (IsKnownDataType(onnx_data_type)) {
    return onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(onnx_data_type));
  }
  // Added to onnx.proto after libonnx 1.12 (ONNX 1.14 to 1.18).
  static constexpr const char* kNewer[] = {"FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ",
                                           "UINT4",        "INT4",           "FLOAT4E2M1"};
  constexpr int32_t kFirstNewer = 17;
  const int32_t newer = onnx_data_type - kFirstNewer;
  if (newer >= 0 && newer < static_cast<int32_t>(std::size(kNewer))) return kNewer[newer];
  return std::to_string(onnx_data_type);
}

std::string NewerDataTypeReason(int32_t onnx_data_type) {
  return absl::StrFormat("data type %s (%d) is newer than this build's ONNX library", DataTypeName(onnx_data_type),
                         onnx_data_type);
}

absl::string_view FloatTypeName(FloatType type) {
  switch (type) {
    case FloatType::kFloat32: return "float32";
    case FloatType::kFloat64: return "float64";
    case FloatType::kFloat16: return "float16";
    case FloatType::kBFloat16: return "bfloat16";
  }
  return "?";
}

int ByteWidth(FloatType type) {
  switch (type) {
    case FloatType::kFloat32: return 4;
    case FloatType::kFloat64: return 8;
    case FloatType::kFloat16:
    case FloatType::kBFloat16: return 2;
  }
  return 0;
}

absl::string_view StorageName(Storage storage) {
  switch (storage) {
    case Storage::kRawData: return "raw_data";
    case Storage::kFloatData: return "float_data";
    case Storage::kDoubleData: return "double_data";
    case Storage::kInt32Data: return "int32_data";
  }
  return "?";
}

// Round-to-nearest-even float -> binary16, including subnormals, overflow to infinity, and NaN.
uint16_t FloatToHalfBits(float value) {
  const uint32_t bits = FloatBits(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) {  // Inf or NaN
    return sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 : 0);
  }
  if (magnitude >= 0x477ff000) return sign | 0x7c00;  // rounds to >= 65520: infinity
  if (magnitude < 0x38800000) {                       // below 2^-14: a binary16 subnormal (or zero)
    // Align the value to a fixed point with 2^-24 units, rounding to nearest even.
    const float scaled = BitsToFloat(magnitude) * 0x1p24f;  // exact: a power-of-two scale
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 23-bit mantissa to 10 bits.
  uint32_t half = magnitude - ((127 - 15) << 23);
  const uint32_t remainder = half & 0x1fff;
  half >>= 13;
  if (remainder > 0x1000 || (remainder == 0x1000 && (half & 1))) ++half;
  return sign | static_cast<uint16_t>(half);
}

float HalfBitsToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1f;
  const uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0) {
    const float value = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -value : value;
  }
  if (exponent == 0x1f) return BitsToFloat(sign | 0x7f800000 | (mantissa << 13));
  return BitsToFloat(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

uint16_t FloatToBFloat16Bits(float value) {
  const uint32_t bits = FloatBits(value);
  if ((bits & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN
  const uint32_t rounding_bias = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding_bias) >> 16);
}

float BFloat16BitsToFloat(uint16_t bits) { return BitsToFloat(static_cast<uint32_t>(bits) << 16); }

double RoundTo(FloatType type, double value) {
  switch (type) {
    case FloatType::kFloat64: return value;
    case FloatType::kFloat32: return static_cast<float>(value);
    case FloatType::kFloat16:
    case FloatType::kBFloat16: return DecodeHalfLike(type, EncodeHalfLike(type, value));
  }
  return value;
}

double NextToward(FloatType type, double value, double target) {
  if (value == target) return value;
  switch (type) {
    case FloatType::kFloat64: return std::nextafter(value, target);
    case FloatType::kFloat32: return std::nextafter(static_cast<float>(value), static_cast<float>(target));
    case FloatType::kFloat16:
    case FloatType::kBFloat16:
      return DecodeHalfLike(type, StepHalfLike(EncodeHalfLike(type, value), target > value ? 1 : -1));
  }
  return value;
}

absl::StatusOr<int64_t> ElementCount(const onnx::TensorProto& tensor, absl::string_view name) {
  return ElementCountOf(tensor.dims(), name);
}

namespace {

// The tensor's float type and element count, or why its values cannot be bound.
absl::StatusOr<std::pair<FloatType, int64_t>> CheckBindable(const onnx::TensorProto& tensor, absl::string_view name,
                                                            bool detached) {
  const std::optional<FloatType> type = FloatTypeOf(tensor.data_type());
  if (!type) {
    return absl::FailedPreconditionError(
        absl::StrFormat("tensor '%s' is not floating-point (data_type %d)", name, tensor.data_type()));
  }
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL && !detached) {
    return absl::FailedPreconditionError(
        absl::StrFormat("tensor '%s' keeps its values in an external data file, which was not opened (open the "
                        "model with MappedModel or ReinitializeFile)",
                        name));
  }
  auto count = ElementCount(tensor, name);
  if (!count.ok()) return count.status();
  return std::make_pair(*type, *count);
}

absl::Status SizeMismatch(const onnx::TensorProto& tensor, absl::string_view name, Storage storage, int64_t have,
                          int64_t want) {
  std::string message =
      absl::StrFormat("tensor '%s': %s holds %d %s but its shape needs %d", name, StorageName(storage), have,
                      storage == Storage::kRawData ? "bytes" : "values", want);
  if (have == 0 && want > 0) {  // what tools that strip weights leave behind
    absl::StrAppend(&message,
                    IsMarkedWeightless(tensor) ? " (marked TRT_WEIGHTLESS: its weights were stripped)"
                                               : " (its weights look stripped)",
                    "; --materialize gives such tensors fresh values");
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace

bool IsMarkedWeightless(const onnx::TensorProto& tensor) {
  return absl::StartsWith(tensor.doc_string(), kWeightlessMark);
}

absl::StatusOr<TensorValues> TensorValues::BindDetached(const onnx::TensorProto& tensor, absl::string_view name,
                                                        const DetachedPayload& payload) {
  auto checked = CheckBindable(tensor, name, /*detached=*/true);
  if (!checked.ok()) return checked.status();
  const auto [type, count] = *checked;
  const int64_t width = ByteWidth(type);
  if (payload.size != count * width) {
    return payload.storage == Storage::kRawData
               ? SizeMismatch(tensor, name, payload.storage, payload.size, count * width)
               : SizeMismatch(tensor, name, payload.storage, payload.size / width, count);
  }
  return TensorValues(type, payload.storage, count, payload.data);
}

absl::StatusOr<TensorValues> TensorValues::Bind(onnx::TensorProto& tensor, absl::string_view name) {
  auto checked = CheckBindable(tensor, name, /*detached=*/false);
  if (!checked.ok()) return checked.status();
  const auto [type, count] = *checked;
  if (tensor.has_raw_data()) {
    const int64_t want = count * ByteWidth(type);
    std::string* raw = tensor.mutable_raw_data();
    const int64_t have = static_cast<int64_t>(raw->size());
    if (have != want) return SizeMismatch(tensor, name, Storage::kRawData, have, want);
    return TensorValues(type, Storage::kRawData, count, raw->data());
  }
  // The typed field of each type; a tensor with no values at all also lands here.
  // Structured bindings are captured by init-capture: capturing them directly is C++20.
  auto bind_field = [&, type = type, count = count](auto* field, Storage storage) -> absl::StatusOr<TensorValues> {
    if (field->size() != count) return SizeMismatch(tensor, name, storage, field->size(), count);
    return TensorValues(type, storage, count, field->mutable_data());
  };
  switch (type) {
    case FloatType::kFloat32: return bind_field(tensor.mutable_float_data(), Storage::kFloatData);
    case FloatType::kFloat64: return bind_field(tensor.mutable_double_data(), Storage::kDoubleData);
    case FloatType::kFloat16:
    case FloatType::kBFloat16: return bind_field(tensor.mutable_int32_data(), Storage::kInt32Data);
  }
  return absl::InternalError("unreachable");
}

int TensorValues::StoredWidth() const { return storage_ == Storage::kInt32Data ? 4 : ByteWidth(type_); }

void TensorValues::Write(int64_t begin, const double* values, int64_t n) const {
  Encode(values, n, ElementAddress(begin));
}

void TensorValues::Encode(const double* values, int64_t n, void* out) const {
  char* const bytes = static_cast<char*>(out);
  switch (type_) {
    case FloatType::kFloat32: {
      // Converted in a local block (a vectorized loop), then copied: `out` may be unaligned.
      constexpr int64_t kBlock = 256;
      float block[kBlock];
      for (int64_t done = 0; done < n; done += kBlock) {
        const int64_t count = std::min(kBlock, n - done);
        for (int64_t k = 0; k < count; ++k) block[k] = static_cast<float>(values[done + k]);
        std::memcpy(bytes + 4 * done, block, static_cast<size_t>(count) * 4);
      }
      return;
    }
    case FloatType::kFloat64: std::memcpy(bytes, values, static_cast<size_t>(n) * 8); return;
    case FloatType::kFloat16:
    case FloatType::kBFloat16:
      for (int64_t k = 0; k < n; ++k) {
        const uint16_t bits = EncodeHalfLike(type_, values[k]);
        if (storage_ == Storage::kRawData) {
          std::memcpy(bytes + 2 * k, &bits, 2);
        } else {
          const int32_t word = bits;
          std::memcpy(bytes + 4 * k, &word, 4);
        }
      }
      return;
  }
}

void TensorValues::Read(int64_t begin, int64_t n, double* out) const {
  const char* bytes = static_cast<const char*>(data_);
  switch (type_) {
    case FloatType::kFloat32:
      for (int64_t k = 0; k < n; ++k) {
        float value;
        std::memcpy(&value, bytes + 4 * (begin + k), 4);
        out[k] = value;
      }
      return;
    case FloatType::kFloat64: std::memcpy(out, bytes + 8 * begin, static_cast<size_t>(n) * 8); return;
    case FloatType::kFloat16:
    case FloatType::kBFloat16:
      for (int64_t k = 0; k < n; ++k) out[k] = Read(begin + k);
      return;
  }
}

absl::StatusOr<TensorValues> BindValues(onnx::TensorProto& tensor, absl::string_view name,
                                        const DetachedPayloads& detached) {
  auto payload = detached.by_tensor.find(&tensor);
  if (payload == detached.by_tensor.end()) return TensorValues::Bind(tensor, name);
  return TensorValues::BindDetached(tensor, name, payload->second);
}

double TensorValues::Read(int64_t index) const {
  switch (type_) {
    case FloatType::kFloat32: {
      float value;
      std::memcpy(&value, static_cast<const char*>(data_) + 4 * index, 4);
      return value;
    }
    case FloatType::kFloat64: {
      double value;
      std::memcpy(&value, static_cast<const char*>(data_) + 8 * index, 8);
      return value;
    }
    case FloatType::kFloat16:
    case FloatType::kBFloat16: {
      uint16_t bits;
      if (storage_ == Storage::kRawData) {
        std::memcpy(&bits, static_cast<const char*>(data_) + 2 * index, 2);
      } else {
        bits = static_cast<uint16_t>(static_cast<const int32_t*>(data_)[index]);
      }
      return DecodeHalfLike(type_, bits);
    }
  }
  return 0;
}

}  // namespace onnx_reinit
