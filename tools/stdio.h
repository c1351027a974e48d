// "-" as a model path: the model read from stdin or written to stdout. The library works on files
// (it maps them and writes beside them), so the model goes through a private temporary directory.
#ifndef ONNX_REINIT_TOOLS_STDIO_H_
#define ONNX_REINIT_TOOLS_STDIO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onnx_reinit::cli {

inline constexpr char kStdio[] = "-";

// A directory made with mkdtemp under $TMPDIR (or /tmp), removed with its contents on destruction.
class ScratchDir {
 public:
  static absl::StatusOr<ScratchDir> Create();
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir();

  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Copies everything from the descriptor `from` into a new file `path`.
absl::Status CopyStreamToFile(int from, const std::string& path);
// Copies the file `path` to the descriptor `to`; `to_name` names it in errors.
absl::Status CopyFileToStream(const std::string& path, int to, const std::string& to_name);

}  // namespace onnx_reinit::cli

#endif  // ONNX_REINIT_TOOLS_STDIO_H_
