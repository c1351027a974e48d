#include "onnx_reinit/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"

namespace onnx_reinit {
namespace {

mode_t CurrentUmask() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

}  // namespace

absl::Status ErrnoError(const std::string& context, int error) {
  const std::string message = absl::StrFormat("%s: %s", context, std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

int FileDescriptor::Close() {
  const int result = ::close(fd_);
  fd_ = -1;
  return result;
}

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path, Mode mode) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return ErrnoError(absl::StrFormat("%s: cannot open", path), errno);
  struct stat info;
  if (::fstat(file.get(), &info) != 0) return ErrnoError(absl::StrFormat("%s: cannot stat", path), errno);
  MappedFile mapped;
  mapped.size_ = static_cast<size_t>(info.st_size);
  if (mapped.size_ == 0) return mapped;
  const int flags = mode == Mode::kRead ? MAP_PRIVATE | MAP_POPULATE : MAP_PRIVATE;
  void* data = ::mmap(nullptr, mapped.size_, PROT_READ, flags, file.get(), 0);
  if (data == MAP_FAILED) return ErrnoError(absl::StrFormat("%s: cannot map", path), errno);
  mapped.data_ = data;
  return mapped;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

absl::StatusOr<ScratchMirror> ScratchMirror::Create(size_t file_size) {
  ScratchMirror mirror;
  mirror.size_ = std::max<size_t>(file_size, 1);
  void* data = ::mmap(nullptr, mirror.size_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (data == MAP_FAILED) return ErrnoError("cannot reserve scratch memory", errno);
  mirror.data_ = data;
  ::madvise(data, mirror.size_, MADV_HUGEPAGE);  // fewer page faults; only a hint
  return mirror;
}

ScratchMirror::ScratchMirror(ScratchMirror&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

ScratchMirror& ScratchMirror::operator=(ScratchMirror&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  return *this;
}

ScratchMirror::~ScratchMirror() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

bool ScratchMirror::Contains(const void* address) const {
  const char* p = static_cast<const char*>(address);
  return data_ != nullptr && p >= At(0) && p < At(size_);
}

absl::Status ScratchMirror::Flush(int fd, size_t offset, size_t length, const std::string& path) const {
  for (size_t written = 0; written < length;) {
    const ssize_t n = ::pwrite(fd, At(offset + written), length - written,
                               static_cast<off_t>(offset + written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError(absl::StrFormat("cannot write %s", path), n < 0 ? errno : EIO);
    written += static_cast<size_t>(n);
  }
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t begin = (offset + page - 1) / page * page, end = (offset + length) / page * page;
  if (end > begin) ::madvise(At(begin), end - begin, MADV_DONTNEED);
  return absl::OkStatus();
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  FileDescriptor in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return ErrnoError(absl::StrFormat("%s: cannot open", from), errno);
  FileDescriptor out(::open(to.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (out.get() < 0) return ErrnoError(absl::StrFormat("cannot write %s", to), errno);
  struct stat info;
  if (::fstat(in.get(), &info) != 0) return ErrnoError(absl::StrFormat("%s: cannot stat", from), errno);
  size_t left = static_cast<size_t>(info.st_size);
  bool kernel_copy = true;
  std::vector<char> buffer;
  while (left > 0) {
    ssize_t copied = -1;
    if (kernel_copy) {
      copied = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, left, 0);
      if (copied < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
        kernel_copy = false;  // another file system, or an old kernel: copy through a buffer
        continue;
      }
    } else {
      buffer.resize(1 << 20);
      const ssize_t got = ::read(in.get(), buffer.data(), std::min(left, buffer.size()));
      if (got > 0) copied = ::write(out.get(), buffer.data(), static_cast<size_t>(got)) == got ? got : -1;
      if (got == 0) break;
    }
    if (copied < 0 && errno == EINTR) continue;
    if (copied <= 0) return ErrnoError(absl::StrFormat("cannot copy %s to %s", from, to), errno ? errno : EIO);
    left -= static_cast<size_t>(copied);
  }
  if (out.Close() != 0) return ErrnoError(absl::StrFormat("cannot write %s", to), errno);
  return absl::OkStatus();
}

absl::StatusOr<std::string> CreateTemporaryBeside(const std::string& path) {
  std::vector<char> name(path.begin(), path.end());
  const std::string suffix = ".tmp-XXXXXX";
  name.insert(name.end(), suffix.begin(), suffix.end());
  name.push_back('\0');
  FileDescriptor file(::mkstemp(name.data()));
  if (file.get() < 0) return ErrnoError(absl::StrFormat("cannot write %s", path), errno);
  return std::string(name.data());
}

absl::Status CommitTemporary(const std::string& temporary, const std::string& path) {
  if (::chmod(temporary.c_str(), 0666 & ~CurrentUmask()) != 0 ||
      ::rename(temporary.c_str(), path.c_str()) != 0) {
    return ErrnoError(absl::StrFormat("cannot write %s", path), errno);
  }
  return absl::OkStatus();
}

}  // namespace onnx_reinit
