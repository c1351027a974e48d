// Typed access to the values of a floating-point onnx::TensorProto, wherever the model stores them.
//
// ONNX keeps float values in one of several fields (onnx.proto):
//   float32   raw_data (little-endian) or float_data
//   float64   raw_data or double_data
//   float16   raw_data or int32_data (one 16-bit pattern per int32)
//   bfloat16  raw_data or int32_data
// TensorValues binds to whichever field holds the values and writes back into that same field, so
// re-initializing never changes a tensor's encoding, nor its serialized length except for the varint
// int32_data field.
#ifndef ONNX_REINIT_TENSOR_DATA_H_
#define ONNX_REINIT_TENSOR_DATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"

namespace onnx_reinit {

enum class FloatType { kFloat32, kFloat64, kFloat16, kBFloat16 };

// The FloatType of an onnx::TensorProto::DataType value, or nullopt for integer, bool, string,
// complex and quantized types (which onnx-reinit never touches).
std::optional<FloatType> FloatTypeOf(int32_t onnx_data_type);
absl::string_view FloatTypeName(FloatType type);  // "float32", "float64", "float16", "bfloat16"
int ByteWidth(FloatType type);

// Whether this build's onnx.proto (libonnx 1.12) defines the data type: UNDEFINED through BFLOAT16.
// Newer ones (FLOAT8*, INT4, UINT4, FLOAT4E2M1, ...) are opaque to onnx-reinit: passed through
// unchanged, and refused only where a tensor of that type would be re-initialized.
bool IsKnownDataType(int32_t onnx_data_type);
// The ONNX name of a data type ("FLOAT", "FLOAT8E5M2"), newer ones included; the number for others.
std::string DataTypeName(int32_t onnx_data_type);
// Why the values of a tensor of a type !IsKnownDataType cannot be read: "data type FLOAT8E4M3FN
// (17) is newer than this build's ONNX library".
std::string NewerDataTypeReason(int32_t onnx_data_type);

enum class Storage { kRawData, kFloatData, kDoubleData, kInt32Data };
absl::string_view StorageName(Storage storage);  // the onnx.proto field name, e.g. "raw_data"

// IEEE binary16 and bfloat16 conversions; the narrowing ones round to nearest, ties to even.
uint16_t FloatToHalfBits(float value);
float HalfBitsToFloat(uint16_t bits);
uint16_t FloatToBFloat16Bits(float value);
float BFloat16BitsToFloat(uint16_t bits);

// `value` rounded to the nearest value of `type` (ties to even), returned as a double.
double RoundTo(FloatType type, double value);
// The neighbour of `value` (a value of `type`) in the direction of `target`.
double NextToward(FloatType type, double value, double target);

// The element count of `tensor`'s shape; an error for negative dims or a count over
// kMaxElementCount (2^59, checked_math.h).
absl::StatusOr<int64_t> ElementCount(const onnx::TensorProto& tensor, absl::string_view name);

// Polygraphy's `surgeon weight-strip` empties each stripped initializer's raw_data, sets its
// doc_string to "TRT_WEIGHTLESS/" ("TRT_WEIGHTLESS/SPARSE_2_4" when 2:4-sparse) and appends
// "TRT_WEIGHTLESS" to the model's doc_string.
inline constexpr absl::string_view kWeightlessMark = "TRT_WEIGHTLESS";
bool IsMarkedWeightless(const onnx::TensorProto& tensor);

// The bytes of a tensor's values kept outside its TensorProto, which then holds only the metadata:
// e.g. a range of a memory-mapped model file. The layout is raw_data's (little-endian), which is
// also that of packed float_data and double_data.
struct DetachedPayload {
  char* data = nullptr;
  int64_t size = 0;                     // in bytes
  Storage storage = Storage::kRawData;  // the field the bytes belong to
};

struct DetachedPayloads {
  std::unordered_map<const onnx::TensorProto*, DetachedPayload> by_tensor;
};

// A view over the values of one float tensor inside a TensorProto. Thread-compatible: concurrent
// Write/Read calls on disjoint index ranges are safe; the TensorProto must outlive the view and must
// not be modified through other means while the view is in use.
class TensorValues {
 public:
  // Binds to `tensor`'s values. Fails (naming `name`) for non-float types, external data (whose
  // bytes are not in the TensorProto: see BindDetached), or a payload whose size does not match the
  // shape.
  static absl::StatusOr<TensorValues> Bind(onnx::TensorProto& tensor, absl::string_view name);
  // Binds to `payload`, the detached values of `tensor` (whose dims and data_type describe them).
  static absl::StatusOr<TensorValues> BindDetached(const onnx::TensorProto& tensor, absl::string_view name,
                                                   const DetachedPayload& payload);

  FloatType type() const { return type_; }
  Storage storage() const { return storage_; }
  int64_t size() const { return count_; }
  // Whether both views are over the same values.
  bool SameTensor(const TensorValues& other) const { return data_ == other.data_; }
  // The first byte of the values (raw_data layout for raw, float and double storage).
  const void* data() const { return data_; }

  // Stores values[k] at element begin + k, rounding to the tensor's type (nearest, ties to even).
  void Write(int64_t begin, const double* values, int64_t n) const;
  // Stores values[0 .. n) at `out` (any alignment) as Write stores them at its element `begin`:
  // the tensor's own encoding, for writers that put new values somewhere else than the tensor.
  void Encode(const double* values, int64_t n, void* out) const;
  // Bytes per element in the bound field: ByteWidth(type()), or 4 for 16-bit values in int32_data.
  int StoredWidth() const;
  // Where element `index` is stored (what Encode writes there changes the tensor).
  char* ElementAddress(int64_t index) const { return static_cast<char*>(data_) + index * StoredWidth(); }
  // The same view over a copy of the values at `data` (e.g. the tensor's bytes in an output file).
  TensorValues Relocated(void* data) const { return TensorValues(type_, storage_, count_, data); }
  double Read(int64_t index) const;
  // Reads elements [begin, begin + n) into out[0 .. n).
  void Read(int64_t begin, int64_t n, double* out) const;

 private:
  TensorValues(FloatType type, Storage storage, int64_t count, void* data)
      : type_(type), storage_(storage), count_(count), data_(data) {}

  FloatType type_;
  Storage storage_;
  int64_t count_;
  void* data_;  // points into the TensorProto's field
};

// A view over `tensor`'s values: over its detached payload when `detached` has one, otherwise as
// TensorValues::Bind. Fails like Bind when the payload size does not match the shape.
absl::StatusOr<TensorValues> BindValues(onnx::TensorProto& tensor, absl::string_view name,
                                        const DetachedPayloads& detached);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_TENSOR_DATA_H_
