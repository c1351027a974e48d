// A minimal parallel-for over independent tasks.
#ifndef ONNX_REINIT_BASE_PARALLEL_H_
#define ONNX_REINIT_BASE_PARALLEL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace onnx_reinit {

// The number of threads to use when the caller asks for 0 ("all"): the hardware concurrency, at least 1.
int DefaultThreadCount();
// `threads` if positive, else DefaultThreadCount(): the meaning of a thread-count option.
int ResolveThreadCount(int threads);

// Runs task(0) .. task(num_tasks - 1) on up to `threads` threads (the calling thread included) and
// returns when all are done. Tasks are handed out in index order from a shared counter, so a task
// should be a loop over a chunk big enough to amortize that hand-out (~tens of microseconds).
// Tasks must write disjoint memory; their order of completion is unspecified.
void ParallelFor(int64_t num_tasks, int threads, const std::function<void(int64_t)>& task);

// Threads kept for a sequence of parallel loops that run in the background while the caller does
// something else (e.g. writes the previous loop's results): starting threads for each of many
// short loops would cost more than their work. Start one loop at a time; Wait before the next.
class WorkerPool {
 public:
  // With no threads, the loops run on the caller, in Wait.
  explicit WorkerPool(int threads);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool();  // waits for the running loop

  // Runs task(0) .. task(num_tasks - 1) on the pool's threads, handed out in index order as in
  // ParallelFor, and returns at once. `task` must stay valid until Wait returns.
  void Start(int64_t num_tasks, const std::function<void(int64_t)>& task);
  // Returns when the loop last started is done, running its tasks not yet taken on the calling
  // thread meanwhile.
  void Wait();

 private:
  void Work();

  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t num_tasks_ = 0;
  std::atomic<int64_t> next_{0};
  uint64_t loop_ = 0;  // how many loops were started
  int running_ = 0;    // threads still working on the current loop
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// A range [begin, end) of the elements of item `item`.
struct Chunk {
  size_t item;
  int64_t begin, end;
};

// Splits items of the given sizes into consecutive chunks of at most `max_elements` elements, item
// by item. The split depends only on the sizes, never on the thread count.
std::vector<Chunk> SplitIntoChunks(const std::vector<int64_t>& sizes, int64_t max_elements);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_BASE_PARALLEL_H_
