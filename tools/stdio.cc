#include "tools/stdio.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_reinit/file_util.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit::cli {
namespace {

constexpr size_t kChunk = size_t{1} << 20;

absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& name) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return ErrnoError(absl::StrCat(name, ": cannot write"), errno);
    data += written;
    size -= static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

// Copies `from` to `to` until the end of `from`.
absl::Status Copy(int from, const std::string& from_name, int to, const std::string& to_name) {
  std::vector<char> buffer(kChunk);
  for (;;) {
    const ssize_t got = ::read(from, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoError(absl::StrCat(from_name, ": cannot read"), errno);
    if (got == 0) return absl::OkStatus();
    ONNX_REINIT_RETURN_IF_ERROR(WriteAll(to, buffer.data(), static_cast<size_t>(got), to_name));
  }
}

}  // namespace

absl::StatusOr<ScratchDir> ScratchDir::Create() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/onnx-reinit.XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return ErrnoError(absl::StrCat(pattern, ": cannot create a temporary directory"), errno);
  }
  return ScratchDir(std::move(pattern));
}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

absl::Status CopyStreamToFile(int from, const std::string& path) {
  FileDescriptor to(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (to.get() < 0) return ErrnoError(absl::StrCat(path, ": cannot create"), errno);
  ONNX_REINIT_RETURN_IF_ERROR(Copy(from, "stdin", to.get(), path));
  if (to.Close() != 0) return ErrnoError(absl::StrCat(path, ": cannot write"), errno);
  return absl::OkStatus();
}

absl::Status CopyFileToStream(const std::string& path, int to, const std::string& to_name) {
  FileDescriptor from(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (from.get() < 0) return ErrnoError(absl::StrCat(path, ": cannot open"), errno);
  return Copy(from.get(), path, to, to_name);
}

}  // namespace onnx_reinit::cli
