#include "onnx_reinit/model_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "onnx/checker.h"

namespace onnx_reinit {
namespace {

// "<context>: <strerror>", with the status code that fits the errno.
absl::Status ErrnoError(const std::string& context, int error) {
  const std::string message = absl::StrFormat("%s: %s", context, std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

// Closes the descriptor on every path out of a scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error that a deferred write may surface at close.
  int Close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(absl::StrFormat("cannot write %s", path), errno);
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

mode_t CurrentUmask() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

absl::StatusOr<onnx::ModelProto> LoadModel(const std::string& path) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return ErrnoError(absl::StrFormat("%s: cannot open", path), errno);
  struct stat info;
  if (::fstat(file.get(), &info) != 0) return ErrnoError(absl::StrFormat("%s: cannot stat", path), errno);
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: not a regular file", path));
  }
  if (info.st_size == 0) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: empty file, not an ONNX model", path));
  }
  if (info.st_size > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d bytes is over protobuf's 2 GiB limit for one message; models this large keep their "
        "weights in external data files",
        path, static_cast<int64_t>(info.st_size)));
  }
  std::string bytes(static_cast<size_t>(info.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(file.get(), bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoError(absl::StrFormat("%s: cannot read", path), errno);
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  if (done != bytes.size()) {
    return absl::UnavailableError(absl::StrFormat("%s: file shrank while being read", path));
  }

  onnx::ModelProto model;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(INT_MAX);
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: not an ONNX model (the bytes do not parse as a ModelProto; truncated "
                        "or another format?)",
                        path));
  }
  if (!model.has_graph()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: not an ONNX model (no graph)", path));
  }
  return model;
}

absl::Status SaveModel(const onnx::ModelProto& model, const std::string& path) {
  const size_t size = model.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: the model would be %d bytes, over protobuf's 2 GiB limit for one message", path, size));
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrFormat("%s: cannot serialize the model", path));
  }
  return WriteFileAtomically(path, bytes);
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view bytes) {
  const std::string cannot_write = absl::StrFormat("cannot write %s", path);
  struct stat existing;
  if (::stat(path.c_str(), &existing) == 0 && S_ISDIR(existing.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(cannot_write, ": it is a directory"));
  }
  std::vector<char> temp_path(path.begin(), path.end());
  const std::string suffix = ".tmp-XXXXXX";
  temp_path.insert(temp_path.end(), suffix.begin(), suffix.end());
  temp_path.push_back('\0');
  FileDescriptor file(::mkstemp(temp_path.data()));
  if (file.get() < 0) return ErrnoError(cannot_write, errno);

  absl::Status status = WriteAll(file.get(), bytes.data(), bytes.size(), path);
  if (status.ok() && ::fchmod(file.get(), 0666 & ~CurrentUmask()) != 0) {
    status = ErrnoError(cannot_write, errno);
  }
  if (status.ok() && file.Close() != 0) status = ErrnoError(cannot_write, errno);
  if (status.ok() && ::rename(temp_path.data(), path.c_str()) != 0) {
    status = ErrnoError(cannot_write, errno);
  }
  if (!status.ok()) ::unlink(temp_path.data());
  return status;
}

absl::Status CheckModel(const onnx::ModelProto& model) {
  if (model.ir_version() > onnx::Version::IR_VERSION) {
    return absl::UnimplementedError(absl::StrFormat(
        "IR version %d is newer than the ONNX checker linked here understands (%d)",
        model.ir_version(), static_cast<int>(onnx::Version::IR_VERSION)));
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(FirstLine(e.what()));
  }
  return absl::OkStatus();
}

}  // namespace onnx_reinit
