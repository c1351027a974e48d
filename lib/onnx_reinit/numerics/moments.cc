#include "onnx_reinit/numerics/moments.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "onnx_reinit/base/parallel.h"
#include "onnx_reinit/numerics/rng.h"

namespace onnx_reinit {
namespace {

constexpr int64_t kChunkElements = int64_t{1} << 16;
constexpr int64_t kBatchElements = 4096;

std::vector<int64_t> Sizes(const std::vector<TensorValues>& tensors) {
  std::vector<int64_t> sizes;
  for (const TensorValues& tensor : tensors) sizes.push_back(tensor.size());
  return sizes;
}

}  // namespace

void MomentAccumulator::Add(double x) {
  if (std::isnan(x)) {
    ++nan_;
    return;
  }
  if (std::isinf(x)) {
    ++inf_;
    return;
  }
  if (x == 0) ++zeros_;
  if (finite_ == 0) {
    min_ = max_ = x;
  } else {
    min_ = std::min(min_, x);
    max_ = std::max(max_, x);
  }
  ++finite_;
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(finite_);
  m2_ += delta * (x - mean_);
}

template <typename T>
void MomentAccumulator::AddBatchOf(const T* values, int64_t n) {
  stats_internal::BatchMoments batch_moments;
  if (!stats_internal::BatchMomentsOf(values, n, &batch_moments)) {
    for (int64_t k = 0; k < n; ++k) {
      T x;
      std::memcpy(&x, reinterpret_cast<const char*>(values) + k * sizeof(T), sizeof(T));
      Add(x);
    }
    return;
  }
  MomentAccumulator batch;
  batch.finite_ = n;
  batch.mean_ = batch_moments.mean;
  batch.m2_ = batch_moments.m2;
  batch.min_ = batch_moments.min;
  batch.max_ = batch_moments.max;
  batch.zeros_ = batch_moments.zeros;
  Merge(batch);
}

void MomentAccumulator::AddBatch(const float* values, int64_t n) { AddBatchOf(values, n); }
void MomentAccumulator::AddBatch(const double* values, int64_t n) { AddBatchOf(values, n); }

void MomentAccumulator::Merge(const MomentAccumulator& later) {
  nan_ += later.nan_;
  inf_ += later.inf_;
  zeros_ += later.zeros_;
  if (later.finite_ == 0) return;
  if (finite_ == 0) {
    finite_ = later.finite_;
    mean_ = later.mean_;
    m2_ = later.m2_;
    min_ = later.min_;
    max_ = later.max_;
    return;
  }
  const double n_a = static_cast<double>(finite_), n_b = static_cast<double>(later.finite_);
  const double n = n_a + n_b;
  const double delta = later.mean_ - mean_;
  mean_ += delta * n_b / n;
  m2_ += later.m2_ + delta * delta * n_a * n_b / n;
  finite_ += later.finite_;
  min_ = std::min(min_, later.min_);
  max_ = std::max(max_, later.max_);
}

proto::Moments MomentAccumulator::ToProto() const {
  proto::Moments m;
  const int64_t count = finite_ + nan_ + inf_;
  m.set_count(count);
  m.set_mean(mean_);
  m.set_std(finite_ > 0 ? std::sqrt(m2_ / static_cast<double>(finite_)) : 0.0);
  m.set_min(min_ + 0.0);  // + 0.0: a zero extreme reads 0, whichever zero the order kept
  m.set_max(max_ + 0.0);
  m.set_zeros(count > 0 ? static_cast<double>(zeros_) / static_cast<double>(count) : 0.0);
  m.set_nan(nan_);
  m.set_inf(inf_);
  return m;
}

std::vector<proto::Moments> ComputeMoments(const std::vector<TensorValues>& tensors, int threads) {
  const std::vector<Chunk> chunks = SplitIntoChunks(Sizes(tensors), kChunkElements);
  std::vector<MomentAccumulator> partial(chunks.size());
  ParallelFor(static_cast<int64_t>(chunks.size()), ResolveThreadCount(threads), [&](int64_t c) {
    const Chunk& chunk = chunks[c];
    const TensorValues& tensor = tensors[chunk.item];
    std::vector<double> decoded;
    for (int64_t begin = chunk.begin; begin < chunk.end; begin += kBatchElements) {
      const int64_t n = std::min(kBatchElements, chunk.end - begin);
      if (tensor.type() == FloatType::kFloat32) {
        partial[c].AddBatch(reinterpret_cast<const float*>(tensor.ElementAddress(begin)), n);
      } else if (tensor.type() == FloatType::kFloat64) {
        partial[c].AddBatch(reinterpret_cast<const double*>(tensor.ElementAddress(begin)), n);
      } else {
        decoded.resize(kBatchElements);
        tensor.Read(begin, n, decoded.data());
        partial[c].AddBatch(decoded.data(), n);
      }
    }
  });
  std::vector<MomentAccumulator> merged(tensors.size());
  for (size_t c = 0; c < chunks.size(); ++c) merged[chunks[c].item].Merge(partial[c]);
  std::vector<proto::Moments> moments;
  for (const MomentAccumulator& accumulator : merged) moments.push_back(accumulator.ToProto());
  return moments;
}

std::vector<proto::Histogram> ComputeHistograms(const std::vector<TensorValues>& tensors,
                                                const std::vector<proto::Moments>& moments, int bins, int threads) {
  const std::vector<Chunk> chunks = SplitIntoChunks(Sizes(tensors), kChunkElements);
  std::vector<std::vector<int64_t>> partial(chunks.size(), std::vector<int64_t>(bins, 0));
  ParallelFor(static_cast<int64_t>(chunks.size()), ResolveThreadCount(threads), [&](int64_t c) {
    const Chunk& chunk = chunks[c];
    const TensorValues& tensor = tensors[chunk.item];
    const proto::Moments& m = moments[chunk.item];
    const double width = m.max() - m.min();
    const double scale = width > 0 ? bins / width : 0.0;
    int64_t* counts = partial[c].data();
    const int64_t n = chunk.end - chunk.begin;
    if (tensor.type() == FloatType::kFloat32) {
      const auto* values = reinterpret_cast<const float*>(tensor.ElementAddress(chunk.begin));
      stats_internal::AddToHistogram(values, n, m.min(), scale, bins, counts);
    } else if (tensor.type() == FloatType::kFloat64) {
      const auto* values = reinterpret_cast<const double*>(tensor.ElementAddress(chunk.begin));
      stats_internal::AddToHistogram(values, n, m.min(), scale, bins, counts);
    } else {
      std::vector<double> decoded(n);
      tensor.Read(chunk.begin, n, decoded.data());
      stats_internal::AddToHistogram(decoded.data(), n, m.min(), scale, bins, counts);
    }
  });
  std::vector<proto::Histogram> histograms(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    histograms[t].set_low(moments[t].min());
    histograms[t].set_high(moments[t].max());
    histograms[t].mutable_counts()->Resize(bins, 0);
  }
  for (size_t c = 0; c < chunks.size(); ++c) {
    auto* counts = histograms[chunks[c].item].mutable_counts();
    for (int b = 0; b < bins; ++b) counts->Set(b, counts->Get(b) + partial[c][b]);
  }
  return histograms;
}

double DistributionStd(const proto::Distribution& d) {
  switch (d.kind()) {
    case proto::Distribution::NORMAL: return d.std();
    case proto::Distribution::UNIFORM: return (d.high() - d.low()) / std::sqrt(12.0);
    case proto::Distribution::TRUNCATED_NORMAL: return TruncatedNormalMoments(d.mean(), d.std(), d.low(), d.high()).std;
    default: return 0.0;
  }
}

double DistributionMean(const proto::Distribution& d) {
  switch (d.kind()) {
    case proto::Distribution::NORMAL: return d.mean();
    case proto::Distribution::UNIFORM: return (d.low() + d.high()) / 2;
    case proto::Distribution::CONSTANT: return d.value();
    case proto::Distribution::TRUNCATED_NORMAL:
      return TruncatedNormalMoments(d.mean(), d.std(), d.low(), d.high()).mean;
    default: return 0.0;
  }
}

void AddToTotals(const TensorValues& tensor, proto::Totals& totals) {
  totals.set_tensors(totals.tensors() + 1);
  totals.set_parameters(totals.parameters() + tensor.size());
  const absl::string_view dtype = FloatTypeName(tensor.type());
  auto* entries = totals.mutable_bytes_per_dtype();
  auto at = std::find_if(entries->begin(), entries->end(),
                         [&](const proto::DtypeBytes& entry) { return entry.dtype() >= dtype; });
  if (at == entries->end() || at->dtype() != dtype) {
    const int index = static_cast<int>(at - entries->begin());
    entries->Add()->set_dtype(std::string(dtype));
    for (int i = entries->size() - 1; i > index; --i) entries->SwapElements(i, i - 1);
    at = entries->begin() + index;
  }
  at->set_bytes(at->bytes() + tensor.size() * ByteWidth(tensor.type()));
}

}  // namespace onnx_reinit
