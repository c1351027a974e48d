#include "onnx_reinit/init/streamed_fill.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <utility>

#include "absl/strings/str_format.h"
#include "onnx_reinit/base/parallel.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {
namespace {

// Gaps at least this long are copied in the kernel; shorter ones through the buffer, where a
// system call would cost more than the copy.
constexpr int64_t kKernelCopyBytes = int64_t{64} << 10;
// Elements per fill task (as in Fill): enough to amortize the hand-out, small enough to balance.
constexpr int64_t kTaskElements = int64_t{1} << 16;
// The smallest window: room for a few elements of any type.
constexpr int64_t kMinWindowBytes = 64;

// A run of output bytes, [file_offset, file_offset + size).
struct Piece {
  enum class Kind {
    kFill,          // elements [begin, end) of job's tensor, computed into the buffer
    kBufferedCopy,  // layout's bytes, copied into the buffer
    kKernelCopy,    // layout's bytes, copied file to file
  };
  Kind kind;
  int64_t file_offset = 0;
  int64_t size = 0;
  const FillJob* job = nullptr;
  int64_t begin = 0, end = 0;  // kFill: the elements; kBufferedCopy: the bytes, counted in the gap
  int64_t buffer_offset = 0;   // where a kFill or kBufferedCopy piece is in its window's buffer
};

// The pieces filled into the buffer together, then written together.
struct Window {
  std::vector<Piece> pieces;
  int64_t buffer_bytes = 0;
  int64_t filled_bytes = 0;  // tensor values, for progress
};

int64_t FileOffset(const FillJob& job, const MappedFile& layout) {
  return job.values.ElementAddress(job.begin) - layout.data();
}

int64_t RegionBytes(const FillJob& job) { return (job.region_end() - job.begin) * job.values.StoredWidth(); }

// Cuts the output into windows of at most `window_bytes` of buffer, in file order.
class WindowPlanner {
 public:
  explicit WindowPlanner(int64_t window_bytes) : capacity_(std::max(window_bytes, kMinWindowBytes)) {}

  void AddGap(int64_t from, int64_t to) {
    if (to - from >= kKernelCopyBytes) {
      Add(Piece{Piece::Kind::kKernelCopy, from, to - from});
    } else {
      AddSplit(Piece{Piece::Kind::kBufferedCopy, from, 0, nullptr, 0, to - from}, 1);
    }
  }

  void AddFill(const FillJob& job, int64_t file_offset) {
    const Piece whole{Piece::Kind::kFill, file_offset, RegionBytes(job), &job, job.begin, job.region_end()};
    if (job.distribution.kind() != proto::Distribution::ORTHOGONAL) {
      AddSplit(whole, job.values.StoredWidth());
      return;
    }
    // Computed whole: one piece, in a window of its own if it does not fit.
    if (Room() < whole.size && windows_.back().buffer_bytes > 0) windows_.emplace_back();
    Add(whole);
  }

  std::vector<Window> Finish() && {
    if (windows_.back().pieces.empty()) windows_.pop_back();
    return std::move(windows_);
  }

 private:
  int64_t Room() const { return std::max<int64_t>(0, capacity_ - windows_.back().buffer_bytes); }

  // Adds the units [whole.begin, whole.end) of `unit_bytes` bytes each (elements of a fill, bytes
  // of a copy) as pieces that each fit in a window, starting a new window when one is full.
  void AddSplit(const Piece& whole, int64_t unit_bytes) {
    for (int64_t unit = whole.begin; unit < whole.end;) {
      const int64_t n = std::min(Room() / unit_bytes, whole.end - unit);
      if (n == 0) {
        windows_.emplace_back();
        continue;
      }
      Piece piece = whole;
      piece.file_offset += (unit - whole.begin) * unit_bytes;
      piece.size = n * unit_bytes;
      piece.begin = unit;
      piece.end = unit + n;
      Add(piece);
      unit += n;
    }
  }

  void Add(Piece piece) {
    Window& window = windows_.back();
    if (piece.kind != Piece::Kind::kKernelCopy) {
      piece.buffer_offset = window.buffer_bytes;
      window.buffer_bytes += piece.size;
    }
    if (piece.kind == Piece::Kind::kFill) window.filled_bytes += piece.size;
    window.pieces.push_back(piece);
  }

  int64_t capacity_;
  std::vector<Window> windows_ = std::vector<Window>(1);
};

std::vector<Window> PlanWindows(const std::vector<FillJob>& jobs, const MappedFile& layout,
                                const StreamedFillOptions& options) {
  std::vector<const FillJob*> in_file_order;
  for (const FillJob& job : jobs) {
    if (job.region_end() > job.begin) in_file_order.push_back(&job);
  }
  std::sort(in_file_order.begin(), in_file_order.end(),
            [&](const FillJob* a, const FillJob* b) { return FileOffset(*a, layout) < FileOffset(*b, layout); });
  WindowPlanner planner(options.window_bytes);
  int64_t position = 0;
  for (const FillJob* job : in_file_order) {
    const int64_t offset = FileOffset(*job, layout);
    if (options.copy_gaps) planner.AddGap(position, offset);
    planner.AddFill(*job, offset);
    position = offset + RegionBytes(*job);
  }
  if (options.copy_gaps) planner.AddGap(position, static_cast<int64_t>(layout.size()));
  return std::move(planner).Finish();
}

// A share of a window's buffered pieces to compute or copy into the buffer.
struct FillTask {
  const Piece* piece;
  int64_t begin, end;  // elements, for kFill
};

std::vector<FillTask> FillTasks(const Window& window) {
  std::vector<FillTask> tasks;
  auto matrix = [](const Piece& piece) {
    return piece.kind == Piece::Kind::kFill && piece.job->distribution.kind() == proto::Distribution::ORTHOGONAL;
  };
  // Orthogonal pieces (the longest tasks) first, so that they do not finish last.
  for (const Piece& piece : window.pieces) {
    if (matrix(piece)) tasks.push_back(FillTask{&piece, piece.begin, piece.end});
  }
  for (const Piece& piece : window.pieces) {
    if (piece.kind == Piece::Kind::kBufferedCopy) tasks.push_back(FillTask{&piece, 0, 0});
    if (piece.kind != Piece::Kind::kFill || matrix(piece)) continue;
    for (int64_t e = piece.begin; e < piece.end; e += kTaskElements) {
      tasks.push_back(FillTask{&piece, e, std::min(piece.end, e + kTaskElements)});
    }
  }
  return tasks;
}

void RunFillTask(const FillTask& task, const MappedFile& layout, uint64_t seed, char* buffer) {
  const Piece& piece = *task.piece;
  char* out = buffer + piece.buffer_offset;
  if (piece.kind == Piece::Kind::kBufferedCopy) {
    std::memcpy(out, layout.data() + piece.file_offset, static_cast<size_t>(piece.size));
    return;
  }
  out += (task.begin - piece.begin) * piece.job->values.StoredWidth();
  EncodeRange(*piece.job, seed, task.begin, task.end, out);
}

// Writes the window's pieces in order; runs of buffered pieces that are contiguous in the file go
// out in one pwrite.
absl::Status WriteWindow(const Window& window, const char* buffer, const MappedFile& layout, int fd,
                         const std::string& path) {
  const std::vector<Piece>& pieces = window.pieces;
  for (size_t i = 0; i < pieces.size();) {
    const Piece& first = pieces[i++];
    if (first.kind == Piece::Kind::kKernelCopy) {
      ONNX_REINIT_RETURN_IF_ERROR(CopyRange(layout, first.file_offset, fd, first.file_offset, first.size, path));
      continue;
    }
    int64_t size = first.size;
    while (i < pieces.size() && pieces[i].kind != Piece::Kind::kKernelCopy &&
           pieces[i].file_offset == first.file_offset + size) {
      size += pieces[i++].size;  // buffer offsets follow file offsets within a window
    }
    ONNX_REINIT_RETURN_IF_ERROR(
        WriteAt(fd, buffer + first.buffer_offset, static_cast<size_t>(size), first.file_offset, path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFilled(const std::vector<FillJob>& jobs, const MappedFile& layout, int output_fd,
                         const std::string& output_path, const StreamedFillOptions& options) {
  for (const FillJob& job : jobs) {
    ONNX_REINIT_RETURN_IF_ERROR(CheckFillJob(job));
    const int64_t offset = FileOffset(job, layout);
    if (offset < 0 || offset + RegionBytes(job) > static_cast<int64_t>(layout.size())) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: a tensor to write lies outside %s", output_path, layout.path()));
    }
  }
  const std::vector<Window> windows = PlanWindows(jobs, layout, options);
  int64_t buffer_bytes = 0, total = 0, done = 0;
  for (const Window& window : windows) {
    buffer_bytes = std::max(buffer_bytes, window.buffer_bytes);
    total += window.filled_bytes;
  }
  // Two buffers: one being written (by this thread) while the other is filled (by the pool). Not
  // zeroed: every byte written is computed or copied first.
  const std::unique_ptr<char[]> buffers[2] = {std::unique_ptr<char[]>(new char[buffer_bytes]),
                                              std::unique_ptr<char[]>(new char[buffer_bytes])};
  std::vector<FillTask> tasks[2];
  std::function<void(int64_t)> fill[2];
  // This thread is one of the `threads`: it writes, and fills when it has nothing to write (on one
  // thread it does everything, filling a window and then writing it).
  WorkerPool pool(std::max(0, options.threads - 1));
  auto start_filling = [&](size_t w) {
    const size_t b = w % 2;
    tasks[b] = FillTasks(windows[w]);
    fill[b] = [&, b](int64_t t) { RunFillTask(tasks[b][t], layout, options.seed, buffers[b].get()); };
    pool.Start(static_cast<int64_t>(tasks[b].size()), fill[b]);
  };
  if (!windows.empty()) start_filling(0);
  for (size_t w = 0; w < windows.size(); ++w) {
    pool.Wait();
    if (w + 1 < windows.size()) start_filling(w + 1);
    ONNX_REINIT_RETURN_IF_ERROR(WriteWindow(windows[w], buffers[w % 2].get(), layout, output_fd, output_path));
    done += windows[w].filled_bytes;
    if (options.progress) options.progress(done, total);
  }
  return absl::OkStatus();
}

}  // namespace onnx_reinit
