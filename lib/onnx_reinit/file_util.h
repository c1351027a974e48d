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

// A whole file mapped read-only into memory; unmapped on destruction. Move-only.
class MappedFile {
 public:
  enum class Mode {
    kRead,       // read-only, pages read in ahead (MAP_POPULATE): for files read whole
    kReadLazy,   // read-only, pages read in on first touch: for large files read in part
  };
  static absl::StatusOr<MappedFile> Open(const std::string& path, Mode mode);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();

  char* data() const { return static_cast<char*>(data_); }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Scratch memory that mirrors a file's layout, for filling tensors before writing them to the file
// with pwrite: dirtying a shared file mapping page by page costs a file-system fault per page, far
// more than writing the same bytes. The mirror is only reserved address space; pages become
// resident when filled and are freed again by Flush, so memory stays at the size of one batch.
class ScratchMirror {
 public:
  static absl::StatusOr<ScratchMirror> Create(size_t file_size);
  ScratchMirror() = default;
  ScratchMirror(ScratchMirror&& other) noexcept;
  ScratchMirror& operator=(ScratchMirror&& other) noexcept;
  ~ScratchMirror();

  // The address in the mirror of byte `offset` of the file.
  char* At(size_t offset) const { return static_cast<char*>(data_) + offset; }
  // Whether `address` lies in the mirror, and its file offset.
  bool Contains(const void* address) const;
  size_t OffsetOf(const void* address) const { return static_cast<const char*>(address) - At(0); }
  // Writes [offset, offset + length) of the mirror to `fd` at the same offset, then frees the pages
  // that lie wholly inside the range (a page shared with a neighbour stays).
  absl::Status Flush(int fd, size_t offset, size_t length, const std::string& path) const;

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
