// Protobuf messages as JSON documents for machines.
#ifndef ONNX_REINIT_JSON_OUTPUT_H_
#define ONNX_REINIT_JSON_OUTPUT_H_

#include <string>

#include "google/protobuf/message.h"

namespace onnx_reinit {

// protobuf's JSON printer, keeping the .proto field names and printing fields at their default
// values too, so that every field is present; ends with a newline.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_JSON_OUTPUT_H_
