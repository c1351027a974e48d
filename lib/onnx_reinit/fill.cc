#include "onnx_reinit/fill.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/orthogonal.h"
#include "onnx_reinit/parallel.h"
#include "onnx_reinit/rng.h"
#include "onnx_reinit/scheme.h"  // CheckShapeForScheme
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {
namespace {

// Elements per task. Large enough to amortize the task hand-out, small enough to balance 2-64 threads.
constexpr int64_t kChunkElements = int64_t{1} << 16;
// Elements generated into a stack buffer before they are written to the tensor.
constexpr int64_t kBatchElements = 1024;

inline uint64_t Join64(uint32_t low, uint32_t high) {
  return static_cast<uint64_t>(high) << 32 | low;
}

// The uniforms in (0, 1) that block `block` of a stream provides: unit[0..3] for float-grade
// tensors, unit[0..1] for float64. Returns how many.
int BlockUnits(bool double_grade, uint64_t seed, uint64_t stream, uint64_t block,
               std::array<double, 4>& unit) {
  const PhiloxBlock words = RandomBlock(seed, stream, block);
  if (double_grade) {
    unit = {UnitOpen52(Join64(words[0], words[1])), UnitOpen52(Join64(words[2], words[3])), 0, 0};
    return 2;
  }
  unit = {UnitOpen23(words[0]), UnitOpen23(words[1]), UnitOpen23(words[2]), UnitOpen23(words[3])};
  return 4;
}

// The raw (unrounded) values that block `block` of a stream provides for a UNIFORM or NORMAL
// distribution: out[0..3] for float-grade tensors, out[0..1] for float64.
void BlockValues(const proto::Distribution& d, bool double_grade, uint64_t seed, uint64_t stream,
                uint64_t block, std::array<double, 4>& out) {
  std::array<double, 4> unit;
  const int n = BlockUnits(double_grade, seed, stream, block, unit);
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

// Inverse-CDF sampling of N(mean, std) restricted to [low, high] (std > 0), one uniform per value.
// When the cut lies mostly above the mean it samples the mirror image [-b, -a] and negates, so
// that Phi is evaluated in the lower tail, where it keeps its relative precision.
class TruncatedNormalSampler {
 public:
  explicit TruncatedNormalSampler(const proto::Distribution& d)
      : mean_(d.mean()), std_(d.std()), low_(d.low()), high_(d.high()) {
    double a = (low_ - mean_) / std_, b = (high_ - mean_) / std_;
    mirrored_ = a + b > 0;
    if (mirrored_) {  // [a, b] -> [-b, -a]
      const double mirrored_a = -b;
      b = -a;
      a = mirrored_a;
    }
    cdf_a_ = NormalCdf(a);
    cdf_width_ = NormalCdf(b) - cdf_a_;
  }

  // The value for the uniform u in (0, 1), inside [low, high].
  double operator()(double u) const {
    const double z = NormalQuantile(cdf_a_ + u * cdf_width_);
    return std::clamp(mean_ + std_ * (mirrored_ ? -z : z), low_, high_);
  }

 private:
  double mean_, std_, low_, high_;
  bool mirrored_;
  double cdf_a_, cdf_width_;
};

// Structured kinds: the 2-D view of a region, rows = shape[0] x cols = the rest.
int64_t Rows(const FillJob& job) { return job.shape.empty() ? 0 : job.shape[0]; }
int64_t Cols(const FillJob& job) {
  int64_t cols = 1;
  for (size_t k = 1; k < job.shape.size(); ++k) cols *= job.shape[k];
  return cols;
}

// The orthogonal matrix of an ORTHOGONAL job's whole region, unrounded, row-major: element
// job.begin + k is entry k. Its Gaussian entries are the values the normal scheme (N(0, 1)) would
// draw for the same elements.
std::vector<double> OrthogonalRegion(const FillJob& job, uint64_t seed) {
  const int64_t begin = job.begin, end = job.region_end();
  std::vector<double> matrix(end - begin);
  proto::Distribution standard;
  standard.set_kind(proto::Distribution::NORMAL);
  standard.set_std(1.0);
  const bool double_grade = job.values.type() == FloatType::kFloat64;
  const int64_t per_block = double_grade ? 2 : 4;
  std::array<double, 4> block_values;
  for (int64_t block = begin / per_block; block * per_block < end; ++block) {
    BlockValues(standard, double_grade, seed, job.stream, static_cast<uint64_t>(block), block_values);
    const int64_t first = std::max(begin, block * per_block);
    const int64_t last = std::min(end, (block + 1) * per_block);
    for (int64_t i = first; i < last; ++i) matrix[i - begin] = block_values[i - block * per_block];
  }
  if (!matrix.empty()) MakeOrthogonal(Rows(job), Cols(job), job.distribution.gain(), matrix.data());
  return matrix;
}

// IDENTITY and DIRAC: the value of region element `local` (0-based within the region).
double StructuredValue(const FillJob& job, int64_t local) {
  const proto::Distribution& d = job.distribution;
  if (d.kind() == proto::Distribution::IDENTITY) {
    const int64_t cols = job.shape[1];
    return local / cols == local % cols ? d.gain() : 0.0;
  }
  // DIRAC, shape [out, in/groups, k1, ...]: 1 at [g * out_per_group + j, j, k1 / 2, ...].
  int64_t rest = local;
  for (size_t axis = job.shape.size() - 1; axis >= 2; --axis) {
    if (rest % job.shape[axis] != job.shape[axis] / 2) return 0.0;
    rest /= job.shape[axis];
  }
  const int64_t in = rest % job.shape[1], out = rest / job.shape[1];
  const int64_t out_per_group = job.shape[0] / job.groups;
  return out % out_per_group == in ? d.gain() : 0.0;
}

// Packs consecutive chunks into tasks of about kChunkElements each, so that small tensors share a
// task while big ones are split. `sizes` are the jobs' region sizes (0 for jobs done otherwise).
std::vector<std::vector<Chunk>> PlanTasks(const std::vector<int64_t>& sizes) {
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

absl::Status CheckFillJob(const FillJob& job) {
  const int64_t size = job.values.size(), end = job.region_end();
  if (job.begin < 0 || job.begin > end || end > size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "region [%d, %d) is outside the tensor's %d elements", job.begin, end, size));
  }
  SchemeKind kind;
  switch (job.distribution.kind()) {
    case proto::Distribution::ORTHOGONAL: kind = SchemeKind::kOrthogonal; break;
    case proto::Distribution::IDENTITY: kind = SchemeKind::kIdentity; break;
    case proto::Distribution::DIRAC: kind = SchemeKind::kDirac; break;
    default: return absl::OkStatus();
  }
  ONNX_REINIT_RETURN_IF_ERROR(CheckShapeForScheme(kind, job.shape, job.groups));
  int64_t count = 1;
  for (int64_t dim : job.shape) {
    if (dim == 0) count = 0;
    if (count > 0 && dim > (end - job.begin) / count) {  // would exceed the region (or overflow)
      count = -1;
      break;
    }
    count *= dim;
  }
  if (count != end - job.begin) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "shape [%s] does not match the region [%d, %d) of %d elements",
        absl::StrJoin(job.shape, ", "), job.begin, end, end - job.begin));
  }
  return absl::OkStatus();
}

void SampleRange(const FillJob& job, uint64_t seed, int64_t begin, int64_t end, double* out) {
  const proto::Distribution& d = job.distribution;
  const FloatType type = job.values.type();
  switch (d.kind()) {
    case proto::Distribution::CONSTANT:
      std::fill(out, out + (end - begin), RoundTo(type, d.value()));
      return;
    case proto::Distribution::ORTHOGONAL: {
      const std::vector<double> matrix = OrthogonalRegion(job, seed);
      for (int64_t i = begin; i < end; ++i) out[i - begin] = RoundTo(type, matrix[i - job.begin]);
      return;
    }
    case proto::Distribution::IDENTITY:
    case proto::Distribution::DIRAC:
      for (int64_t i = begin; i < end; ++i) {
        out[i - begin] = RoundTo(type, StructuredValue(job, i - job.begin));
      }
      return;
    case proto::Distribution::TRUNCATED_NORMAL:
      if (!(d.std() > 0)) {  // a zero std: every value is the mean
        std::fill(out, out + (end - begin), RoundTo(type, d.mean()));
        return;
      }
      break;
    default: break;
  }
  const bool double_grade = type == FloatType::kFloat64;
  const int64_t per_block = double_grade ? 2 : 4;
  const bool truncated = d.kind() == proto::Distribution::TRUNCATED_NORMAL;
  const bool bounded = truncated || d.kind() == proto::Distribution::UNIFORM;
  std::optional<TruncatedNormalSampler> truncated_normal;
  if (truncated) truncated_normal.emplace(d);
  std::array<double, 4> block_values;
  for (int64_t block = begin / per_block; block * per_block < end; ++block) {
    if (truncated) {  // one uniform per value, like UNIFORM
      std::array<double, 4> unit;
      const int n = BlockUnits(double_grade, seed, job.stream, static_cast<uint64_t>(block), unit);
      for (int k = 0; k < n; ++k) block_values[k] = (*truncated_normal)(unit[k]);
    } else {
      BlockValues(d, double_grade, seed, job.stream, static_cast<uint64_t>(block), block_values);
    }
    const int64_t first = std::max(begin, block * per_block);
    const int64_t last = std::min(end, (block + 1) * per_block);
    for (int64_t i = first; i < last; ++i) {
      double value = RoundTo(type, block_values[i - block * per_block]);
      if (bounded) value = ClampToRange(type, value, d.low(), d.high());
      out[i - begin] = value;
    }
  }
}

void Fill(const std::vector<FillJob>& jobs, uint64_t seed, int threads) {
  std::vector<size_t> matrix_jobs;  // ORTHOGONAL: one task each, run first
  std::vector<int64_t> sizes;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (const absl::Status status = CheckFillJob(jobs[j]); !status.ok()) {
      std::fprintf(stderr, "onnx_reinit::Fill: job %zu: %s\n", j, std::string(status.message()).c_str());
      std::abort();
    }
    const bool matrix = jobs[j].distribution.kind() == proto::Distribution::ORTHOGONAL;
    if (matrix) matrix_jobs.push_back(j);
    sizes.push_back(matrix ? 0 : jobs[j].region_end() - jobs[j].begin);
  }
  const std::vector<std::vector<Chunk>> tasks = PlanTasks(sizes);
  const int64_t num_matrix = static_cast<int64_t>(matrix_jobs.size());
  ParallelFor(num_matrix + static_cast<int64_t>(tasks.size()), threads, [&](int64_t t) {
    if (t < num_matrix) {
      const FillJob& job = jobs[matrix_jobs[t]];
      const std::vector<double> matrix = OrthogonalRegion(job, seed);
      job.values.Write(job.begin, matrix.data(), static_cast<int64_t>(matrix.size()));
      return;
    }
    std::array<double, kBatchElements> buffer;
    for (const Chunk& chunk : tasks[t - num_matrix]) {
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
