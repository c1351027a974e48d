// Walks protobuf wire format without building messages, to find where tensor payloads sit in a
// serialized model. Reference: https://protobuf.dev/programming-guides/encoding/
#ifndef ONNX_REINIT_BASE_WIRE_FORMAT_H_
#define ONNX_REINIT_BASE_WIRE_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace onnx_reinit {

enum class WireType { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kGroup = 3, kFixed32 = 5 };

// One field of a serialized message.
struct WireField {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  const char* begin = nullptr;  // the first byte of the tag
  const char* value = nullptr;  // a length-delimited field's payload (after the length)
  size_t value_size = 0;
  const char* end = nullptr;  // one past the field
};

// Reads the fields of one message from [begin, end). Thread-compatible; reads only.
class WireReader {
 public:
  WireReader(const char* begin, const char* end) : position_(begin), end_(end) {}

  // Reads the next field into `field`. Returns false at the end of the message, and also on
  // malformed input (then ok() is false): a bad varint, a length past the end, field number 0, an
  // end-group tag without its start, or wire type 6 or 7.
  //
  // A group (wire types 3 and 4, unused by onnx.proto) is one field of type kGroup spanning the
  // start tag to the matching end tag, so that callers keep it as an unknown field, as protobuf's
  // parser does: the walker accepts what protobuf accepts.
  bool Next(WireField& field);
  bool ok() const { return ok_; }

  // Groups nested deeper than this are malformed input. It matches protobuf's default recursion
  // limit, and bounds the walk on hostile input.
  static constexpr int kMaxGroupDepth = 100;

 private:
  bool ReadVarint(uint64_t& value);
  // Reads a tag; false (and ok() false) on a bad varint or field number 0.
  bool ReadTag(uint32_t& number, uint64_t& wire_type);
  // Skips a non-group value of `wire_type`; for a length-delimited one, sets its payload.
  bool SkipValue(uint64_t wire_type, const char*& value, size_t& value_size);
  // Skips the fields of the group `number` whose start tag was just read, through its end tag.
  bool SkipGroup(uint32_t number);

  const char* position_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_BASE_WIRE_FORMAT_H_
