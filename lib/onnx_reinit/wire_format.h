// Walks protobuf wire format without building messages, to find where tensor payloads sit in a
// serialized model. Reference: https://protobuf.dev/programming-guides/encoding/
#ifndef ONNX_REINIT_WIRE_FORMAT_H_
#define ONNX_REINIT_WIRE_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace onnx_reinit {

enum class WireType { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// One field of a serialized message.
struct WireField {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  const char* begin = nullptr;  // the first byte of the tag
  const char* value = nullptr;  // a length-delimited field's payload (after the length)
  size_t value_size = 0;
  const char* end = nullptr;    // one past the field
};

// Reads the fields of one message from [begin, end). Thread-compatible; reads only.
class WireReader {
 public:
  WireReader(const char* begin, const char* end) : position_(begin), end_(end) {}

  // Reads the next field into `field`. Returns false at the end of the message, and also on
  // malformed input (then ok() is false): a bad varint, a length past the end, a group, or an
  // unknown wire type.
  bool Next(WireField& field);
  bool ok() const { return ok_; }

 private:
  bool ReadVarint(uint64_t& value);

  const char* position_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_WIRE_FORMAT_H_
