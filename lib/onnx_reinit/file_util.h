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

// "<context>: <strerror(error)>", of kind ErrorKind::kFile, with the status code that fits the errno
// (NotFound for ENOENT, PermissionDenied for EACCES and EPERM, else Unavailable).
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

// A whole file mapped read-only into memory, and kept open (for kernel-side copies from it);
// unmapped and closed on destruction. Move-only.
class MappedFile {
 public:
  enum class Mode {
    kRead,      // read-only, pages read in ahead (MAP_POPULATE): for files read whole
    kReadLazy,  // read-only, pages read in on first touch: for large files read in part
    // Like kReadLazy, for files of which a few bytes here and there are read (a model's metadata
    // between the weights): ReadInPrivately copies the pages that will be read into the process
    // first. (Reading a page of the page cache through a mapping maps the whole folio it is part
    // of, up to 2 MiB, which then counts as resident: a VGG16 re-initialization's peak RSS was
    // 24 MiB of such input pages for 0.2 MiB of metadata read.)
    kReadSparse,
  };
  static absl::StatusOr<MappedFile> Open(const std::string& path, Mode mode);
  // Maps the file open as `fd` (which must be readable), through a descriptor of its own; errors
  // name `path`.
  static absl::StatusOr<MappedFile> Open(int fd, const std::string& path, Mode mode);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();

  char* data() const { return static_cast<char*>(data_); }
  size_t size() const { return size_; }
  int fd() const { return file_.get(); }
  const std::string& path() const { return path_; }

  // Copies the pages of bytes [offset, offset + size) of a kReadSparse mapping into private memory
  // (the file's contents, as a write to a private mapping does), so that reading them later maps
  // these 4 KiB copies rather than the page cache's folios around them. Only advice: without it
  // (another mode, or a kernel before Linux 5.14) the bytes read are the same.
  void ReadInPrivately(size_t offset, size_t size) const;

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
  bool writable_ = false;  // kReadSparse: mapped private and writable, for ReadInPrivately
  FileDescriptor file_;
  std::string path_;
};

// Writes data[0 .. size) to `fd` at `offset`, whole (pwrite retried after partial writes and EINTR).
// Errors name `path`.
absl::Status WriteAt(int fd, const char* data, size_t size, int64_t offset, const std::string& path);

// Copies `length` bytes at `from_offset` of `from` to `to_offset` of `to_fd` (the file `to_path`):
// in the kernel (copy_file_range) where the file systems allow it, else through a buffer.
absl::Status CopyRange(const MappedFile& from, int64_t from_offset, int to_fd, int64_t to_offset, int64_t length,
                       const std::string& to_path);

// The folder that holds `path`: "." for a bare file name, "/" for a file at the root.
std::string FolderOf(const std::string& path);

// Whether both paths name one existing file (the same device and inode, after symlinks): the same
// path spelled twice, a symlink to it or a hard link of it. False when either does not exist.
bool SameFile(const std::string& a, const std::string& b);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_FILE_UTIL_H_
