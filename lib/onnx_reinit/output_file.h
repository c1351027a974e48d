// Output files that appear under their name only when complete, and leave nothing behind otherwise:
// every file onnx-reinit writes (models, external data files, reports) goes through OutputFile.
//
// - The file is created unnamed in the destination folder (open with O_TMPFILE): until Commit() it
//   has no name, so whatever ends the process - an error, a signal, kill -9, a crash - the kernel
//   frees it and nothing is left behind.
// - Commit() names it. Where the target does not exist, linkat() gives the file the target's name
//   directly (it fails rather than replace, so this is race-free). Where it exists, the file is
//   linked to a fresh provisional name beside it ("OUT.tmp-XXXXXXXXXXXX"), which is then renamed
//   over the target: readers see the old file or the new one, never a mix. Only kill -9 or a power
//   loss in the moment between that link and that rename can leave the provisional name behind.
// - On a file system that refuses O_TMPFILE (or without /proc), the file is a named temporary
//   "OUT.tmp-XXXXXXXXXXXX" from the start, renamed over the target at Commit().
// - Named temporaries (the fallback, and provisional names) are removed on SIGINT, SIGTERM and SIGHUP
//   by a signal handler, which then re-raises the signal, so the process still ends with it (exit
//   status 130, 143, 129 in a shell). The handler is installed, once, only for signals whose action
//   is still the default (termination): a program that handles or ignores a signal keeps doing so.
//   Up to 32 named temporaries per process are covered at once.
// - With `fsync`, Commit() flushes the file before naming it and the folder after, so the new name
//   and its contents survive a power loss once Commit() returns.
//
// Files get the permissions of a plain create: 0666 minus the umask.
#ifndef ONNX_REINIT_OUTPUT_FILE_H_
#define ONNX_REINIT_OUTPUT_FILE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_reinit/file_util.h"

namespace onnx_reinit {

struct OutputOptions {
  // Durable results: the file, then its name (the folder) flushed to disk before Commit returns.
  bool fsync = false;
  // For tests: skip O_TMPFILE, as on a file system without it.
  bool named_temporary = false;
};

class OutputFile {
 public:
  // Creates the (unnamed or temporary) file for `path`. Errors name `path`: a missing or unwritable
  // folder, or a `path` that is a directory.
  static absl::StatusOr<OutputFile> Create(const std::string& path, const OutputOptions& options = {});

  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&& other) noexcept;
  // Removes the file unless it was committed.
  ~OutputFile();

  // Open for reading and writing (so that it can also be mapped).
  int fd() const { return file_.get(); }
  // The target path: what error messages name.
  const std::string& path() const { return path_; }
  // Whether the file has no name yet (false on the named-temporary fallback).
  bool unnamed() const { return temporary_.empty(); }

  // Checks the complete file under a name in the destination folder, before it replaces the target:
  // `provisional` is that name (for readers that look for files beside it).
  using Validator = std::function<absl::Status(const std::string& provisional)>;

  // Gives the file its name, replacing the target atomically. With a `validate`, the file gets a
  // provisional name first and replaces the target only when `validate` returns OK. On any error
  // the file is removed and the target is untouched. Call once.
  absl::Status Commit(const Validator& validate = nullptr);

 private:
  OutputFile() = default;
  absl::Status Fail(const std::string& what, int error);
  int LinkTo(const std::string& name) const;  // 0 or the errno
  absl::Status CloseCommitted();
  absl::Status CommitUnnamed(const Validator& validate);
  absl::Status CommitNamedTemporary(const Validator& validate);
  absl::Status SyncFolder() const;
  void Discard();

  FileDescriptor file_;
  std::string path_;
  std::string temporary_;  // the fallback's name; empty for an unnamed file
  int cleanup_slot_ = -1;  // the signal handler's entry for temporary_
  OutputOptions options_;
  bool done_ = false;  // committed or discarded
};

// An exclusive lock (flock) on the folder of `path`, held while a run commits several files that
// belong together (a model and its data file), so that two runs writing the same outputs commit one
// after the other and the last run's files all win. Advisory: only onnx-reinit runs take it, and on
// a file system without flock on folders it locks nothing.
class FolderLock {
 public:
  explicit FolderLock(const std::string& path);

 private:
  FileDescriptor folder_;
};

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_OUTPUT_FILE_H_
