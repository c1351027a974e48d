#include "onnx_reinit/model_io.h"

// Before <sys/mman.h>, whose MAP_TYPE macro would clash with an enumerator in onnx/defs/parser.h.
#include "onnx/checker.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/file_util.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/model/validate.h"
#include "onnx_reinit/base/wire_format.h"

namespace onnx_reinit {
namespace {

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

absl::Status OverProtobufLimit(const std::string& name, size_t size) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %d bytes is over protobuf's 2 GiB limit for one message; models this large keep their "
                      "weights in external data files",
                      name, size));
}

// Opens `path` for reading and checks that it can hold a model: a non-empty regular file under
// protobuf's 2 GiB limit. Returns its size.
absl::StatusOr<size_t> OpenModelFile(const std::string& path, FileDescriptor& file) {
  file = FileDescriptor(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return ErrnoError(absl::StrFormat("%s: cannot open", path), errno);
  struct stat info;
  if (::fstat(file.get(), &info) != 0) return ErrnoError(absl::StrFormat("%s: cannot stat", path), errno);
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: not a regular file", path));
  }
  if (info.st_size == 0) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: empty file, not an ONNX model", path));
  }
  if (info.st_size > INT_MAX) return OverProtobufLimit(path, static_cast<size_t>(info.st_size));
  return static_cast<size_t>(info.st_size);
}

absl::Status NotAModel(const std::string& path) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: not an ONNX model (the bytes do not parse as a ModelProto; truncated, "
                      "another format, or messages nested past protobuf's limit of 100?)",
                      path));
}

absl::Status NoGraph(const std::string& path) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: not an ONNX model (no graph)", path));
}

// protobuf's default limit on nested messages and groups (CodedInputStream::GetDefaultRecursionLimit).
constexpr int kProtobufRecursionLimit = 100;
// How deep the skeleton parser's pieces sit in a ModelProto: a graph inside the model, a tensor
// inside the graph. Parsed alone, each gets the budget that is left at that depth, so that the
// skeleton parse refuses exactly what parsing the whole file refuses.
constexpr int kGraphDepth = 1;
constexpr int kInitializerDepth = 2;

// Parses (or, `merge`, merges) [data, data + size) into `message` as a field `depth` levels down.
bool ParseAtDepth(const char* data, size_t size, int depth, google::protobuf::MessageLite& message,
                  bool merge = false) {
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(data), static_cast<int>(size));
  stream.SetTotalBytesLimit(INT_MAX);
  stream.SetRecursionLimit(kProtobufRecursionLimit - depth);
  const bool parsed = merge ? message.MergeFromCodedStream(&stream) : message.ParseFromCodedStream(&stream);
  return parsed && stream.ConsumedEntireMessage();
}

// onnx.proto field numbers used by the skeleton parser.
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphInitializer = 5;
constexpr uint32_t kTensorFloatData = 4;
constexpr uint32_t kTensorRawData = 9;
constexpr uint32_t kTensorDoubleData = 10;

// Parses a serialized TensorProto into `tensor`, leaving out the values of a floating-point tensor
// held in a single raw_data or packed float_data/double_data field: then `payload` describes those
// bytes and the function returns true. Otherwise (integer tensors, several value fields, unpacked
// values) it parses everything.
bool ParseTensorSkeleton(const char* begin, size_t size, onnx::TensorProto& tensor, DetachedPayload& payload,
                         bool& ok) {
  WireReader reader(begin, begin + size);
  WireField field;
  std::string metadata;
  int value_fields = 0;
  while (reader.Next(field)) {
    const bool packed_values =
        field.type == WireType::kLengthDelimited &&
        (field.number == kTensorRawData || field.number == kTensorFloatData || field.number == kTensorDoubleData);
    if (!packed_values) {
      metadata.append(field.begin, field.end);
      continue;
    }
    ++value_fields;
    payload.data = const_cast<char*>(field.value);
    payload.size = static_cast<int64_t>(field.value_size);
    payload.storage = field.number == kTensorRawData     ? Storage::kRawData
                      : field.number == kTensorFloatData ? Storage::kFloatData
                                                         : Storage::kDoubleData;
  }
  ok = reader.ok() && ParseAtDepth(metadata.data(), metadata.size(), kInitializerDepth, tensor);
  // Integer tensors stay whole: graph analysis reads them (Reshape shapes, Squeeze axes).
  const bool detachable = value_fields == 1 && tensor.float_data_size() == 0 && tensor.double_data_size() == 0 &&
                          !tensor.has_raw_data() && FloatTypeOf(tensor.data_type()).has_value();
  if (ok && !detachable) ok = ParseAtDepth(begin, size, kInitializerDepth, tensor);
  return ok && detachable;
}

// Parses a serialized ModelProto from [begin, end) into `model`, detaching initializer payloads.
// `detached` receives (initializer index, payload) pairs. False for bytes that are no ModelProto.
bool ParseModelSkeleton(const char* begin, const char* end, onnx::ModelProto& model,
                        std::vector<std::pair<int, DetachedPayload>>& detached) {
  WireReader model_reader(begin, end);
  WireField field;
  std::string model_rest, graph_rest;
  onnx::GraphProto graph;
  bool has_graph = false;
  while (model_reader.Next(field)) {
    if (field.number != kModelGraph || field.type != WireType::kLengthDelimited) {
      model_rest.append(field.begin, field.end);
      continue;
    }
    has_graph = true;
    WireReader graph_reader(field.value, field.value + field.value_size);
    WireField graph_field;
    while (graph_reader.Next(graph_field)) {
      if (graph_field.number != kGraphInitializer || graph_field.type != WireType::kLengthDelimited) {
        graph_rest.append(graph_field.begin, graph_field.end);
        continue;
      }
      DetachedPayload payload;
      bool ok;
      if (ParseTensorSkeleton(graph_field.value, graph_field.value_size, *graph.add_initializer(), payload, ok)) {
        detached.emplace_back(graph.initializer_size() - 1, payload);
      }
      if (!ok) return false;
    }
    if (!graph_reader.ok()) return false;
  }
  if (!model_reader.ok() || !model.ParseFromString(model_rest)) return false;
  if (!ParseAtDepth(graph_rest.data(), graph_rest.size(), kGraphDepth, graph, /*merge=*/true)) return false;
  if (has_graph) model.mutable_graph()->Swap(&graph);
  return true;
}

// Payloads at least this long are left out by ReadMetadataPrivately; what it reads in, it reads
// in runs of at least this many bytes (fewer system calls; up to this much of a payload after a
// header is read in too).
constexpr size_t kPrivateRunBytes = size_t{16} << 10;
// The most bytes a field's tag and length take (two varints).
constexpr size_t kMaxFieldHeaderBytes = 15;

// Reads in a kReadSparse mapping's bytes in file order (MappedFile::ReadInPrivately), skipping runs.
class PrivateReads {
 public:
  explicit PrivateReads(const MappedFile& file) : file_(file) {}

  // Reads in the bytes before `end` not yet read in or skipped.
  void Through(const char* end) {
    const size_t until = static_cast<size_t>(end - file_.data());
    if (until <= done_) return;
    const size_t to = std::min(file_.size(), std::max(until, done_ + kPrivateRunBytes));
    file_.ReadInPrivately(done_, to - done_);
    done_ = to;
  }
  // Leaves the bytes before `end` not yet read in to the page cache.
  void Skip(const char* end) { done_ = std::max(done_, static_cast<size_t>(end - file_.data())); }

 private:
  const MappedFile& file_;
  size_t done_ = 0;
};

// Reads in what ParseModelSkeleton reads of [begin, end), a message `depth` levels into the
// model (0 the model, 1 its graph, 2 an initializer): every byte but the values of large
// tensors. It follows the same fields; anything it misses is still read correctly, from the page
// cache.
void ReadInMetadata(PrivateReads& reads, const char* begin, const char* end, int depth) {
  WireReader reader(begin, end);
  WireField field;
  for (const char* position = begin;; position = field.end) {
    reads.Through(std::min(end, position + kMaxFieldHeaderBytes));
    if (!reader.Next(field)) return;
    const bool nested = field.type == WireType::kLengthDelimited && ((depth == 0 && field.number == kModelGraph) ||
                                                                     (depth == 1 && field.number == kGraphInitializer));
    const bool large_values =
        depth == 2 && field.type == WireType::kLengthDelimited && field.value_size >= kPrivateRunBytes &&
        (field.number == kTensorRawData || field.number == kTensorFloatData || field.number == kTensorDoubleData);
    if (nested) {
      ReadInMetadata(reads, field.value, field.end, depth + 1);
    } else if (large_values) {
      reads.Skip(field.end);
    } else {
      reads.Through(field.end);
    }
  }
}

}  // namespace

absl::StatusOr<onnx::ModelProto> LoadModel(const std::string& path) {
  FileDescriptor file(-1);
  auto size = OpenModelFile(path, file);
  if (!size.ok()) return size.status();
  std::string bytes(*size, '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(file.get(), bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoError(absl::StrFormat("%s: cannot read", path), errno);
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  if (done != bytes.size()) {
    return WithErrorKind(absl::UnavailableError(absl::StrFormat("%s: file shrank while being read", path)),
                         ErrorKind::kFile);
  }

  return ParseModel(bytes, path);
}

absl::StatusOr<onnx::ModelProto> ParseModel(absl::string_view bytes, const std::string& name) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return OverProtobufLimit(name, bytes.size());
  onnx::ModelProto model;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(INT_MAX);
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
    return NotAModel(name);
  }
  if (!model.has_graph()) return NoGraph(name);
  ONNX_REINIT_RETURN_IF_ERROR(WithContext(ValidateModel(model), name));
  return model;
}

absl::StatusOr<MappedModel> MappedModel::Open(const std::string& path, MappedFile::Mode mode) {
  {
    FileDescriptor file;
    auto size = OpenModelFile(path, file);  // the same checks and messages as LoadModel
    if (!size.ok()) return size.status();
  }
  MappedModel mapped;
  ONNX_REINIT_ASSIGN_OR_RETURN(mapped.file_, MappedFile::Open(path, mode));
  mapped.model_ = std::make_unique<onnx::ModelProto>();
  const char* bytes = mapped.file_.data();
  if (mode == MappedFile::Mode::kReadSparse) {
    PrivateReads reads(mapped.file_);
    ReadInMetadata(reads, bytes, bytes + mapped.file_.size(), 0);
  }
  std::vector<std::pair<int, DetachedPayload>> detached;
  if (!ParseModelSkeleton(bytes, bytes + mapped.file_.size(), *mapped.model_, detached)) {
    return NotAModel(path);
  }
  if (!mapped.model_->has_graph()) return NoGraph(path);
  ONNX_REINIT_RETURN_IF_ERROR(WithContext(ValidateModel(*mapped.model_), path));
  for (const auto& [index, payload] : detached) {
    mapped.payloads_.by_tensor.emplace(&mapped.model_->graph().initializer(index), payload);
  }
  if (HasExternalData(*mapped.model_)) {
    ONNX_REINIT_ASSIGN_OR_RETURN(ExternalData external, ExternalData::Open(*mapped.model_, path));
    mapped.external_ = std::make_unique<ExternalData>(std::move(external));
    for (const auto& entry : mapped.external_->payloads().by_tensor) mapped.payloads_.by_tensor.insert(entry);
  }
  return mapped;
}

absl::Status WriteModel(const onnx::ModelProto& model, OutputFile& file) {
  const size_t size = model.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: the model would be %d bytes, over protobuf's 2 GiB limit for one message", file.path(), size));
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrFormat("%s: cannot serialize the model", file.path()));
  }
  return WriteAt(file.fd(), bytes.data(), bytes.size(), 0, file.path());
}

absl::Status SaveModel(const onnx::ModelProto& model, const std::string& path, const OutputOptions& options) {
  ONNX_REINIT_ASSIGN_OR_RETURN(OutputFile file, OutputFile::Create(path, options));
  ONNX_REINIT_RETURN_IF_ERROR(WriteModel(model, file));
  return file.Commit();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view bytes, const OutputOptions& options) {
  ONNX_REINIT_ASSIGN_OR_RETURN(OutputFile file, OutputFile::Create(path, options));
  ONNX_REINIT_RETURN_IF_ERROR(WriteAt(file.fd(), bytes.data(), bytes.size(), 0, path));
  return file.Commit();
}

absl::Status CheckModelFile(const std::string& path) {
  ONNX_REINIT_ASSIGN_OR_RETURN(const onnx::ModelProto model, LoadModel(path));
  if (model.ir_version() > onnx::Version::IR_VERSION) return CheckModel(model);
  try {
    onnx::checker::check_model(path);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(FirstLine(e.what()));
  }
  return absl::OkStatus();
}

absl::Status CheckModel(const onnx::ModelProto& model) {
  if (model.ir_version() > onnx::Version::IR_VERSION) {
    return absl::UnimplementedError(
        absl::StrFormat("IR version %d is newer than the ONNX checker linked here understands (%d)", model.ir_version(),
                        static_cast<int>(onnx::Version::IR_VERSION)));
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(FirstLine(e.what()));
  }
  return absl::OkStatus();
}

}  // namespace onnx_reinit
