#include "onnx_reinit/base/wire_format.h"

namespace onnx_reinit {
namespace {

constexpr uint64_t kVarintWire = 0;
constexpr uint64_t kFixed64Wire = 1;
constexpr uint64_t kLengthDelimitedWire = 2;
constexpr uint64_t kStartGroupWire = 3;
constexpr uint64_t kEndGroupWire = 4;
constexpr uint64_t kFixed32Wire = 5;

}  // namespace

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

bool WireReader::ReadTag(uint32_t& number, uint64_t& wire_type) {
  uint64_t tag;
  if (!ReadVarint(tag)) return false;
  number = static_cast<uint32_t>(tag >> 3);
  wire_type = tag & 7;
  if (number == 0) ok_ = false;
  return ok_;
}

bool WireReader::SkipValue(uint64_t wire_type, const char*& value, size_t& value_size) {
  switch (wire_type) {
    case kVarintWire: {
      uint64_t ignored;
      return ReadVarint(ignored);
    }
    case kFixed64Wire:
    case kFixed32Wire: {
      const size_t width = wire_type == kFixed64Wire ? 8 : 4;
      if (static_cast<size_t>(end_ - position_) < width) break;
      position_ += width;
      return true;
    }
    case kLengthDelimitedWire: {
      uint64_t length;
      if (!ReadVarint(length)) return false;
      if (length > static_cast<uint64_t>(end_ - position_)) break;
      value = position_;
      value_size = static_cast<size_t>(length);
      position_ += length;
      return true;
    }
    default:  // an end-group tag outside its group, or wire types 6 and 7, which do not exist
      break;
  }
  ok_ = false;
  return false;
}

bool WireReader::SkipGroup(uint32_t number) {
  // Open groups' field numbers, innermost last: each end tag must close the innermost one.
  uint32_t open_groups[kMaxGroupDepth];
  int depth = 0;
  open_groups[depth++] = number;
  while (depth > 0) {
    uint32_t inner;
    uint64_t wire_type;
    if (!ReadTag(inner, wire_type)) return false;
    if (wire_type == kStartGroupWire) {
      if (depth == kMaxGroupDepth) break;
      open_groups[depth++] = inner;
    } else if (wire_type == kEndGroupWire) {
      if (open_groups[depth - 1] != inner) break;
      --depth;
    } else {
      const char* ignored_value;
      size_t ignored_size;
      if (!SkipValue(wire_type, ignored_value, ignored_size)) return false;
    }
  }
  if (depth > 0) ok_ = false;
  return ok_;
}

bool WireReader::Next(WireField& field) {
  if (!ok_ || position_ == end_) return false;
  field.begin = position_;
  field.value = nullptr;
  field.value_size = 0;
  uint64_t wire_type;
  if (!ReadTag(field.number, wire_type)) return false;
  if (wire_type == kStartGroupWire) {
    if (!SkipGroup(field.number)) return false;
    field.type = WireType::kGroup;
  } else {
    if (!SkipValue(wire_type, field.value, field.value_size)) return false;
    field.type = static_cast<WireType>(wire_type);
  }
  field.end = position_;
  return true;
}

}  // namespace onnx_reinit
