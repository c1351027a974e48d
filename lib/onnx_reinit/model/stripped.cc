#include "onnx_reinit/model/stripped.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {
namespace {

constexpr absl::string_view kPrefix = "onnx_reinit.strip.";
constexpr absl::string_view kFillContractKey = "onnx_reinit.strip.fill_contract";
constexpr absl::string_view kRecipeKey = "onnx_reinit.strip.recipe";
constexpr absl::string_view kTensorPrefix = "onnx_reinit.strip.tensor.";
constexpr absl::string_view kDocStringPrefix = "onnx_reinit.strip.doc_string.";

// Polygraphy's weight-reconstruct splits the tensor's doc_string at '/' into the mark and the
// sparsity ("SPARSE_2_4" or empty), so the slash is part of the mark.
std::string TensorMark() { return absl::StrCat(kWeightlessMark, "/"); }

void AddProperty(onnx::ModelProto& model, absl::string_view key, absl::string_view value) {
  onnx::StringStringEntryProto* entry = model.add_metadata_props();
  entry->set_key(std::string(key));
  entry->set_value(std::string(value));
}

std::string TensorValue(const StrippedTensor& tensor) {
  std::string value;
  if (!tensor.sha256.empty()) absl::StrAppend(&value, "sha256=", tensor.sha256, ";bytes=", tensor.bytes, ";");
  absl::StrAppend(&value, "external=", tensor.external ? 1 : 0);
  return value;
}

absl::Status Malformed(absl::string_view key, absl::string_view value) {
  return absl::InvalidArgumentError(
      absl::StrFormat("metadata_props '%s': cannot read '%s' (a model stripped by another version?)", key, value));
}

bool IsHexDigest(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

absl::StatusOr<StrippedTensor> ParseTensor(absl::string_view key, absl::string_view value) {
  StrippedTensor tensor;
  tensor.name = std::string(key.substr(kTensorPrefix.size()));
  std::map<std::string, std::string> fields;
  for (absl::string_view field : absl::StrSplit(value, ';')) {
    std::pair<std::string, std::string> pair = absl::StrSplit(field, absl::MaxSplits('=', 1));
    fields[pair.first] = pair.second;
  }
  if (fields.count("sha256")) {
    tensor.sha256 = fields["sha256"];
    if (!IsHexDigest(tensor.sha256) || !absl::SimpleAtoi(fields["bytes"], &tensor.bytes) || tensor.bytes < 0) {
      return Malformed(key, value);
    }
  }
  if (fields["external"] != "0" && fields["external"] != "1") return Malformed(key, value);
  tensor.external = fields["external"] == "1";
  return tensor;
}

}  // namespace

absl::Status GiveZeroedValues(onnx::TensorProto& tensor, int64_t bytes) {
  const int64_t memory = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  if (memory > 0 && bytes > memory) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "tensor '%s': materializing it takes %d bytes, more than this machine's memory", tensor.name(), bytes));
  }
  try {
    std::string zeros(static_cast<size_t>(bytes), '\0');
    tensor.clear_external_data();
    tensor.clear_data_location();
    tensor.set_raw_data(std::move(zeros));
  } catch (const std::exception&) {  // std::bad_alloc, std::length_error
    return absl::ResourceExhaustedError(
        absl::StrFormat("tensor '%s': cannot allocate %d bytes to materialize it", tensor.name(), bytes));
  }
  return absl::OkStatus();
}

std::string WithWeightlessMark(const std::string& doc) {
  return doc.empty() ? std::string(kWeightlessMark) : absl::StrCat(doc, "-", kWeightlessMark);
}

std::string WithoutWeightlessMark(const std::string& doc) {
  const std::string suffix = absl::StrCat("-", kWeightlessMark);
  if (doc == kWeightlessMark) return "";
  if (absl::EndsWith(doc, suffix)) return doc.substr(0, doc.size() - suffix.size());
  return doc;
}

void StripValues(onnx::TensorProto& tensor) {
  tensor.clear_external_data();
  tensor.clear_data_location();
  tensor.set_raw_data("");  // present and empty, as Polygraphy leaves it
  tensor.set_doc_string(TensorMark());
}

absl::Status AddStripManifest(const StripManifest& manifest, onnx::ModelProto& model) {
  for (const onnx::StringStringEntryProto& entry : model.metadata_props()) {
    if (absl::StartsWith(entry.key(), kPrefix)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("the model is stripped already (metadata_props '%s'): materialize it first", entry.key()));
    }
  }
  AddProperty(model, kFillContractKey, absl::StrCat(manifest.fill_contract));
  AddProperty(model, kRecipeKey, manifest.recipe);
  for (const StrippedTensor& tensor : manifest.tensors) {
    AddProperty(model, absl::StrCat(kTensorPrefix, tensor.name), TensorValue(tensor));
    if (tensor.doc_string) AddProperty(model, absl::StrCat(kDocStringPrefix, tensor.name), *tensor.doc_string);
  }
  model.set_doc_string(WithWeightlessMark(model.doc_string()));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<StripManifest>> ReadStripManifest(const onnx::ModelProto& model) {
  StripManifest manifest;
  bool found = false;
  std::map<std::string, std::string> doc_strings;
  for (const onnx::StringStringEntryProto& entry : model.metadata_props()) {
    const std::string& key = entry.key();
    if (!absl::StartsWith(key, kPrefix)) continue;
    found = true;
    if (key == kFillContractKey) {
      if (!absl::SimpleAtoi(entry.value(), &manifest.fill_contract)) return Malformed(key, entry.value());
    } else if (key == kRecipeKey) {
      manifest.recipe = entry.value();
    } else if (absl::StartsWith(key, kTensorPrefix)) {
      absl::StatusOr<StrippedTensor> tensor = ParseTensor(key, entry.value());
      if (!tensor.ok()) return tensor.status();
      manifest.tensors.push_back(*std::move(tensor));
    } else if (absl::StartsWith(key, kDocStringPrefix)) {
      doc_strings[key.substr(kDocStringPrefix.size())] = entry.value();
    } else {
      return Malformed(key, entry.value());
    }
  }
  if (!found) return std::nullopt;
  if (manifest.fill_contract == 0) {
    return absl::InvalidArgumentError(absl::StrFormat("metadata_props has no '%s'", kFillContractKey));
  }
  for (StrippedTensor& tensor : manifest.tensors) {
    auto doc_string = doc_strings.find(tensor.name);
    if (doc_string != doc_strings.end()) tensor.doc_string = doc_string->second;
  }
  return manifest;
}

absl::Status RemoveStripManifest(const StripManifest& manifest, onnx::ModelProto& model) {
  std::map<std::string, const StrippedTensor*> by_name;
  for (const StrippedTensor& tensor : manifest.tensors) by_name[tensor.name] = &tensor;
  for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
    auto stripped = by_name.find(tensor.name());
    if (stripped == by_name.end()) continue;
    const bool empty = tensor.raw_data().empty() && tensor.data_location() != onnx::TensorProto::EXTERNAL;
    if (!stripped->second->sha256.empty() && !empty) {
      return absl::InvalidArgumentError(
          absl::StrFormat("tensor '%s' is listed as stripped but has values", tensor.name()));
    }
    if (!stripped->second->sha256.empty()) {
      tensor.clear_raw_data();
      if (stripped->second->doc_string) {
        tensor.set_doc_string(*stripped->second->doc_string);
      } else {
        tensor.clear_doc_string();
      }
    }
    by_name.erase(stripped);
  }
  if (!by_name.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "tensor '%s' is listed as stripped but is not an initializer of the main graph", by_name.begin()->first));
  }
  auto& props = *model.mutable_metadata_props();
  props.erase(
      std::remove_if(props.begin(), props.end(),
                     [](const onnx::StringStringEntryProto& entry) { return absl::StartsWith(entry.key(), kPrefix); }),
      props.end());
  // Whether an empty doc_string was set is lost with the mark: exporters leave it unset.
  const std::string doc = WithoutWeightlessMark(model.doc_string());
  if (doc.empty()) {
    model.clear_doc_string();
  } else {
    model.set_doc_string(doc);
  }
  return absl::OkStatus();
}

}  // namespace onnx_reinit
