#include "onnx_reinit/verify.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/blockwise_tensor.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/numerics/moments.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/tensor_data.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/numerics/spectral.h"
#include "onnx_reinit/model/validate.h"
#include "onnx_reinit/version.h"

namespace onnx_reinit {
namespace {

constexpr double kStandardErrors = 6.0;  // a fresh tensor fails with probability < 2e-9

std::string Problem(const proto::VerifyFinding& f, const proto::Moments& m, FloatType type,
                    const proto::Distribution& d) {
  if (m.nan() > 0 || m.inf() > 0) return absl::StrFormat("%d NaN and %d Inf values", m.nan(), m.inf());
  if (d.kind() == proto::Distribution::CONSTANT) {
    const double expected = RoundTo(type, d.value());
    if (m.min() != expected || m.max() != expected) {
      return absl::StrFormat("values span [%g, %g], expected all %g", m.min(), m.max(), expected);
    }
    return "";
  }
  if (f.target_std() == 0) {
    return m.std() == 0 ? "" : absl::StrFormat("std %.4g, expected 0", m.std());
  }
  const double ratio = m.std() / f.target_std();
  if (std::abs(ratio - 1) > f.std_tolerance()) {
    return absl::StrFormat("std %.4g is %.3gx the target %.4g (tolerance %.1f%%)", m.std(), ratio, f.target_std(),
                           100 * f.std_tolerance());
  }
  if (std::abs(m.mean() - f.target_mean()) > f.mean_tolerance()) {
    return absl::StrFormat("mean %.4g, expected %.4g +- %.3g", m.mean(), f.target_mean(), f.mean_tolerance());
  }
  return "";
}

// A few units in the last place of the dtype, at least what float64 Lanczos on float32 data keeps.
double OrthogonalTolerance(FloatType type) {
  switch (type) {
    case FloatType::kFloat16: return 8 * 0x1p-11;
    case FloatType::kBFloat16: return 8 * 0x1p-8;
    default: return 1e-4;
  }
}

// Orthogonal: every singular value is the gain g, so the largest is g and the mean of their
// squares, |W|_F^2 / min(rows, cols), is g^2.
std::string OrthogonalSpectralProblem(proto::VerifyFinding& f, const proto::Moments& m, const MatrixShape& shape,
                                      double gain, FloatType type) {
  f.set_spectral_edge(gain);
  f.set_spectral_limit(gain);
  const double tolerance = OrthogonalTolerance(type);
  if (std::abs(f.top_singular_value() / gain - 1) > tolerance) {
    return absl::StrFormat("largest singular value %.5g, expected the gain %.5g of an orthogonal matrix",
                           f.top_singular_value(), gain);
  }
  const double squares = static_cast<double>(m.count()) * (m.std() * m.std() + m.mean() * m.mean());
  const double mean_square = squares / static_cast<double>(std::min(shape.rows, shape.cols));
  if (std::abs(mean_square / (gain * gain) - 1) > 2 * tolerance) {
    return absl::StrFormat("singular values' mean square %.5g, expected %.5g (gain^2) for an orthogonal matrix",
                           mean_square, gain * gain);
  }
  return "";
}

std::string SpectralProblem(proto::VerifyFinding& f, const MatrixShape& shape) {
  f.set_spectral_edge(SpectralEdge(shape, f.target_std()));
  f.set_spectral_limit(SpectralLimit(shape, f.target_std()));
  if (f.top_singular_value() <= f.spectral_limit()) return "";
  return absl::StrFormat(
      "largest singular value %.4g is %.2fx the edge %.4g of a fresh %dx%d matrix (limit %.3fx): "
      "structure, e.g. trained weights",
      f.top_singular_value(), f.top_singular_value() / f.spectral_edge(), f.spectral_edge(), shape.rows, shape.cols,
      f.spectral_limit() / f.spectral_edge());
}

void AddUnread(const TensorUse& use, std::string reason, proto::UnreadTensor& entry) {
  entry.set_name(use.name);
  entry.set_role(std::string(RoleName(use.role)));
  entry.set_dtype(DataTypeName(use.tensor->data_type()));
  entry.set_reason(std::move(reason));
}

// Lists `use`, which is not a weight, as unjudged (quantized) or unchecked (another role). Constants
// known not to be learned (an epsilon, a mask, a quantization scale) have nothing to judge.
void AddNotAWeight(const TensorUse& use, proto::VerifyReport& report) {
  if (use.role == Role::kQuantized) {
    AddUnread(use,
              absl::StrFormat("quantized (%s): verify reads float weights only", DataTypeName(use.tensor->data_type())),
              *report.add_unjudged());
  } else if (use.role == Role::kOther) {
    if (!use.fixed) AddUnread(use, "no role: verify checks weights only", *report.add_unchecked());
  } else {
    AddUnread(use, absl::StrFormat("%s: verify checks weights only", RoleName(use.role)), *report.add_unchecked());
  }
}

// Findings for the blockwise-quantized weights (blockwise_tensor.h), after the float ones: their
// dequantized values against the float weight each stands for. (Not spectral: the singular values
// of a dequantized matrix are not read.)
absl::Status VerifyBlockwise(const GraphAnalysis& analysis, const VerifyOptions& options,
                             const DetachedPayloads& payloads, proto::VerifyReport& report) {
  for (const TensorUse& use : analysis.tensors) {
    if (!IsBlockwise(use)) continue;
    if (!use.fans) {
      AddUnread(use, "blockwise-quantized without known fans", *report.add_unjudged());
      continue;
    }
    absl::StatusOr<BlockwiseTensor> bound = BindBlockwise(use, *analysis.index, payloads);
    if (ErrorKindOf(bound.status()) == ErrorKind::kUnsupported) {
      AddUnread(use, std::string(bound.status().message()), *report.add_unjudged());
      continue;
    }
    ONNX_REINIT_RETURN_IF_ERROR(bound.status());
    if (bound->float_role != Role::kWeight) {
      AddUnread(use, absl::StrFormat("%s: verify checks weights only", RoleName(bound->float_role)),
                *report.add_unchecked());
      continue;
    }
    auto distribution = ResolveDistribution(options.scheme, *use.fans);
    if (!distribution.ok()) {
      AddUnread(use, absl::StrCat("the scheme does not apply: ", distribution.status().message()),
                *report.add_unjudged());
      continue;
    }
    if (distribution->kind() == proto::Distribution::ORTHOGONAL) {
      AddUnread(use, "blockwise-quantized: the singular values of its dequantized matrix are not read",
                *report.add_unjudged());
      continue;
    }
    const int64_t n = bound->layout.rows * bound->layout.cols;
    proto::VerifyFinding& finding = *report.add_weights();
    finding.set_name(use.name);
    finding.set_op_type(use.reader->op_type());
    finding.set_target_mean(DistributionMean(*distribution));
    finding.set_target_std(DistributionStd(*distribution));
    finding.set_std_tolerance(StdTolerance(*distribution, n, options.std_tolerance));
    finding.set_mean_tolerance(kStandardErrors * finding.target_std() / std::sqrt(static_cast<double>(n)));
    const proto::Moments moments = DequantizedMoments(*bound, options.threads);
    finding.set_count(moments.count());
    finding.set_mean(moments.mean());
    finding.set_std(moments.std());
    finding.set_problem(Problem(finding, moments, bound->scales->type(), *distribution));
    if (!finding.problem().empty()) report.set_failed(report.failed() + 1);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<proto::VerifyReport> VerifyModel(onnx::ModelProto& model, const VerifyOptions& options,
                                                const DetachedPayloads& payloads) {
  // The scheme is the caller's choice: its errors are usage errors.
  ONNX_REINIT_RETURN_IF_ERROR(WithErrorKind(Validate(options.scheme), ErrorKind::kUsage));
  ONNX_REINIT_RETURN_IF_ERROR(ValidateModel(model));
  if (options.scheme.kind == SchemeKind::kIdentity || options.scheme.kind == SchemeKind::kDirac) {
    return WithErrorKind(
        absl::InvalidArgumentError(absl::StrFormat("verify checks moments, which do not characterize scheme '%s'",
                                                   SchemeName(options.scheme.kind))),
        ErrorKind::kUsage);
  }
  proto::VerifyReport report;
  report.set_version(kVersion);
  report.set_scheme(std::string(SchemeName(options.scheme.kind)));
  std::vector<TensorValues> tensors;
  std::vector<proto::Distribution> distributions;
  std::vector<std::optional<MatrixShape>> matrices;
  std::vector<SpectralInput> spectral;
  const GraphAnalysis analysis = AnalyzeGraph(model);
  for (const TensorUse& weight : analysis.tensors) {
    if (weight.role != Role::kWeight) {
      if (!IsBlockwise(weight)) AddNotAWeight(weight, report);  // blockwise ones: VerifyBlockwise
      continue;
    }
    ONNX_REINIT_ASSIGN_OR_RETURN(TensorValues values, BindValues(*weight.tensor, weight.name, payloads));
    if (values.size() == 0) {
      AddUnread(weight, "no values", *report.add_unjudged());
      continue;
    }
    auto distribution = ResolveDistribution(options.scheme, *weight.fans);
    if (!distribution.ok()) {  // the scheme does not apply (a zero fan)
      AddUnread(weight, absl::StrCat("the scheme does not apply: ", distribution.status().message()),
                *report.add_unjudged());
      continue;
    }
    proto::VerifyFinding& finding = *report.add_weights();
    finding.set_name(weight.name);
    finding.set_op_type(weight.reader->op_type());
    finding.set_target_mean(DistributionMean(*distribution));
    finding.set_target_std(DistributionStd(*distribution));
    if (distribution->kind() == proto::Distribution::ORTHOGONAL) {
      // Orthonormal rows or columns of a [rows, cols] matrix: every entry has E[x^2] = 1/max(rows, cols).
      const int64_t rows = weight.tensor->dims_size() > 0 ? weight.tensor->dims(0) : 1;
      const int64_t cols = values.size() / std::max<int64_t>(1, rows);
      finding.set_target_std(distribution->gain() / std::sqrt(static_cast<double>(std::max(rows, cols))));
    }
    const double n = static_cast<double>(values.size());
    finding.set_std_tolerance(StdTolerance(*distribution, values.size(), options.std_tolerance));
    finding.set_mean_tolerance(kStandardErrors * finding.target_std() / std::sqrt(n));
    tensors.push_back(values);
    distributions.push_back(*distribution);
    matrices.push_back(options.spectral ? MatrixShapeOf(weight.tensor->dims()) : std::nullopt);
    if (matrices.back()) {
      spectral.push_back({values, *matrices.back(), finding.target_mean(), weight.name});
    }
  }
  const std::vector<proto::Moments> moments = ComputeMoments(tensors, options.threads);
  const std::vector<double> top = TopSingularValues(spectral, options.threads);
  size_t next_top = 0;
  for (size_t t = 0; t < tensors.size(); ++t) {
    proto::VerifyFinding& finding = *report.mutable_weights(static_cast<int>(t));
    finding.set_count(moments[t].count());
    finding.set_mean(moments[t].mean());
    finding.set_std(moments[t].std());
    finding.set_problem(Problem(finding, moments[t], tensors[t].type(), distributions[t]));
    if (matrices[t]) {
      finding.set_top_singular_value(top[next_top++]);
      const std::string spectral_problem =
          distributions[t].kind() == proto::Distribution::ORTHOGONAL
              ? OrthogonalSpectralProblem(finding, moments[t], *matrices[t], distributions[t].gain(), tensors[t].type())
              : SpectralProblem(finding, *matrices[t]);
      if (finding.problem().empty()) finding.set_problem(spectral_problem);
    }
    if (!finding.problem().empty()) report.set_failed(report.failed() + 1);
  }
  ONNX_REINIT_RETURN_IF_ERROR(VerifyBlockwise(analysis, options, payloads, report));
  for (const TensorUse& unreadable : analysis.unreadable) {
    AddUnread(unreadable, NewerDataTypeReason(unreadable.tensor->data_type()), *report.add_unjudged());
  }
  report.set_passed(report.weights_size() > 0 && report.failed() == 0);
  return report;
}

absl::StatusOr<proto::VerifyReport> VerifyFile(const std::string& path, const VerifyOptions& options) {
  ONNX_REINIT_ASSIGN_OR_RETURN(MappedModel mapped, MappedModel::Open(path));
  absl::StatusOr<proto::VerifyReport> report = VerifyModel(mapped.model(), options, mapped.payloads());
  if (!report.ok()) return WithContext(report.status(), path);
  report->set_model(path);
  return report;
}

}  // namespace onnx_reinit
