// Small POSIX file helpers shared by the I/O modules: owned descriptors, memory mappings, errors.
#ifndef ONNX_REINIT_FILE_UTIL_H_
#define ONNX_REINIT_FILE_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onnx_reinit {

// "<context>: <strerror(error)>", with the status code that fits the errno (NotFound for ENOENT...).
absl::Status ErrnoError(const std::string& context, int error);

// Closes the descriptor on every path out of a scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  ~FileDescriptor();

  int get() const { return fd_; }
  // Closes now, returning close()'s result: a deferred write error may surface there.
  int Close();

 private:
  int fd_;
};

// A whole file mapped into memory; unmapped on destruction. Move-only.
class MappedFile {
 public:
  enum class Mode {
    kRead,       // read-only, pages read in ahead (MAP_POPULATE): for files read whole
    kReadLazy,   // read-only, pages read in on first touch: for large files read in part
    kReadWrite,  // shared: writes go to the file
  };
  static absl::StatusOr<MappedFile> Open(const std::string& path, Mode mode);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();

  char* data() const { return static_cast<char*>(data_); }
  size_t size() const { return size_; }
  // Drops the pages of [offset, offset + length) from this process's memory. For a shared mapping
  // nothing is lost: written data stays in the page cache on its way to the file.
  void Release(size_t offset, size_t length) const;

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Copies the whole of `from` into the new file `to` (which must not exist), in the kernel where it
// can (copy_file_range). On error `to` is removed.
absl::Status CopyFile(const std::string& from, const std::string& to);

// A path for a temporary file beside `path`: "path.tmp-XXXXXX", created empty (mode 0600).
absl::StatusOr<std::string> CreateTemporaryBeside(const std::string& path);

// Gives a finished temporary file the permissions of a plain create (0666 minus the umask) and
// renames it to `path`.
absl::Status CommitTemporary(const std::string& temporary, const std::string& path);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_FILE_UTIL_H_
