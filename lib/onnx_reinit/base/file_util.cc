#include "onnx_reinit/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "onnx_reinit/errors.h"

namespace onnx_reinit {
absl::Status ErrnoError(const std::string& context, int error) {
  const std::string message = absl::StrFormat("%s: %s", context, std::strerror(error));
  const absl::Status status = error == ENOENT                     ? absl::NotFoundError(message)
                              : error == EACCES || error == EPERM ? absl::PermissionDeniedError(message)
                                                                  : absl::UnavailableError(message);
  return WithErrorKind(status, ErrorKind::kFile);
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
  const FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return ErrnoError(absl::StrFormat("%s: cannot open", path), errno);
  return Open(file.get(), path, mode);
}

absl::StatusOr<MappedFile> MappedFile::Open(int fd, const std::string& path, Mode mode) {
  MappedFile mapped;
  mapped.file_ = FileDescriptor(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  mapped.path_ = path;
  if (mapped.fd() < 0) return ErrnoError(absl::StrFormat("%s: cannot open", path), errno);
  struct stat info;
  if (::fstat(mapped.fd(), &info) != 0) return ErrnoError(absl::StrFormat("%s: cannot stat", path), errno);
  mapped.size_ = static_cast<size_t>(info.st_size);
  if (mapped.size_ == 0) return mapped;
  const int flags = mode == Mode::kRead ? MAP_PRIVATE | MAP_POPULATE : MAP_PRIVATE;
  void* data = MAP_FAILED;
  if (mode == Mode::kReadSparse) {
    // Writable only for ReadInPrivately's copies (MAP_NORESERVE: no commit charge for the pages
    // never copied); read-only where the system refuses that.
    data = ::mmap(nullptr, mapped.size_, PROT_READ | PROT_WRITE, flags | MAP_NORESERVE, mapped.fd(), 0);
    mapped.writable_ = data != MAP_FAILED;
  }
  if (data == MAP_FAILED) data = ::mmap(nullptr, mapped.size_, PROT_READ, flags, mapped.fd(), 0);
  if (data == MAP_FAILED) return ErrnoError(absl::StrFormat("%s: cannot map", path), errno);
  mapped.data_ = data;
  return mapped;
}

void MappedFile::ReadInPrivately(size_t offset, size_t size) const {
  if (!writable_ || size == 0 || offset >= size_) return;
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t begin = offset / page * page;
  const size_t end = std::min(size_, offset + size);
  ::madvise(data() + begin, end - begin, MADV_POPULATE_WRITE);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      writable_(std::exchange(other.writable_, false)),
      file_(std::move(other.file_)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  std::swap(writable_, other.writable_);
  std::swap(file_, other.file_);
  std::swap(path_, other.path_);
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

absl::Status WriteAt(int fd, const char* data, size_t size, int64_t offset, const std::string& path) {
  for (size_t written = 0; written < size;) {
    const ssize_t n = ::pwrite(fd, data + written, size - written, static_cast<off_t>(offset + written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError(absl::StrFormat("cannot write %s", path), n < 0 ? errno : EIO);
    written += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status CopyRange(const MappedFile& from, int64_t from_offset, int to_fd, int64_t to_offset, int64_t length,
                       const std::string& to_path) {
  loff_t in = from_offset, out = to_offset;
  for (int64_t left = length; left > 0;) {
    const ssize_t copied = ::copy_file_range(from.fd(), &in, to_fd, &out, static_cast<size_t>(left), 0);
    if (copied < 0 && errno == EINTR) continue;
    if (copied < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
      // Another file system, or an old kernel: write from the mapping.
      return WriteAt(to_fd, from.data() + in, static_cast<size_t>(left), out, to_path);
    }
    if (copied <= 0) {
      return ErrnoError(absl::StrFormat("cannot copy %s to %s", from.path(), to_path), copied < 0 ? errno : EIO);
    }
    left -= copied;
  }
  return absl::OkStatus();
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat first, second;
  return ::stat(a.c_str(), &first) == 0 && ::stat(b.c_str(), &second) == 0 && first.st_dev == second.st_dev &&
         first.st_ino == second.st_ino;
}

std::string FolderOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace onnx_reinit
