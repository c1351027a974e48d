// A minimal parallel-for over independent tasks.
#ifndef ONNX_REINIT_PARALLEL_H_
#define ONNX_REINIT_PARALLEL_H_

#include <cstdint>
#include <functional>
#include <vector>

namespace onnx_reinit {

// The number of threads to use when the caller asks for 0 ("all"): the hardware concurrency, at least 1.
int DefaultThreadCount();

// Runs task(0) .. task(num_tasks - 1) on up to `threads` threads (the calling thread included) and
// returns when all are done. Tasks are handed out in index order from a shared counter, so a task
// should be a loop over a chunk big enough to amortize that hand-out (~tens of microseconds).
// Tasks must write disjoint memory; their order of completion is unspecified.
void ParallelFor(int64_t num_tasks, int threads, const std::function<void(int64_t)>& task);

// A range [begin, end) of the elements of item `item`.
struct Chunk {
  size_t item;
  int64_t begin, end;
};

// Splits items of the given sizes into consecutive chunks of at most `max_elements` elements, item
// by item. The split depends only on the sizes, never on the thread count.
std::vector<Chunk> SplitIntoChunks(const std::vector<int64_t>& sizes, int64_t max_elements);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_PARALLEL_H_
