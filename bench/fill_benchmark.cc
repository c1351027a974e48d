// Google Benchmark of the fill: values/s through the public Fill() on a 64 Mi-element tensor with 1
// and 2 threads, and of the kernels alone on an L2-sized buffer.
//
//   fill_benchmark [--benchmark_filter=...] [--benchmark_repetitions=N]
//
// The tensors are allocated and written once before timing (pre-faulted), so page faults are not
// measured. Each 2-thread case reports `speedup_vs_1t`: its values/s over the same case's 1-thread
// values/s (both measured in this process by wall clock; run the 1-thread case too, which the
// registration order does by default). `Mvalues/cpu_s` and `cores_used` (process CPU time over
// wall time) tell a lack of scaling apart from a lack of free cores.
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {
namespace {

constexpr int64_t kFillElements = int64_t{64} << 20;    // 64 Mi
constexpr int64_t kKernelElements = int64_t{64} << 10;  // 64 Ki values: 256 KiB of float, 512 KiB of double
constexpr uint64_t kSeed = 1234;

proto::Distribution Normal() {
  proto::Distribution d;
  d.set_kind(proto::Distribution::NORMAL);
  d.set_std(0.02);
  return d;
}

proto::Distribution Uniform() {
  proto::Distribution d;
  d.set_kind(proto::Distribution::UNIFORM);
  d.set_low(-0.1);
  d.set_high(0.1);
  return d;
}

// One pre-faulted tensor per element type, shared by the cases (allocated on first use).
onnx::TensorProto& Tensor(int32_t data_type) {
  static std::map<int32_t, std::unique_ptr<onnx::TensorProto>> tensors;
  std::unique_ptr<onnx::TensorProto>& tensor = tensors[data_type];
  if (!tensor) {
    tensor = std::make_unique<onnx::TensorProto>();
    tensor->set_name("w");
    tensor->set_data_type(data_type);
    tensor->add_dims(kFillElements);
    const int width = data_type == onnx::TensorProto::DOUBLE ? 8 : data_type == onnx::TensorProto::FLOAT ? 4 : 2;
    tensor->mutable_raw_data()->assign(static_cast<size_t>(kFillElements) * width, '\x01');
  }
  return *tensor;
}

// CPU seconds used so far by the whole process (all threads).
double ProcessCpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// Values/s of the 1-thread run of each case, for the 2-thread run's ratio.
std::map<std::string, double>& OneThreadRates() {
  static std::map<std::string, double> rates;
  return rates;
}

void BM_Fill(benchmark::State& state, int32_t data_type, proto::Distribution d, std::string name) {
  const int threads = static_cast<int>(state.range(0));
  auto values = TensorValues::Bind(Tensor(data_type), "w");
  if (!values.ok()) {
    state.SkipWithError(std::string(values.status().message()).c_str());
    return;
  }
  const std::vector<FillJob> jobs = {FillJob{*values, d, StreamIdForName("w")}};
  Fill(jobs, kSeed, threads);  // warm-up (and first touch, if the assign above was elided)
  double seconds = 0;
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    Fill(jobs, kSeed, threads);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const int64_t items = state.iterations() * kFillElements;
  state.SetItemsProcessed(items);
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;
  const double rate = items / seconds;
  state.counters["Mvalues/s/thread"] = rate / threads / 1e6;
  // Values per CPU-second over all threads, and the share of `threads` cores the fill got: on a
  // shared machine a 2-thread run that gets less than 2 cores shows it here.
  state.counters["Mvalues/cpu_s"] = items / cpu_seconds / 1e6;
  state.counters["cores_used"] = cpu_seconds / seconds;
  if (threads == 1) {
    OneThreadRates()[name] = rate;
  } else if (OneThreadRates().count(name)) {
    state.counters["speedup_vs_1t"] = rate / OneThreadRates()[name];
  }
}

BENCHMARK_CAPTURE(BM_Fill, normal_f32, onnx::TensorProto::FLOAT, Normal(), "normal_f32")
    ->Arg(1)
    ->Arg(2)
    ->ArgName("threads")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Fill, uniform_f32, onnx::TensorProto::FLOAT, Uniform(), "uniform_f32")
    ->Arg(1)
    ->Arg(2)
    ->ArgName("threads")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Fill, normal_f16, onnx::TensorProto::FLOAT16, Normal(), "normal_f16")
    ->Arg(1)
    ->Arg(2)
    ->ArgName("threads")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Fill, normal_f64, onnx::TensorProto::DOUBLE, Normal(), "normal_f64")
    ->Arg(1)
    ->Arg(2)
    ->ArgName("threads")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// EncodeRange (kernel + rounding and encoding to the type) into an L2-sized buffer, one thread: the
// work per window of a streamed rewrite.
void BM_EncodeRange(benchmark::State& state, int32_t data_type, proto::Distribution d) {
  auto values = TensorValues::Bind(Tensor(data_type), "w");
  const FillJob job{*values, d, StreamIdForName("w")};
  std::vector<char> out(kKernelElements * values->StoredWidth());
  int64_t begin = 0;
  for (auto _ : state) {
    EncodeRange(job, kSeed, begin, begin + kKernelElements, out.data());
    benchmark::DoNotOptimize(out.data());
    begin = (begin + kKernelElements) % (kFillElements - kKernelElements);
  }
  state.SetItemsProcessed(state.iterations() * kKernelElements);
}
BENCHMARK_CAPTURE(BM_EncodeRange, normal_f32, onnx::TensorProto::FLOAT, Normal());
BENCHMARK_CAPTURE(BM_EncodeRange, uniform_f32, onnx::TensorProto::FLOAT, Uniform());
BENCHMARK_CAPTURE(BM_EncodeRange, normal_f64, onnx::TensorProto::DOUBLE, Normal());

// The SIMD kernels alone (rng.h), into an L2-sized buffer of 64 Ki values, on the best target and
// on each other one this CPU has (Arg = index into SimdTargets(); the label names it).
void BM_KernelStandardNormals(benchmark::State& state) {
  const std::vector<std::string> targets = SimdTargets();
  if (!UseSimdTarget(targets.at(state.range(0)))) state.SkipWithError("no such target");
  state.SetLabel(CurrentSimdTarget());
  std::vector<float> out(kKernelElements);
  uint64_t block = 0;
  for (auto _ : state) {
    StandardNormalsFloat(kSeed, 7, block, kKernelElements / 4, out.data());
    benchmark::DoNotOptimize(out.data());
    block += kKernelElements / 4;
  }
  UseSimdTarget("");
  state.SetItemsProcessed(state.iterations() * kKernelElements);
}
BENCHMARK(BM_KernelStandardNormals)->DenseRange(0, static_cast<int>(SimdTargets().size()) - 1);

void BM_KernelRandomWords(benchmark::State& state) {
  const std::vector<std::string> targets = SimdTargets();
  if (!UseSimdTarget(targets.at(state.range(0)))) state.SkipWithError("no such target");
  state.SetLabel(CurrentSimdTarget());
  std::vector<uint32_t> out(kKernelElements);
  uint64_t block = 0;
  for (auto _ : state) {
    RandomWords(kSeed, 7, block, kKernelElements / 4, out.data());
    benchmark::DoNotOptimize(out.data());
    block += kKernelElements / 4;
  }
  UseSimdTarget("");
  state.SetItemsProcessed(state.iterations() * kKernelElements);
}
BENCHMARK(BM_KernelRandomWords)->DenseRange(0, static_cast<int>(SimdTargets().size()) - 1);

// The best target's normal kernel on 1 and 2 benchmark threads, each on its own L2-sized buffer: the
// scaling of the computation alone, without DRAM traffic (items/s summed over the threads).
void BM_KernelNormalsThreads(benchmark::State& state) {
  std::vector<float> out(kKernelElements);
  uint64_t block = static_cast<uint64_t>(state.thread_index()) << 40;
  for (auto _ : state) {
    StandardNormalsFloat(kSeed, 7, block, kKernelElements / 4, out.data());
    benchmark::DoNotOptimize(out.data());
    block += kKernelElements / 4;
  }
  state.SetItemsProcessed(state.iterations() * kKernelElements);
}
BENCHMARK(BM_KernelNormalsThreads)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace onnx_reinit

BENCHMARK_MAIN();
