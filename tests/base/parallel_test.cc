#include "onnx_reinit/base/parallel.h"

#include <atomic>
#include <vector>

#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

TEST(ParallelFor, RunsEveryTaskOnceOnAnyThreadCount) {
  for (int threads : {1, 2, 5}) {
    std::vector<std::atomic<int>> runs(1000);
    ParallelFor(1000, threads, [&](int64_t t) { ++runs[t]; });
    for (const std::atomic<int>& count : runs) EXPECT_EQ(count, 1);
  }
}

TEST(WorkerPool, RunsEveryTaskOfEachLoopOnceWhileTheCallerGoesOn) {
  for (int threads : {0, 1, 3}) {
    WorkerPool pool(threads);
    for (int loop = 0; loop < 200; ++loop) {
      const int64_t num_tasks = loop % 7;  // including loops without tasks
      std::vector<std::atomic<int>> runs(num_tasks);
      const std::function<void(int64_t)> task = [&](int64_t t) { ++runs[t]; };
      pool.Start(num_tasks, task);
      pool.Wait();
      for (const std::atomic<int>& count : runs) EXPECT_EQ(count, 1) << "loop " << loop;
    }
  }
}

TEST(WorkerPool, DestructionWaitsForTheRunningLoop) {
  std::atomic<int> runs{0};
  const std::function<void(int64_t)> task = [&](int64_t) { ++runs; };
  {
    WorkerPool pool(2);
    pool.Start(10000, task);
  }
  EXPECT_EQ(runs, 10000);
}

}  // namespace
}  // namespace onnx_reinit
