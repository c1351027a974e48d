#include "onnx_reinit/fill.h"

#include <algorithm>
#include <array>

#include "onnx_reinit/parallel.h"
#include "onnx_reinit/rng.h"

namespace onnx_reinit {
namespace {

// Elements per task. Large enough to amortize the task hand-out, small enough to balance 2-64 threads.
constexpr int64_t kChunkElements = int64_t{1} << 16;
// Elements generated into a stack buffer before they are written to the tensor.
constexpr int64_t kBatchElements = 1024;

inline uint64_t Join64(uint32_t low, uint32_t high) {
  return static_cast<uint64_t>(high) << 32 | low;
}

// The raw (unrounded) values that block `block` of a stream provides: out[0..3] for float-grade
// tensors, out[0..1] for float64.
void BlockValues(const proto::Distribution& d, bool double_grade, uint64_t seed, uint64_t stream,
                uint64_t block, std::array<double, 4>& out) {
  const PhiloxBlock words = RandomBlock(seed, stream, block);
  std::array<double, 4> unit;
  int n;
  if (double_grade) {
    unit = {UnitOpen52(Join64(words[0], words[1])), UnitOpen52(Join64(words[2], words[3])), 0, 0};
    n = 2;
  } else {
    unit = {UnitOpen23(words[0]), UnitOpen23(words[1]), UnitOpen23(words[2]), UnitOpen23(words[3])};
    n = 4;
  }
  if (d.kind() == proto::Distribution::UNIFORM) {
    const double width = d.high() - d.low();
    for (int k = 0; k < n; ++k) out[k] = d.low() + unit[k] * width;
    return;
  }
  for (int pair = 0; pair < n; pair += 2) {
    std::array<double, 2> z;
    if (double_grade) {
      z = BoxMuller(unit[pair], unit[pair + 1]);
    } else {  // UnitOpen23 values are exact in a float
      const std::array<float, 2> zf =
          BoxMullerFloat(static_cast<float>(unit[pair]), static_cast<float>(unit[pair + 1]));
      z = {zf[0], zf[1]};
    }
    out[pair] = d.mean() + d.std() * z[0];
    out[pair + 1] = d.mean() + d.std() * z[1];
  }
}

double ClampToRange(FloatType type, double rounded, double low, double high) {
  if (rounded > high) return NextToward(type, rounded, low);
  if (rounded < low) return NextToward(type, rounded, high);
  return rounded;
}

// Packs consecutive chunks into tasks of about kChunkElements each, so that small tensors share a
// task while big ones are split.
std::vector<std::vector<Chunk>> PlanTasks(const std::vector<FillJob>& jobs) {
  std::vector<int64_t> sizes;
  for (const FillJob& job : jobs) sizes.push_back(job.region_end() - job.begin);
  std::vector<std::vector<Chunk>> tasks;
  int64_t filled = kChunkElements;
  for (const Chunk& chunk : SplitIntoChunks(sizes, kChunkElements)) {
    if (filled + (chunk.end - chunk.begin) > kChunkElements) {
      tasks.emplace_back();
      filled = 0;
    }
    tasks.back().push_back(chunk);
    filled += chunk.end - chunk.begin;
  }
  return tasks;
}

}  // namespace

void SampleRange(const FillJob& job, uint64_t seed, int64_t begin, int64_t end, double* out) {
  const proto::Distribution& d = job.distribution;
  const FloatType type = job.values.type();
  if (d.kind() == proto::Distribution::CONSTANT) {
    std::fill(out, out + (end - begin), RoundTo(type, d.value()));
    return;
  }
  const bool double_grade = type == FloatType::kFloat64;
  const int64_t per_block = double_grade ? 2 : 4;
  const bool uniform = d.kind() == proto::Distribution::UNIFORM;
  std::array<double, 4> block_values;
  for (int64_t block = begin / per_block; block * per_block < end; ++block) {
    BlockValues(d, double_grade, seed, job.stream, static_cast<uint64_t>(block), block_values);
    const int64_t first = std::max(begin, block * per_block);
    const int64_t last = std::min(end, (block + 1) * per_block);
    for (int64_t i = first; i < last; ++i) {
      double value = RoundTo(type, block_values[i - block * per_block]);
      if (uniform) value = ClampToRange(type, value, d.low(), d.high());
      out[i - begin] = value;
    }
  }
}

void Fill(const std::vector<FillJob>& jobs, uint64_t seed, int threads) {
  const std::vector<std::vector<Chunk>> tasks = PlanTasks(jobs);
  ParallelFor(static_cast<int64_t>(tasks.size()), threads, [&](int64_t t) {
    std::array<double, kBatchElements> buffer;
    for (const Chunk& chunk : tasks[t]) {
      const FillJob& job = jobs[chunk.item];
      const int64_t chunk_end = job.begin + chunk.end;
      for (int64_t begin = job.begin + chunk.begin; begin < chunk_end; begin += kBatchElements) {
        const int64_t end = std::min(chunk_end, begin + kBatchElements);
        SampleRange(job, seed, begin, end, buffer.data());
        job.values.Write(begin, buffer.data(), end - begin);
      }
    }
  });
}

}  // namespace onnx_reinit
