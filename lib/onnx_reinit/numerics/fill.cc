#include "onnx_reinit/fill.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/base/checked_math.h"
#include "onnx_reinit/numerics/orthogonal.h"
#include "onnx_reinit/base/parallel.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/scheme.h"  // CheckShapeForScheme
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {
namespace {

// Elements per task. Large enough to amortize the task hand-out, small enough to balance 2-64 threads.
constexpr int64_t kChunkElements = int64_t{1} << 16;
// Elements generated into a stack buffer before they are written to the tensor.
constexpr int64_t kBatchElements = 1024;

// `rounded` (a value of `type`), or the representable value inside [low, high] nearest to it when it
// lies outside (float arithmetic and rounding can push a value an ulp or two past a bound).
double ClampToRange(FloatType type, double rounded, double low, double high) {
  if (rounded > high) {
    const double bound = RoundTo(type, high);
    return bound > high ? NextToward(type, bound, low) : bound;
  }
  if (rounded < low) {
    const double bound = RoundTo(type, low);
    return bound < low ? NextToward(type, bound, high) : bound;
  }
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

// Philox blocks per kernel call: 1024 float-grade values (4 KiB of words or floats, in L1).
constexpr int64_t kSampleBlocks = 256;

inline uint64_t Join64(uint32_t low, uint32_t high) { return static_cast<uint64_t>(high) << 32 | low; }

// Computes the values of elements [begin, end) of a UNIFORM, NORMAL or TRUNCATED_NORMAL (std > 0)
// distribution into out[0 .. end - begin), rounded to `type` (and moved back inside [low, high] for
// the bounded kinds). Float-grade types take 4 values per Philox block, float64 2. Float-grade
// NORMAL and UNIFORM run in the SIMD kernels of rng.h; the rest draws its words from them in runs
// of up to kSampleBlocks blocks. A value depends only on its own block and element index, so where
// a range or a run starts does not matter.
void SampleBlocks(const proto::Distribution& d, FloatType type, uint64_t seed, uint64_t stream, int64_t begin,
                  int64_t end, double* out) {
  const bool double_grade = type == FloatType::kFloat64;
  const int64_t per_block = double_grade ? 2 : 4;
  const proto::Distribution::Kind kind = d.kind();
  const bool bounded = kind == proto::Distribution::UNIFORM || kind == proto::Distribution::TRUNCATED_NORMAL;
  const bool normal = !bounded;  // NORMAL (and, as before, any other kind that reaches here)
  std::optional<TruncatedNormalSampler> truncated_normal;
  if (kind == proto::Distribution::TRUNCATED_NORMAL) truncated_normal.emplace(d);
  const double mean = d.mean(), std = d.std(), low = d.low(), high = d.high(), width = high - low;

  if (!double_grade && kind != proto::Distribution::TRUNCATED_NORMAL) {
    // Float-grade NORMAL and UNIFORM: float32 values from the SIMD kernels (rng.h), then rounded to
    // float16 / bfloat16 for those types.
    bool check_bounds = false;
    if (normal) {
      NormalFloat32Values(seed, stream, begin, end, static_cast<float>(mean), static_cast<float>(std), out);
    } else {
      check_bounds = UniformFloat32Values(seed, stream, begin, end, low, high, out);
    }
    if (type != FloatType::kFloat32) {
      for (int64_t k = 0; k < end - begin; ++k) out[k] = RoundTo(type, out[k]);
      check_bounds = bounded;
    }
    if (check_bounds) {
      for (int64_t k = 0; k < end - begin; ++k) out[k] = ClampToRange(type, out[k], low, high);
    }
    return;
  }

  alignas(64) uint32_t words[4 * kSampleBlocks];
  for (int64_t pos = begin; pos < end;) {
    const int64_t first_block = pos / per_block;
    const int64_t num_blocks = std::min(kSampleBlocks, (end + per_block - 1) / per_block - first_block);
    const int64_t offset = pos - first_block * per_block;  // of element pos in this run
    const int64_t count = std::min(end, (first_block + num_blocks) * per_block) - pos;
    double* const o = out + (pos - begin);
    pos += count;

    RandomWords(seed, stream, static_cast<uint64_t>(first_block), num_blocks, words);
    if (double_grade) {
      // Element 2 b + h of the run uses the 64-bit word (words[4 b + 2 h], words[4 b + 2 h + 1]).
      const auto unit = [&](int64_t k) {
        const int64_t e = offset + k;
        return UnitOpen52(Join64(words[2 * e], words[2 * e + 1]));
      };
      if (kind == proto::Distribution::UNIFORM) {
        for (int64_t k = 0; k < count; ++k) o[k] = low + unit(k) * width;
      } else if (kind == proto::Distribution::TRUNCATED_NORMAL) {
        for (int64_t k = 0; k < count; ++k) o[k] = (*truncated_normal)(unit(k));
      } else {  // NORMAL: Box-Muller in double on each block's pair
        for (int64_t k = 0; k < count;) {
          const int64_t e = offset + k, pair = e & ~int64_t{1};
          const std::array<double, 2> z = BoxMuller(UnitOpen52(Join64(words[2 * pair], words[2 * pair + 1])),
                                                    UnitOpen52(Join64(words[2 * pair + 2], words[2 * pair + 3])));
          for (int64_t h = e - pair; h < 2 && k < count; ++h, ++k) o[k] = mean + std * z[h];
        }
      }
    } else {  // float-grade TRUNCATED_NORMAL
      const uint32_t* w = words + offset;
      for (int64_t k = 0; k < count; ++k) o[k] = RoundTo(type, (*truncated_normal)(UnitOpen23(w[k])));
    }
    if (bounded) {
      bool outside = false;  // rare: rounding crossed a bound
      for (int64_t k = 0; k < count; ++k) outside |= (o[k] > high) | (o[k] < low);
      if (outside) {
        for (int64_t k = 0; k < count; ++k) o[k] = ClampToRange(type, o[k], low, high);
      }
    }
  }
}

// Structured kinds: the 2-D view of a region, rows = shape[0] x cols = the rest.
int64_t Rows(const FillJob& job) { return job.shape.empty() ? 0 : job.shape[0]; }
int64_t Cols(const FillJob& job) {
  return ShapeProduct(absl::MakeConstSpan(job.shape).subspan(std::min<size_t>(1, job.shape.size()))).value_or(0);
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
  // The float-grade N(0, 1) values are floats, so "rounding" them to float32 keeps them as drawn.
  const FloatType grade = job.values.type() == FloatType::kFloat64 ? FloatType::kFloat64 : FloatType::kFloat32;
  SampleBlocks(standard, grade, seed, job.stream, begin, end, matrix.data());
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
    return absl::InvalidArgumentError(
        absl::StrFormat("region [%d, %d) is outside the tensor's %d elements", job.begin, end, size));
  }
  SchemeKind kind;
  switch (job.distribution.kind()) {
    case proto::Distribution::ORTHOGONAL: kind = SchemeKind::kOrthogonal; break;
    case proto::Distribution::IDENTITY: kind = SchemeKind::kIdentity; break;
    case proto::Distribution::DIRAC: kind = SchemeKind::kDirac; break;
    default: return absl::OkStatus();
  }
  ONNX_REINIT_RETURN_IF_ERROR(CheckShapeForScheme(kind, job.shape, job.groups));
  if (ShapeProduct(job.shape) != end - job.begin) {
    return absl::InvalidArgumentError(absl::StrFormat("shape [%s] does not match the region [%d, %d) of %d elements",
                                                      absl::StrJoin(job.shape, ", "), job.begin, end, end - job.begin));
  }
  return absl::OkStatus();
}

void SampleRange(const FillJob& job, uint64_t seed, int64_t begin, int64_t end, double* out) {
  const proto::Distribution& d = job.distribution;
  const FloatType type = job.values.type();
  switch (d.kind()) {
    case proto::Distribution::CONSTANT: std::fill(out, out + (end - begin), RoundTo(type, d.value())); return;
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
  SampleBlocks(d, type, seed, job.stream, begin, end, out);
}

void EncodeRange(const FillJob& job, uint64_t seed, int64_t begin, int64_t end, char* out) {
  const proto::Distribution& d = job.distribution;
  const int width = job.values.StoredWidth();
  if (job.values.type() == FloatType::kFloat32 && d.kind() == proto::Distribution::NORMAL) {
    // The float32 kernels' values are the tensor's values: stored without the trip through double.
    NormalFloat32Bytes(seed, job.stream, begin, end, static_cast<float>(d.mean()), static_cast<float>(d.std()), out);
    return;
  }
  if (job.values.type() == FloatType::kFloat32 && d.kind() == proto::Distribution::UNIFORM) {
    if (UniformFloat32Bytes(seed, job.stream, begin, end, d.low(), d.high(), out)) {
      for (int64_t k = 0; k < end - begin; ++k) {  // rare: rounding may have crossed a bound
        float value;
        std::memcpy(&value, out + 4 * k, 4);
        value = static_cast<float>(ClampToRange(FloatType::kFloat32, value, d.low(), d.high()));
        std::memcpy(out + 4 * k, &value, 4);
      }
    }
    return;
  }
  if (d.kind() == proto::Distribution::CONSTANT && end > begin) {
    // One encoded value, then copies of what is already there, doubling.
    const double value = RoundTo(job.values.type(), d.value());
    job.values.Encode(&value, 1, out);
    const int64_t bytes = (end - begin) * width;
    for (int64_t filled = width; filled < bytes; filled *= 2) {
      std::memcpy(out + filled, out, static_cast<size_t>(std::min(filled, bytes - filled)));
    }
    return;
  }
  if (d.kind() == proto::Distribution::ORTHOGONAL) {
    const std::vector<double> matrix = OrthogonalRegion(job, seed);
    job.values.Encode(matrix.data() + (begin - job.begin), end - begin, out);
    return;
  }
  std::array<double, kBatchElements> buffer;
  for (int64_t first = begin; first < end; first += kBatchElements) {
    const int64_t last = std::min(end, first + kBatchElements);
    SampleRange(job, seed, first, last, buffer.data());
    job.values.Encode(buffer.data(), last - first, out + (first - begin) * width);
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
    for (const Chunk& chunk : tasks[t - num_matrix]) {
      const FillJob& job = jobs[chunk.item];
      const int64_t begin = job.begin + chunk.begin;
      EncodeRange(job, seed, begin, job.begin + chunk.end, job.values.ElementAddress(begin));
    }
  });
}

}  // namespace onnx_reinit
