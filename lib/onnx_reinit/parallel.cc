#include "onnx_reinit/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace onnx_reinit {

int DefaultThreadCount() {
  return std::max(1u, std::thread::hardware_concurrency());
}

void ParallelFor(int64_t num_tasks, int threads, const std::function<void(int64_t)>& task) {
  const int workers = static_cast<int>(std::clamp<int64_t>(num_tasks, 1, std::max(threads, 1)));
  std::atomic<int64_t> next{0};
  auto drain = [&] {
    for (int64_t i = next.fetch_add(1); i < num_tasks; i = next.fetch_add(1)) task(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (int w = 1; w < workers; ++w) pool.emplace_back(drain);
  drain();
  for (std::thread& thread : pool) thread.join();
}

std::vector<Chunk> SplitIntoChunks(const std::vector<int64_t>& sizes, int64_t max_elements) {
  std::vector<Chunk> chunks;
  for (size_t item = 0; item < sizes.size(); ++item) {
    for (int64_t begin = 0; begin < sizes[item]; begin += max_elements) {
      chunks.push_back(Chunk{item, begin, std::min(sizes[item], begin + max_elements)});
    }
  }
  return chunks;
}

}  // namespace onnx_reinit
