#include "onnx_reinit/json_output.h"

#include "google/protobuf/util/json_util.h"

namespace onnx_reinit {

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  // Cannot fail for the project's own messages: they have no Any fields to resolve.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace onnx_reinit
