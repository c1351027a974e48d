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

// Lists `use`, which is not a weight (nor, with targets, a tensor that has one), as unjudged
// (quantized) or unchecked (another role). Constants known not to be learned (an epsilon, a mask, a
// quantization scale) have nothing to judge.
void AddNotAWeight(const TensorUse& use, const VerifyOptions& options, proto::VerifyReport& report) {
  const std::string why = options.targets ? absl::StrCat(options.targets_source, " keeps it or draws it in parts")
                                          : "verify checks weights only";
  if (use.role == Role::kQuantized) {
    AddUnread(use,
              absl::StrFormat("quantized (%s): verify reads float weights only", DataTypeName(use.tensor->data_type())),
              *report.add_unjudged());
  } else if (use.role == Role::kOther) {
    if (!use.fixed) AddUnread(use, absl::StrCat("no role: ", why), *report.add_unchecked());
  } else {
    AddUnread(use, absl::StrFormat("%s: %s", RoleName(use.role), why), *report.add_unchecked());
  }
}

// A finding for `use` with the targets of `distribution` and the tolerances `n` values allow;
// `target_std` is the distribution's own std except for orthogonal matrices (see AddFloatWeight).
proto::VerifyFinding& AddFinding(const TensorUse& use, const proto::Distribution& distribution, double target_std,
                                 int64_t n, const VerifyOptions& options, proto::VerifyReport& report) {
  proto::VerifyFinding& finding = *report.add_weights();
  finding.set_name(use.name);
  finding.set_op_type(use.reader->op_type());
  finding.set_target_mean(DistributionMean(distribution));
  finding.set_target_std(target_std);
  finding.set_std_tolerance(StdTolerance(distribution, n, options.std_tolerance));
  finding.set_mean_tolerance(kStandardErrors * target_std / std::sqrt(static_cast<double>(n)));
  return finding;
}

// Records the measured moments and the moment problem, if any, in `finding`.
void JudgeMoments(const proto::Moments& moments, FloatType type, const proto::Distribution& distribution,
                  proto::VerifyFinding& finding) {
  finding.set_count(moments.count());
  finding.set_mean(moments.mean());
  finding.set_std(moments.std());
  finding.set_problem(Problem(finding, moments, type, distribution));
}

void CountIfFailed(const proto::VerifyFinding& finding, proto::VerifyReport& report) {
  if (!finding.problem().empty()) report.set_failed(report.failed() + 1);
}

// The target's or scheme's distribution for `use`, or nullopt after listing `use` as unjudged when
// it has no target or the scheme does not apply (a zero fan).
std::optional<proto::Distribution> DistributionOrUnjudged(const TensorUse& use, const VerifyOptions& options,
                                                          proto::VerifyReport& report) {
  if (options.targets) {  // a preset's
    if (auto target = options.targets->find(use.name); target != options.targets->end()) return target->second;
    AddUnread(use, absl::StrCat(options.targets_source, " does not draw it whole from one distribution"),
              *report.add_unjudged());
    return std::nullopt;
  }
  absl::StatusOr<proto::Distribution> distribution = ResolveDistribution(options.scheme, *use.fans);
  if (distribution.ok()) return *std::move(distribution);
  AddUnread(use, absl::StrCat("the scheme does not apply: ", distribution.status().message()), *report.add_unjudged());
  return std::nullopt;
}

// Binds the blockwise weight `use` to its dequantization, or returns nullopt after listing it as
// unjudged or unchecked when it cannot be judged.
absl::StatusOr<std::optional<BlockwiseTensor>> BindJudgeableBlockwise(const TensorUse& use,
                                                                      const GraphAnalysis& analysis,
                                                                      const DetachedPayloads& payloads,
                                                                      proto::VerifyReport& report) {
  if (!use.fans) {
    AddUnread(use, "blockwise-quantized without known fans", *report.add_unjudged());
    return std::nullopt;
  }
  absl::StatusOr<BlockwiseTensor> bound = BindBlockwise(use, *analysis.index, payloads);
  if (ErrorKindOf(bound.status()) == ErrorKind::kUnsupported) {
    AddUnread(use, std::string(bound.status().message()), *report.add_unjudged());
    return std::nullopt;
  }
  ONNX_REINIT_RETURN_IF_ERROR(bound.status());
  if (bound->float_role != Role::kWeight) {
    AddUnread(use, absl::StrFormat("%s: verify checks weights only", RoleName(bound->float_role)),
              *report.add_unchecked());
    return std::nullopt;
  }
  return std::optional<BlockwiseTensor>(*std::move(bound));
}

// Findings for the blockwise-quantized weights (blockwise_tensor.h), after the float ones: their
// dequantized values against the float weight each stands for. (Not spectral: the singular values
// of a dequantized matrix are not read.)
absl::Status VerifyBlockwise(const GraphAnalysis& analysis, const VerifyOptions& options,
                             const DetachedPayloads& payloads, proto::VerifyReport& report) {
  for (const TensorUse& use : analysis.tensors) {
    if (!IsBlockwise(use)) continue;
    ONNX_REINIT_ASSIGN_OR_RETURN(std::optional<BlockwiseTensor> bound,
                                 BindJudgeableBlockwise(use, analysis, payloads, report));
    if (!bound) continue;
    const std::optional<proto::Distribution> distribution = DistributionOrUnjudged(use, options, report);
    if (!distribution) continue;
    if (distribution->kind() == proto::Distribution::ORTHOGONAL) {
      AddUnread(use, "blockwise-quantized: the singular values of its dequantized matrix are not read",
                *report.add_unjudged());
      continue;
    }
    const int64_t n = bound->layout.rows * bound->layout.cols;
    proto::VerifyFinding& finding = AddFinding(use, *distribution, DistributionStd(*distribution), n, options, report);
    JudgeMoments(DequantizedMoments(*bound, options.threads), bound->scales->type(), *distribution, finding);
    CountIfFailed(finding, report);
  }
  return absl::OkStatus();
}

// Identity and Dirac fix values by position, which moments cannot see: verify refuses them.
absl::Status CheckVerifiable(const SchemeOptions& scheme) {
  // The scheme is the caller's choice: its errors are usage errors.
  ONNX_REINIT_RETURN_IF_ERROR(WithErrorKind(Validate(scheme), ErrorKind::kUsage));
  if (scheme.kind != SchemeKind::kIdentity && scheme.kind != SchemeKind::kDirac) return absl::OkStatus();
  return WithErrorKind(absl::InvalidArgumentError(absl::StrFormat(
                           "verify checks moments, which do not characterize scheme '%s'", SchemeName(scheme.kind))),
                       ErrorKind::kUsage);
}

// The float weights whose findings wait for their moments and singular values, which are computed
// for all of them at once (in parallel); entry t belongs to the report's finding t.
struct PendingWeights {
  std::vector<TensorValues> tensors;
  std::vector<proto::Distribution> distributions;
  std::vector<std::optional<MatrixShape>> matrices;
  std::vector<SpectralInput> spectral;  // one per matrix, in order
};

// The std of each entry of an orthogonal `weight`: orthonormal rows or columns of a [rows, cols]
// matrix give every entry E[x^2] = 1/max(rows, cols).
double OrthogonalEntryStd(const TensorUse& weight, int64_t size, double gain) {
  const int64_t rows = weight.tensor->dims_size() > 0 ? weight.tensor->dims(0) : 1;
  const int64_t cols = size / std::max<int64_t>(1, rows);
  return gain / std::sqrt(static_cast<double>(std::max(rows, cols)));
}

// Adds a finding for the float `weight` and queues its values in `pending`, or lists it as
// unjudged when it has no values or the scheme does not apply.
absl::Status AddFloatWeight(const TensorUse& weight, const VerifyOptions& options, const DetachedPayloads& payloads,
                            proto::VerifyReport& report, PendingWeights& pending) {
  ONNX_REINIT_ASSIGN_OR_RETURN(TensorValues values, BindValues(*weight.tensor, weight.name, payloads));
  if (values.size() == 0) {
    AddUnread(weight, "no values", *report.add_unjudged());
    return absl::OkStatus();
  }
  const std::optional<proto::Distribution> distribution = DistributionOrUnjudged(weight, options, report);
  if (!distribution) return absl::OkStatus();
  const double target_std = distribution->kind() == proto::Distribution::ORTHOGONAL
                                ? OrthogonalEntryStd(weight, values.size(), distribution->gain())
                                : DistributionStd(*distribution);
  const proto::VerifyFinding& finding = AddFinding(weight, *distribution, target_std, values.size(), options, report);
  pending.tensors.push_back(values);
  pending.distributions.push_back(*distribution);
  pending.matrices.push_back(options.spectral ? MatrixShapeOf(weight.tensor->dims()) : std::nullopt);
  if (pending.matrices.back()) {
    pending.spectral.push_back({values, *pending.matrices.back(), finding.target_mean(), weight.name});
  }
  return absl::OkStatus();
}

// Measures the pending float weights and records each one's first problem: moments before the
// spectrum.
void JudgeFloatWeights(const PendingWeights& pending, const VerifyOptions& options, proto::VerifyReport& report) {
  const std::vector<proto::Moments> moments = ComputeMoments(pending.tensors, options.threads);
  const std::vector<double> top = TopSingularValues(pending.spectral, options.threads);
  size_t next_top = 0;
  for (size_t t = 0; t < pending.tensors.size(); ++t) {
    proto::VerifyFinding& finding = *report.mutable_weights(static_cast<int>(t));
    const proto::Distribution& distribution = pending.distributions[t];
    const FloatType type = pending.tensors[t].type();
    JudgeMoments(moments[t], type, distribution, finding);
    if (const std::optional<MatrixShape>& matrix = pending.matrices[t]) {
      finding.set_top_singular_value(top[next_top++]);
      const std::string spectral_problem =
          distribution.kind() == proto::Distribution::ORTHOGONAL
              ? OrthogonalSpectralProblem(finding, moments[t], *matrix, distribution.gain(), type)
              : SpectralProblem(finding, *matrix);
      if (finding.problem().empty()) finding.set_problem(spectral_problem);
    }
    CountIfFailed(finding, report);
  }
}

}  // namespace

absl::StatusOr<proto::VerifyReport> VerifyModel(onnx::ModelProto& model, const VerifyOptions& options,
                                                const DetachedPayloads& payloads) {
  ONNX_REINIT_RETURN_IF_ERROR(CheckVerifiable(options.scheme));
  ONNX_REINIT_RETURN_IF_ERROR(ValidateModel(model));
  proto::VerifyReport report;
  report.set_version(kVersion);
  report.set_scheme(options.targets ? options.targets_source : std::string(SchemeName(options.scheme.kind)));
  const GraphAnalysis analysis = AnalyzeGraph(model);
  PendingWeights pending;
  for (const TensorUse& use : analysis.tensors) {
    if (use.role == Role::kWeight || (options.targets && options.targets->count(use.name))) {
      ONNX_REINIT_RETURN_IF_ERROR(AddFloatWeight(use, options, payloads, report, pending));
    } else if (!IsBlockwise(use)) {  // blockwise ones: VerifyBlockwise
      AddNotAWeight(use, options, report);
    }
  }
  JudgeFloatWeights(pending, options, report);
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
