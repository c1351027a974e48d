#include "onnx_reinit/stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/blockwise_tensor.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/numerics/moments.h"
#include "onnx_reinit/base/parallel.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/base/sha256.h"
#include "onnx_reinit/numerics/spectral.h"
#include "onnx_reinit/model/validate.h"
#include "onnx_reinit/version.h"

namespace onnx_reinit {
namespace {

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
  ParallelFor(static_cast<int64_t>(tensors.size()), ResolveThreadCount(threads),
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

namespace {

// Rows for the blockwise-quantized weights (blockwise_tensor.h), after the float tensors: the
// moments of their dequantized values, and the target std of the float tensor each stands for.
// Those this version cannot read are left out (--requantize lists them with the reason).
absl::Status AddBlockwiseRows(const GraphAnalysis& analysis, const StatsOptions& options,
                              const DetachedPayloads& payloads, proto::StatsReport& report) {
  for (const TensorUse& use : analysis.tensors) {
    if (!IsBlockwise(use)) continue;
    absl::StatusOr<BlockwiseTensor> bound = BindBlockwise(use, *analysis.index, payloads);
    if (ErrorKindOf(bound.status()) == ErrorKind::kUnsupported) continue;
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

absl::StatusOr<proto::StatsReport> ComputeModelStats(onnx::ModelProto& model, const StatsOptions& options,
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
    if (use.fixed) row.set_fixed(true);
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
  ONNX_REINIT_RETURN_IF_ERROR(AddBlockwiseRows(analysis, options, payloads, report));
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
