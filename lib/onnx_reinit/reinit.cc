#include "onnx_reinit/reinit.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "onnx_reinit/fill.h"
#include "onnx_reinit/parallel.h"
#include "onnx_reinit/rng.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/tensor_data.h"
#include "onnx_reinit/weights.h"

namespace onnx_reinit {
namespace {

absl::Status RejectExternalData(const onnx::GraphProto& graph) {
  for (const onnx::TensorProto& tensor : graph.initializer()) {
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
      return absl::UnimplementedError(absl::StrFormat(
          "initializer '%s' keeps its values in an external data file, which this version of "
          "onnx-reinit does not read yet",
          tensor.name()));
    }
  }
  return absl::OkStatus();
}

proto::TensorRecord DescribeWeight(const Weight& weight, const TensorValues& values) {
  proto::TensorRecord record;
  record.set_name(weight.name);
  record.set_source(weight.source == TensorSource::kInitializer ? "initializer" : "constant_node");
  record.set_op_type(weight.consumer->op_type());
  record.set_consumer(weight.consumer->name());
  record.set_input_index(weight.input_index);
  record.set_role("weight");
  record.set_dtype(std::string(FloatTypeName(values.type())));
  for (int64_t dim : weight.tensor->dims()) record.add_shape(dim);
  record.set_count(values.size());
  record.set_fan_in(weight.fans.fan_in);
  record.set_fan_out(weight.fans.fan_out);
  record.set_storage(std::string(StorageName(values.storage())));
  return record;
}

}  // namespace

absl::StatusOr<proto::ReinitReport> Reinitialize(onnx::ModelProto& model,
                                                 const ReinitOptions& options) {
  ONNX_REINIT_RETURN_IF_ERROR(Validate(options.scheme));
  ONNX_REINIT_RETURN_IF_ERROR(RejectExternalData(model.graph()));

  WeightScan scan = FindWeights(*model.mutable_graph());
  proto::ReinitReport report;
  report.set_scheme(std::string(SchemeName(options.scheme.kind)));
  report.set_seed(options.seed);
  for (std::string& warning : scan.warnings) report.add_warnings(std::move(warning));

  std::vector<FillJob> jobs;
  for (const Weight& weight : scan.weights) {
    if (options.select && !options.select(weight.name)) continue;
    ONNX_REINIT_ASSIGN_OR_RETURN(TensorValues values, TensorValues::Bind(*weight.tensor, weight.name));
    if (values.size() == 0) {
      report.add_warnings(absl::StrFormat("'%s' has no elements; nothing to initialize", weight.name));
      continue;
    }
    auto distribution = ResolveDistribution(options.scheme, weight.fans);
    if (!distribution.ok()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "weight '%s': %s", weight.name, distribution.status().message()));
    }
    proto::TensorRecord* record = report.add_tensors();
    *record = DescribeWeight(weight, values);
    record->set_scheme(report.scheme());
    *record->mutable_distribution() = *distribution;
    report.set_values(report.values() + values.size());
    jobs.push_back(FillJob{values, *distribution, StreamIdForName(weight.name)});
  }

  const int threads = options.threads > 0 ? options.threads : DefaultThreadCount();
  if (!options.with_statistics) {
    Fill(jobs, options.seed, threads);
    return report;
  }
  std::vector<TensorValues> rewritten;
  for (const FillJob& job : jobs) rewritten.push_back(job.values);
  const std::vector<proto::Moments> before = ComputeMoments(rewritten, threads);
  Fill(jobs, options.seed, threads);
  const std::vector<proto::Moments> after = ComputeMoments(rewritten, threads);
  proto::Totals& totals = *report.mutable_totals();
  for (size_t t = 0; t < jobs.size(); ++t) {
    proto::TensorRecord& record = *report.mutable_tensors(static_cast<int>(t));
    *record.mutable_before() = before[t];
    *record.mutable_after() = after[t];
    AddToTotals(rewritten[t], totals);
  }
  return report;
}

}  // namespace onnx_reinit
