#include "onnx_reinit/wire_format.h"

namespace onnx_reinit {

bool WireReader::ReadVarint(uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && position_ < end_; shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(*position_++);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  ok_ = false;
  return false;
}

bool WireReader::Next(WireField& field) {
  if (!ok_ || position_ == end_) return false;
  field.begin = position_;
  uint64_t tag;
  if (!ReadVarint(tag)) return false;
  field.number = static_cast<uint32_t>(tag >> 3);
  const uint64_t wire_type = tag & 7;
  field.value = nullptr;
  field.value_size = 0;
  switch (wire_type) {
    case 0: {
      uint64_t ignored;
      if (!ReadVarint(ignored)) return false;
      field.type = WireType::kVarint;
      break;
    }
    case 1:
    case 5: {
      const size_t width = wire_type == 1 ? 8 : 4;
      if (static_cast<size_t>(end_ - position_) < width) {
        ok_ = false;
        return false;
      }
      position_ += width;
      field.type = wire_type == 1 ? WireType::kFixed64 : WireType::kFixed32;
      break;
    }
    case 2: {
      uint64_t length;
      if (!ReadVarint(length)) return false;
      if (length > static_cast<uint64_t>(end_ - position_)) {
        ok_ = false;
        return false;
      }
      field.type = WireType::kLengthDelimited;
      field.value = position_;
      field.value_size = static_cast<size_t>(length);
      position_ += length;
      break;
    }
    default:  // groups (3, 4) are not used by onnx.proto; 6 and 7 do not exist
      ok_ = false;
      return false;
  }
  if (field.number == 0) {
    ok_ = false;
    return false;
  }
  field.end = position_;
  return true;
}

}  // namespace onnx_reinit
