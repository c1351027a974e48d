// The write-only floor of a re-initialization: writes SIZE bytes to PATH from memory exactly as
// onnx-reinit writes its output (an unnamed O_TMPFILE file made by OutputFile, pwrite in 2 MiB
// windows from one reused buffer, then linked under its name), and computes next to nothing.
//
//     write_floor PATH SIZE
//
// bench/bench.py times it beside onnx-reinit; docs/benchmarks.md says why it replaced dd.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "onnx_reinit/file_util.h"
#include "onnx_reinit/output_file.h"

namespace {

// StreamedFillOptions::window_bytes, the size of onnx-reinit's writes.
constexpr int64_t kWindowBytes = int64_t{2} << 20;

absl::Status WriteFloor(const std::string& path, int64_t size) {
  absl::StatusOr<onnx_reinit::OutputFile> file = onnx_reinit::OutputFile::Create(path);
  if (!file.ok()) return file.status();
  // Bytes like a model's: no two 4 KiB pages of the file alike. Files of repeated pages (dd from
  // /dev/zero, one constant window) wrote 3-30x slower on the project's VM, and only some of the
  // time (see docs/benchmarks.md).
  std::vector<uint64_t> window(kWindowBytes / sizeof(uint64_t));
  uint64_t state = 0x9e3779b97f4a7c15;
  for (uint64_t& word : window) word = state = state * 6364136223846793005u + 1442695040888963407u;
  constexpr size_t kWordsPerPage = 4096 / sizeof(uint64_t);
  for (int64_t offset = 0; offset < size; offset += kWindowBytes) {
    for (size_t page = 0; page < window.size(); page += kWordsPerPage) window[page] = offset + page;
    const size_t bytes = static_cast<size_t>(std::min(kWindowBytes, size - offset));
    if (absl::Status written =
            onnx_reinit::WriteAt(file->fd(), reinterpret_cast<const char*>(window.data()), bytes, offset, path);
        !written.ok()) {
      return written;
    }
  }
  return file->Commit();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: write_floor PATH SIZE\n");
    return 2;
  }
  const absl::Status status = WriteFloor(argv[1], std::strtoll(argv[2], nullptr, 10));
  if (!status.ok()) {
    std::fprintf(stderr, "write_floor: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
