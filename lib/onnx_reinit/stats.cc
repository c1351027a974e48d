#include "onnx_reinit/stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/blockwise_tensor.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/parallel.h"
#include "onnx_reinit/rng.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/sha256.h"
#include "onnx_reinit/spectral.h"
#include "onnx_reinit/validate.h"
#include "onnx_reinit/version.h"

namespace onnx_reinit {
namespace {

constexpr int64_t kChunkElements = int64_t{1} << 16;
constexpr int64_t kBatchElements = 4096;

int ThreadsOrDefault(int threads) { return threads > 0 ? threads : DefaultThreadCount(); }

std::vector<int64_t> Sizes(const std::vector<TensorValues>& tensors) {
  std::vector<int64_t> sizes;
  for (const TensorValues& tensor : tensors) sizes.push_back(tensor.size());
  return sizes;
}

void CopyMoments(const proto::Moments& m, proto::TensorStats& row) {
  row.set_count(m.count());
  row.set_mean(m.mean());
  row.set_std(m.std());
  row.set_min(m.min());
  row.set_max(m.max());
  row.set_zeros(m.zeros());
  row.set_nan(m.nan());
  row.set_inf(m.inf());
}

// The largest singular value of every weight with a matrix view, centred on its own mean, and its
// ratio to the edge of a fresh matrix of its own std.
void AddSpectra(const std::vector<TensorValues>& tensors, int threads, proto::StatsReport& report) {
  std::vector<SpectralInput> inputs;
  std::vector<int> rows;
  for (int t = 0; t < report.tensors_size(); ++t) {
    const proto::TensorStats& row = report.tensors(t);
    if (!row.has_fan_in()) continue;
    const std::optional<MatrixShape> shape = MatrixShapeOf(row.shape());
    if (!shape) continue;
    inputs.push_back({tensors[t], *shape, row.mean(), row.name()});
    rows.push_back(t);
  }
  const std::vector<double> top = TopSingularValues(inputs, threads);
  for (size_t i = 0; i < rows.size(); ++i) {
    proto::TensorStats& row = *report.mutable_tensors(rows[i]);
    row.set_top_singular_value(top[i]);
    const double edge = SpectralEdge(inputs[i].shape, row.std());
    if (edge > 0) row.set_spectral_ratio(top[i] / edge);
  }
}

// Each tensor's sha256 (tensors hashed in parallel), and the digest of them all.
void AddHashes(const std::vector<TensorValues>& tensors, int threads, proto::StatsReport& report) {
  std::vector<std::string> hashes(tensors.size());
  ParallelFor(static_cast<int64_t>(tensors.size()), ThreadsOrDefault(threads),
              [&](int64_t t) { hashes[t] = ValuesSha256(tensors[t]); });
  std::vector<std::pair<std::string, std::string>> named;
  for (size_t t = 0; t < tensors.size(); ++t) {
    proto::TensorStats& row = *report.mutable_tensors(static_cast<int>(t));
    row.set_sha256(hashes[t]);
    named.emplace_back(row.name(), hashes[t]);
  }
  report.set_tensors_sha256(TensorsDigest(std::move(named)));
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
  ParallelFor(static_cast<int64_t>(chunks.size()), ThreadsOrDefault(threads), [&](int64_t c) {
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
                                                const std::vector<proto::Moments>& moments,
                                                int bins, int threads) {
  const std::vector<Chunk> chunks = SplitIntoChunks(Sizes(tensors), kChunkElements);
  std::vector<std::vector<int64_t>> partial(chunks.size(), std::vector<int64_t>(bins, 0));
  ParallelFor(static_cast<int64_t>(chunks.size()), ThreadsOrDefault(threads), [&](int64_t c) {
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
    case proto::Distribution::TRUNCATED_NORMAL:
      return TruncatedNormalMoments(d.mean(), d.std(), d.low(), d.high()).std;
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

void ListNewerDataTypes(onnx::ModelProto& model, const GraphAnalysis& analysis,
                        google::protobuf::RepeatedPtrField<proto::UnreadTensor>& unread) {
  for (const GraphConstant& constant : ListConstants(model)) {
    const int32_t type = constant.tensor->data_type();
    if (IsKnownDataType(type)) continue;
    const auto learned = std::find_if(analysis.unreadable.begin(), analysis.unreadable.end(),
                                      [&](const TensorUse& use) { return use.name == constant.name; });
    proto::UnreadTensor& entry = *unread.Add();
    entry.set_name(constant.name);
    entry.set_role(std::string(RoleName(learned == analysis.unreadable.end() ? Role::kOther : learned->role)));
    entry.set_dtype(DataTypeName(type));
    entry.set_reason(NewerDataTypeReason(type));
  }
}

std::string ValuesSha256(const TensorValues& tensor) {
  Sha256 hash;
  if (tensor.storage() != Storage::kInt32Data) {
    hash.Update(tensor.data(), static_cast<size_t>(tensor.size()) * ByteWidth(tensor.type()));
    return HexDigest(hash.Finish());
  }
  // 16-bit values, one per int32 word: hashed as the 2-byte little-endian values raw_data holds.
  constexpr int64_t kBatch = 4096;
  uint8_t bytes[2 * kBatch];
  for (int64_t begin = 0; begin < tensor.size(); begin += kBatch) {
    const int64_t n = std::min(kBatch, tensor.size() - begin);
    for (int64_t k = 0; k < n; ++k) {
      int32_t word;
      std::memcpy(&word, tensor.ElementAddress(begin + k), sizeof(word));
      bytes[2 * k] = static_cast<uint8_t>(word & 0xFF);
      bytes[2 * k + 1] = static_cast<uint8_t>((word >> 8) & 0xFF);
    }
    hash.Update(bytes, static_cast<size_t>(2 * n));
  }
  return HexDigest(hash.Finish());
}

std::string TensorsDigest(std::vector<std::pair<std::string, std::string>> hashes) {
  std::vector<std::string> lines;
  for (const auto& [name, sha256] : hashes) lines.push_back(absl::StrCat(sha256, "  ", name, "\n"));
  std::sort(lines.begin(), lines.end());
  Sha256 digest;
  for (const std::string& line : lines) digest.Update(line);
  return HexDigest(digest.Finish());
}

double StdTolerance(const proto::Distribution& distribution, int64_t n, std::optional<double> fixed) {
  constexpr double kStandardErrors = 6.0;
  constexpr double kMinimum = 0.05;
  if (fixed) return *fixed;
  // Relative standard error of the sample std of n draws: sqrt(Var(s^2)) / (2 sigma^2). Normal:
  // Var(s^2) = 2 sigma^4 / n. Uniform: (mu4 - sigma^4) / n with mu4 = 9/5 sigma^4.
  const double excess = distribution.kind() == proto::Distribution::UNIFORM ? 0.8 : 2.0;
  const double relative_error = std::sqrt(excess / static_cast<double>(std::max<int64_t>(n, 1))) / 2.0;
  return std::max(kMinimum, kStandardErrors * relative_error);
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

namespace {

// Rows for the blockwise-quantized weights (blockwise_tensor.h), after the float tensors: the
// moments of their dequantized values, and the target std of the float tensor each stands for.
// Those this version cannot read are left out (--requantize lists them with the reason).
absl::Status AddBlockwiseRows(onnx::ModelProto& model, const GraphAnalysis& analysis, const StatsOptions& options,
                              const DetachedPayloads& payloads, proto::StatsReport& report) {
  std::unordered_map<std::string, onnx::TensorProto*> constants;
  for (const GraphConstant& constant : ListConstants(model)) constants.emplace(constant.name, constant.tensor);
  auto find = [&](const std::string& name) {
    auto it = constants.find(name);
    return it == constants.end() ? nullptr : it->second;
  };
  for (const TensorUse& use : analysis.tensors) {
    if (!IsBlockwise(use)) continue;
    absl::StatusOr<BlockwiseTensor> bound = BindBlockwise(use, find, payloads);
    if (absl::IsFailedPrecondition(bound.status())) continue;
    ONNX_REINIT_RETURN_IF_ERROR(bound.status());
    proto::TensorStats& row = *report.add_tensors();
    row.set_name(use.name);
    row.set_source(use.source == TensorSource::kInitializer ? "initializer" : "constant_node");
    row.set_op_type(use.reader->op_type());
    row.set_node(use.reader->name());
    row.set_input_index(use.input_index);
    row.set_role(std::string(RoleName(use.role)));
    row.set_dtype(absl::StrFormat("uint%d", bound->layout.bits));
    for (int64_t dim : use.tensor->dims()) row.add_shape(dim);
    if (use.fans) {
      row.set_fan_in(use.fans->fan_in);
      row.set_fan_out(use.fans->fan_out);
    }
    CopyMoments(DequantizedMoments(*bound, options.threads), row);
    if (options.scheme && bound->float_role == Role::kWeight && use.fans) {
      auto distribution = ResolveDistribution(*options.scheme, *use.fans);
      if (distribution.ok()) row.set_target_std(DistributionStd(*distribution));
      if (row.target_std() > 0) row.set_std_ratio(row.std() / row.target_std());
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<proto::StatsReport> ComputeModelStats(onnx::ModelProto& model,
                                                     const StatsOptions& options,
                                                     const DetachedPayloads& payloads) {
  if (options.scheme) ONNX_REINIT_RETURN_IF_ERROR(Validate(*options.scheme));
  ONNX_REINIT_RETURN_IF_ERROR(ValidateModel(model));
  proto::StatsReport report;
  report.set_version(kVersion);
  proto::ModelInfo& info = *report.mutable_info();
  info.set_producer_name(model.producer_name());
  info.set_producer_version(model.producer_version());
  info.set_ir_version(model.ir_version());
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") info.set_opset(opset.version());
  }
  if (options.scheme) report.set_scheme(std::string(SchemeName(options.scheme->kind)));
  std::vector<TensorValues> tensors;
  proto::Totals& totals = *report.mutable_totals();
  const GraphAnalysis analysis = AnalyzeGraph(model, AnalysisOptions(), payloads);
  for (const TensorUse& use : analysis.tensors) {
    if (!FloatTypeOf(use.tensor->data_type())) continue;  // a quantized weight: below, if blockwise
    ONNX_REINIT_ASSIGN_OR_RETURN(TensorValues values, BindValues(*use.tensor, use.name, payloads));
    proto::TensorStats& row = *report.add_tensors();
    row.set_name(use.name);
    row.set_source(std::string(SourceName(use.source)));
    row.set_op_type(use.reader ? use.reader->op_type() : "");
    row.set_node(use.reader ? use.reader->name() : "");
    row.set_input_index(use.input_index);
    row.set_role(std::string(RoleName(use.role)));
    row.set_dtype(std::string(FloatTypeName(values.type())));
    for (int64_t dim : use.tensor->dims()) row.add_shape(dim);
    const bool has_fans = use.fans && use.role != Role::kBias;
    if (has_fans) {
      row.set_fan_in(use.fans->fan_in);
      row.set_fan_out(use.fans->fan_out);
    }
    if (options.scheme && use.role == Role::kWeight) {
      auto distribution = ResolveDistribution(*options.scheme, *use.fans);
      if (distribution.ok()) {
        row.set_target_std(DistributionStd(*distribution));
        row.set_std_tolerance(StdTolerance(*distribution, values.size(), options.std_tolerance));
      }
    }
    AddToTotals(values, totals);
    tensors.push_back(values);
  }

  ListNewerDataTypes(model, analysis, *report.mutable_unread());
  const std::vector<proto::Moments> moments = ComputeMoments(tensors, options.threads);
  for (size_t t = 0; t < tensors.size(); ++t) {
    proto::TensorStats& row = *report.mutable_tensors(static_cast<int>(t));
    CopyMoments(moments[t], row);
    if (row.has_target_std() && row.target_std() > 0) {
      row.set_std_ratio(row.std() / row.target_std());
    }
  }
  if (options.spectral) AddSpectra(tensors, options.threads, report);
  if (options.hash) AddHashes(tensors, options.threads, report);
  if (options.histogram_bins > 0) {
    std::vector<proto::Histogram> histograms =
        ComputeHistograms(tensors, moments, options.histogram_bins, options.threads);
    for (size_t t = 0; t < tensors.size(); ++t) {
      *report.mutable_tensors(static_cast<int>(t))->mutable_histogram() = std::move(histograms[t]);
    }
  }
  ONNX_REINIT_RETURN_IF_ERROR(AddBlockwiseRows(model, analysis, options, payloads, report));
  return report;
}

absl::StatusOr<proto::StatsReport> StatsFile(const std::string& path, const StatsOptions& options) {
  ONNX_REINIT_ASSIGN_OR_RETURN(MappedModel mapped, MappedModel::Open(path));
  absl::StatusOr<proto::StatsReport> report = ComputeModelStats(mapped.model(), options, mapped.payloads());
  if (!report.ok()) return WithContext(report.status(), path);
  report->set_model(path);
  report->mutable_info()->set_file_bytes(static_cast<int64_t>(mapped.file().size()));
  return report;
}

}  // namespace onnx_reinit
