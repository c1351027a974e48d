#include "onnx_reinit/csv_report.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace onnx_reinit {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// The shortest of %.15g, %.16g, %.17g that parses back to `x`.
std::string ExactNumber(double x) {
  for (int digits = 15; digits < 17; ++digits) {
    std::string text = absl::StrFormat("%.*g", digits, x);
    if (std::strtod(text.c_str(), nullptr) == x) return text;
  }
  return absl::StrFormat("%.17g", x);
}

std::string ScalarCell(const Message& message, const FieldDescriptor& field, int index) {
  const auto& r = *message.GetReflection();
  const bool repeated = field.is_repeated();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(repeated ? r.GetRepeatedInt32(message, &field, index) : r.GetInt32(message, &field));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(repeated ? r.GetRepeatedInt64(message, &field, index) : r.GetInt64(message, &field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(repeated ? r.GetRepeatedUInt32(message, &field, index) : r.GetUInt32(message, &field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(repeated ? r.GetRepeatedUInt64(message, &field, index) : r.GetUInt64(message, &field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return ExactNumber(repeated ? r.GetRepeatedDouble(message, &field, index) : r.GetDouble(message, &field));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return ExactNumber(repeated ? r.GetRepeatedFloat(message, &field, index) : r.GetFloat(message, &field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (repeated ? r.GetRepeatedBool(message, &field, index) : r.GetBool(message, &field)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_STRING:
      return repeated ? r.GetRepeatedString(message, &field, index) : r.GetString(message, &field);
    case FieldDescriptor::CPPTYPE_ENUM:
      return repeated ? r.GetRepeatedEnum(message, &field, index)->name() : r.GetEnum(message, &field)->name();
    case FieldDescriptor::CPPTYPE_MESSAGE: break;  // flattened by the caller
  }
  return "";
}

// One cell per scalar field of `message` (a null message gives empty cells), subfields of message
// fields flattened in order; `names` gets the column names when not null.
void AppendCells(const google::protobuf::Descriptor& type, const Message* message, const std::string& prefix,
                 std::vector<std::string>& cells, std::vector<std::string>* names) {
  for (int f = 0; f < type.field_count(); ++f) {
    const FieldDescriptor& field = *type.field(f);
    const std::string name = prefix + field.name();
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field.is_repeated()) {
      const bool present = message != nullptr && message->GetReflection()->HasField(*message, &field);
      AppendCells(*field.message_type(), present ? &message->GetReflection()->GetMessage(*message, &field) : nullptr,
                  name + ".", cells, names);
      continue;
    }
    if (names != nullptr) names->push_back(name);
    if (message == nullptr) {
      cells.emplace_back();
    } else if (field.is_repeated()) {
      std::vector<std::string> items;
      const int size = message->GetReflection()->FieldSize(*message, &field);
      for (int i = 0; i < size; ++i) items.push_back(ScalarCell(*message, field, i));
      cells.push_back(absl::StrCat("[", absl::StrJoin(items, ", "), "]"));
    } else if (field.has_presence() && !message->GetReflection()->HasField(*message, &field)) {
      cells.emplace_back();
    } else {
      cells.push_back(ScalarCell(*message, field, 0));
    }
  }
}

std::string CsvLine(const std::vector<std::string>& cells) {
  std::vector<std::string> quoted;
  for (const std::string& cell : cells) quoted.push_back(CsvCell(cell));
  return absl::StrCat(absl::StrJoin(quoted, ","), "\r\n");
}

}  // namespace

std::string CsvCell(absl::string_view cell) {
  if (cell.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(cell);
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string StatsReportToCsv(const proto::StatsReport& report) {
  const google::protobuf::Descriptor& type = *proto::TensorStats::descriptor();
  std::vector<std::string> names, ignored;
  AppendCells(type, nullptr, "", ignored, &names);
  std::string csv = CsvLine(names);
  for (const proto::TensorStats& tensor : report.tensors()) {
    std::vector<std::string> cells;
    AppendCells(type, &tensor, "", cells, nullptr);
    csv += CsvLine(cells);
  }
  return csv;
}

}  // namespace onnx_reinit
