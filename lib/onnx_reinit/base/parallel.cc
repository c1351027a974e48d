#include "onnx_reinit/base/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace onnx_reinit {

int DefaultThreadCount() { return std::max(1u, std::thread::hardware_concurrency()); }

int ResolveThreadCount(int threads) { return threads > 0 ? threads : DefaultThreadCount(); }

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

WorkerPool::WorkerPool(int threads) {
  for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { Work(); });
}

WorkerPool::~WorkerPool() {
  Wait();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void WorkerPool::Start(int64_t num_tasks, const std::function<void(int64_t)>& task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    num_tasks_ = num_tasks;
    next_ = 0;
    running_ = static_cast<int>(threads_.size());
    ++loop_;
  }
  start_.notify_all();
}

void WorkerPool::Wait() {
  // The caller is free by now: it helps with what is left of the loop.
  for (int64_t i = next_.fetch_add(1); i < num_tasks_; i = next_.fetch_add(1)) (*task_)(i);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return running_ == 0; });
}

void WorkerPool::Work() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return stop_ || loop_ != seen; });
      if (stop_) return;
      seen = loop_;
    }
    // task_ and num_tasks_ were set before loop_ changed, under the mutex just taken.
    for (int64_t i = next_.fetch_add(1); i < num_tasks_; i = next_.fetch_add(1)) (*task_)(i);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--running_ == 0) done_.notify_all();
  }
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
