#include "onnx_reinit/verify.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_format.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/tensor_data.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/validate.h"
#include "onnx_reinit/version.h"

namespace onnx_reinit {
namespace {

constexpr double kStandardErrors = 6.0;  // a fresh tensor fails with probability < 2e-9
constexpr double kMinimumStdTolerance = 0.05;

// Relative standard error of the sample std of n draws: sqrt(Var(s^2)) / (2 sigma^2).
// Normal: Var(s^2) = 2 sigma^4 / n. Uniform: (mu4 - sigma^4) / n with mu4 = 9/5 sigma^4.
double RelativeStdError(const proto::Distribution& d, int64_t n) {
  const double excess = d.kind() == proto::Distribution::UNIFORM ? 0.8 : 2.0;
  return std::sqrt(excess / static_cast<double>(n)) / 2.0;
}

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
    return absl::StrFormat("std %.4g is %.3gx the target %.4g (tolerance %.1f%%)", m.std(), ratio,
                           f.target_std(), 100 * f.std_tolerance());
  }
  if (std::abs(m.mean() - f.target_mean()) > f.mean_tolerance()) {
    return absl::StrFormat("mean %.4g, expected %.4g +- %.3g", m.mean(), f.target_mean(),
                           f.mean_tolerance());
  }
  return "";
}

}  // namespace

absl::StatusOr<proto::VerifyReport> VerifyModel(onnx::ModelProto& model,
                                                const VerifyOptions& options,
                                                const DetachedPayloads& payloads) {
  ONNX_REINIT_RETURN_IF_ERROR(Validate(options.scheme));
  ONNX_REINIT_RETURN_IF_ERROR(ValidateModel(model));
  if (options.scheme.kind == SchemeKind::kIdentity || options.scheme.kind == SchemeKind::kDirac) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "verify checks moments, which do not characterize scheme '%s'", SchemeName(options.scheme.kind)));
  }
  proto::VerifyReport report;
  report.set_version(kVersion);
  report.set_scheme(std::string(SchemeName(options.scheme.kind)));
  std::vector<TensorValues> tensors;
  std::vector<proto::Distribution> distributions;
  for (const TensorUse& weight : AnalyzeGraph(model).tensors) {
    if (weight.role != Role::kWeight) continue;
    ONNX_REINIT_ASSIGN_OR_RETURN(TensorValues values, BindValues(*weight.tensor, weight.name, payloads));
    if (values.size() == 0) continue;
    auto distribution = ResolveDistribution(options.scheme, *weight.fans);
    if (!distribution.ok()) continue;  // the scheme does not apply (a zero fan)
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
    finding.set_std_tolerance(options.std_tolerance.value_or(std::max(
        kMinimumStdTolerance, kStandardErrors * RelativeStdError(*distribution, values.size()))));
    finding.set_mean_tolerance(kStandardErrors * finding.target_std() / std::sqrt(n));
    tensors.push_back(values);
    distributions.push_back(*distribution);
  }
  const std::vector<proto::Moments> moments = ComputeMoments(tensors, options.threads);
  for (size_t t = 0; t < tensors.size(); ++t) {
    proto::VerifyFinding& finding = *report.mutable_weights(static_cast<int>(t));
    finding.set_count(moments[t].count());
    finding.set_mean(moments[t].mean());
    finding.set_std(moments[t].std());
    finding.set_problem(Problem(finding, moments[t], tensors[t].type(), distributions[t]));
    if (!finding.problem().empty()) report.set_failed(report.failed() + 1);
  }
  return report;
}

}  // namespace onnx_reinit
