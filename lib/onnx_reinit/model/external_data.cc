#include "onnx_reinit/external_data.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <optional>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "onnx_reinit/base/checked_math.h"
#include "onnx_reinit/model/stripped.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {
namespace {

struct ExternalRef {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;  // -1: to the end of the file
};

absl::Status Invalid(const onnx::TensorProto& tensor, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrFormat("tensor '%s': external data: %s", tensor.name(), why));
}

absl::StatusOr<ExternalRef> ReadRef(const onnx::TensorProto& tensor) {
  ExternalRef ref;
  for (const onnx::StringStringEntryProto& entry : tensor.external_data()) {
    if (entry.key() == "location") {
      ref.location = entry.value();
    } else if (entry.key() == "offset" || entry.key() == "length") {
      int64_t value;
      if (!absl::SimpleAtoi(entry.value(), &value) || value < 0) {
        return Invalid(tensor, absl::StrFormat("%s '%s' is not a non-negative integer", entry.key(), entry.value()));
      }
      (entry.key() == "offset" ? ref.offset : ref.length) = value;
    }
  }
  if (ref.location.empty()) return Invalid(tensor, "no location");
  if (absl::StartsWith(ref.location, "/")) {
    return Invalid(tensor,
                   absl::StrFormat("location '%s' is absolute; it must be relative to the model", ref.location));
  }
  for (absl::string_view part : absl::StrSplit(ref.location, '/')) {
    if (part == "..") {
      return Invalid(tensor, absl::StrFormat("location '%s' leaves the model's folder", ref.location));
    }
  }
  return ref;
}

// The real path of `path`, or an error naming the tensor.
absl::StatusOr<std::string> RealPath(const onnx::TensorProto& tensor, const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return WithContext(ErrnoError(path, errno), absl::StrFormat("tensor '%s': external data", tensor.name()));
  }
  return std::string(resolved);
}

}  // namespace

bool HasExternalData(const onnx::ModelProto& model) {
  for (const onnx::TensorProto& tensor : model.graph().initializer()) {
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL) return true;
  }
  return false;
}

absl::StatusOr<ExternalData> ExternalData::Open(onnx::ModelProto& model, const std::string& model_path) {
  ExternalData data;
  const std::string folder = FolderOf(model_path);
  std::string real_folder;
  for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
    if (tensor.data_location() != onnx::TensorProto::EXTERNAL) continue;
    ONNX_REINIT_ASSIGN_OR_RETURN(const ExternalRef ref, ReadRef(tensor));
    if (real_folder.empty()) {
      ONNX_REINIT_ASSIGN_OR_RETURN(real_folder, RealPath(tensor, folder));
    }
    const std::string path = folder + "/" + ref.location;
    ONNX_REINIT_ASSIGN_OR_RETURN(const std::string real, RealPath(tensor, path));
    if (!absl::StartsWith(real, real_folder + "/")) {
      return Invalid(tensor, absl::StrFormat("location '%s' resolves outside the model's folder", ref.location));
    }
    struct stat info;
    if (::stat(real.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      return Invalid(tensor, absl::StrFormat("location '%s' is not a regular file", ref.location));
    }
    auto file = data.files_.find(real);
    if (file == data.files_.end()) {
      ONNX_REINIT_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(real, MappedFile::Mode::kReadLazy));
      file = data.files_.emplace(real, std::move(mapped)).first;
    }
    const int64_t size = static_cast<int64_t>(file->second.size());
    const int64_t length = ref.length >= 0 ? ref.length : size - std::min(size, ref.offset);
    if (ref.offset > size || length > size - ref.offset) {
      return Invalid(tensor, absl::StrFormat("offset %d + length %d is past the end of '%s' (%d bytes)", ref.offset,
                                             length, ref.location, size));
    }
    DetachedPayload payload;
    payload.data = file->second.data() + ref.offset;
    payload.size = length;
    // Check the length against the shape now, with the tensor and location in the message.
    auto values = TensorValues::BindDetached(tensor, tensor.name(), payload);
    if (!values.ok() && FloatTypeOf(tensor.data_type())) {
      return Invalid(tensor, absl::StrFormat("'%s' holds %d bytes at offset %d, which does not fit its shape",
                                             ref.location, length, ref.offset));
    }
    data.payloads_.by_tensor.emplace(&tensor, payload);
    data.sources_.emplace(&tensor, Source{&file->second, ref.offset, length});
  }
  return data;
}

absl::Status ExternalData::AddUnwritten(onnx::TensorProto& tensor, int64_t length) {
  void* zeros = ::mmap(nullptr, static_cast<size_t>(std::max<int64_t>(length, 1)), PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (zeros == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("tensor '%s': cannot map %d bytes to materialize it", tensor.name(), length));
  }
  unwritten_.emplace_back(static_cast<char*>(zeros), [length](char* address) {
    ::munmap(address, static_cast<size_t>(std::max<int64_t>(length, 1)));
  });
  tensor.clear_raw_data();
  tensor.clear_external_data();
  tensor.set_data_location(onnx::TensorProto::EXTERNAL);
  DetachedPayload payload;
  payload.data = unwritten_.back().get();
  payload.size = length;
  payloads_.by_tensor[&tensor] = payload;
  sources_[&tensor] = Source{nullptr, 0, length};
  return absl::OkStatus();
}

std::vector<std::string> ExternalData::FilePaths() const {
  std::vector<std::string> paths;
  for (const auto& [path, file] : files_) paths.push_back(path);
  return paths;
}

absl::StatusOr<NewDataFile> WriteExternalDataLayout(onnx::ModelProto& model, const ExternalData& sources,
                                                    OutputFile data, const std::string& location,
                                                    int64_t move_threshold,
                                                    const std::function<bool(const onnx::TensorProto&)>& overwritten,
                                                    const std::function<bool(const onnx::TensorProto&)>& moved_out) {
  NewDataFile out{std::move(data), MappedFile(), DetachedPayloads()};
  const int fd = out.output.fd();
  const std::string& data_path = out.output.path();
  std::vector<std::tuple<onnx::TensorProto*, int64_t, int64_t>> placed;  // tensor, offset, length
  int64_t end = 0;
  for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
    // The lengths are those of real payloads, but external ones may all claim one huge range.
    const std::optional<int64_t> padded = CheckedAdd(end, kExternalDataAlignment - 1);
    const int64_t length = sources.sources().count(&tensor) ? sources.sources().at(&tensor).length
                                                            : static_cast<int64_t>(tensor.raw_data().size());
    if (!padded || !CheckedAdd(*padded, length)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("cannot write %s: with tensor '%s' it would be over 2^63 bytes", data_path, tensor.name()));
    }
    const int64_t offset = *padded / kExternalDataAlignment * kExternalDataAlignment;
    auto source = sources.sources().find(&tensor);
    if (source == sources.sources().end()) {
      const bool by_size = move_threshold >= 0 && length >= move_threshold;
      if (!(by_size || (moved_out && moved_out(tensor))) || tensor.data_location() == onnx::TensorProto::EXTERNAL ||
          !tensor.has_raw_data() || length == 0) {
        continue;
      }
      // Moved out, a float payload that does not fit its shape would become an external range
      // that does not either, and the output would not open again: refuse it as reading does.
      if (FloatTypeOf(tensor.data_type())) {
        ONNX_REINIT_RETURN_IF_ERROR(TensorValues::Bind(tensor, tensor.name()).status());
      }
      if (!overwritten || !overwritten(tensor)) {
        ONNX_REINIT_RETURN_IF_ERROR(
            WriteAt(fd, tensor.raw_data().data(), static_cast<size_t>(length), offset, data_path));
      }
      tensor.clear_raw_data();
      tensor.set_data_location(onnx::TensorProto::EXTERNAL);
      placed.emplace_back(&tensor, offset, length);
      end = offset + length;
      continue;
    }
    const ExternalData::Source& from = source->second;
    // Unwritten tensors (no file) are zeros, which the data file holds until written.
    if (from.file != nullptr && (!overwritten || !overwritten(tensor))) {
      ONNX_REINIT_RETURN_IF_ERROR(CopyRange(*from.file, from.offset, fd, offset, from.length, data_path));
    }
    placed.emplace_back(&tensor, offset, length);
    end = offset + length;
  }
  if (::ftruncate(fd, end) != 0) return ErrnoError(absl::StrFormat("cannot write %s", data_path), errno);
  // Mapped read-only, never written through: its addresses identify the tensors' byte ranges, and
  // the file is written with pwrite (streamed_fill.h).
  ONNX_REINIT_ASSIGN_OR_RETURN(out.file, MappedFile::Open(fd, data_path, MappedFile::Mode::kReadLazy));

  for (const auto& [tensor, offset, length] : placed) {
    tensor->clear_external_data();
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"location", location},
                                     {"offset", std::to_string(offset)},
                                     {"length", std::to_string(length)}}) {
      onnx::StringStringEntryProto* entry = tensor->add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    }
    DetachedPayload payload;
    payload.data = out.file.data() + offset;
    payload.size = length;
    out.payloads.by_tensor.emplace(tensor, payload);
  }
  return out;
}

void EmbedExternalData(onnx::ModelProto& model, const ExternalData& sources) {
  for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
    auto payload = sources.payloads().by_tensor.find(&tensor);
    if (payload == sources.payloads().by_tensor.end()) continue;
    tensor.set_raw_data(payload->second.data, static_cast<size_t>(payload->second.size));
    tensor.clear_external_data();
    tensor.clear_data_location();
  }
}

absl::StatusOr<std::vector<std::string>> MaterializeMissingValues(onnx::ModelProto& model,
                                                                  const std::string& model_path) {
  std::vector<std::string> materialized;
  const std::string folder = FolderOf(model_path);
  for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
    auto count = ElementCount(tensor, tensor.name());
    if (!count.ok()) return count.status();
    bool missing;
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
      auto ref = ReadRef(tensor);
      struct stat info;
      missing = ref.ok() && ::stat((folder + "/" + ref->location).c_str(), &info) != 0 && errno == ENOENT;
    } else {
      missing = *count > 0 && tensor.raw_data().empty() && tensor.float_data_size() == 0 &&
                tensor.double_data_size() == 0 && tensor.int32_data_size() == 0 && tensor.int64_data_size() == 0 &&
                tensor.uint64_data_size() == 0 && tensor.string_data_size() == 0;
    }
    if (!missing) continue;
    const std::optional<FloatType> type = FloatTypeOf(tensor.data_type());
    if (!type) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "tensor '%s' has no values and is not floating-point, so it cannot be materialized", tensor.name()));
    }
    ONNX_REINIT_RETURN_IF_ERROR(GiveZeroedValues(tensor, *count * ByteWidth(*type)));
    if (IsMarkedWeightless(tensor)) tensor.clear_doc_string();  // it has values now
    materialized.push_back(tensor.name());
  }
  const auto& initializers = model.graph().initializer();
  if (!materialized.empty() && std::none_of(initializers.begin(), initializers.end(), IsMarkedWeightless)) {
    model.set_doc_string(WithoutWeightlessMark(model.doc_string()));
  }
  return materialized;
}

}  // namespace onnx_reinit
