#include "onnx_reinit/diff.h"

#include <cmath>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/base/parallel.h"
#include "onnx_reinit/base/sha256.h"
#include "onnx_reinit/numerics/moments.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/tensor_data.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/model/validate.h"
#include "onnx_reinit/version.h"

namespace onnx_reinit {
namespace {

std::string DtypeName(const onnx::TensorProto& tensor) {
  const std::optional<FloatType> type = FloatTypeOf(tensor.data_type());
  if (type) return std::string(FloatTypeName(*type));
  return DataTypeName(tensor.data_type());
}

bool SameShape(const onnx::TensorProto& a, const onnx::TensorProto& b) {
  return std::equal(a.dims().begin(), a.dims().end(), b.dims().begin(), b.dims().end());
}

// The stored payload of a non-float tensor, without its name and doc string, and with its detached
// bytes when it has them.
std::string PayloadBytes(const onnx::TensorProto& tensor, const DetachedPayloads& payloads) {
  onnx::TensorProto copy = tensor;
  copy.clear_name();
  copy.clear_doc_string();
  auto detached = payloads.by_tensor.find(&tensor);
  if (detached != payloads.by_tensor.end()) {
    copy.set_raw_data(detached->second.data, static_cast<size_t>(detached->second.size));
  }
  return copy.SerializeAsString();
}

// ValuesSha256 of every float constant of a model that has values, by name, hashed in parallel;
// and their TensorsDigest.
struct FloatHashes {
  std::unordered_map<std::string, std::string> by_name;
  std::string digest;
};

FloatHashes HashFloats(const std::vector<GraphConstant>& constants, const DetachedPayloads& payloads, int threads) {
  std::vector<std::pair<std::string, TensorValues>> tensors;
  for (const GraphConstant& constant : constants) {
    if (!FloatTypeOf(constant.tensor->data_type())) continue;
    // A tensor without readable values (weight-stripped) has no hash; comparing it still fails.
    absl::StatusOr<TensorValues> values = BindValues(*constant.tensor, constant.name, payloads);
    if (values.ok()) tensors.emplace_back(constant.name, *values);
  }
  std::vector<std::pair<std::string, std::string>> named(tensors.size());
  ParallelFor(static_cast<int64_t>(tensors.size()), ResolveThreadCount(threads), [&](int64_t t) {
    named[t] = {tensors[t].first, ValuesSha256(tensors[t].second)};
  });
  FloatHashes hashes;
  for (const auto& [name, sha256] : named) hashes.by_name.emplace(name, sha256);
  hashes.digest = TensorsDigest(std::move(named));
  return hashes;
}

// The sha256 of a float constant (see HashFloats), empty when it has none.
std::string HashOf(const FloatHashes& hashes, const std::string& name) {
  auto found = hashes.by_name.find(name);
  return found == hashes.by_name.end() ? "" : found->second;
}

void CompareValues(const TensorValues& a, const TensorValues& b, proto::TensorDiff& diff) {
  int64_t differing = 0;
  double max_difference = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const double x = a.Read(i), y = b.Read(i);
    if (x == y || (std::isnan(x) && std::isnan(y))) continue;
    ++differing;
    max_difference = std::max(max_difference, std::abs(x - y));
  }
  diff.set_values_differing(differing);
  diff.set_max_abs_difference(max_difference);
  diff.set_change(differing > 0 ? proto::TensorDiff::VALUES : proto::TensorDiff::BYTES);
}

// One model's side of a comparison: where its detached payloads are and its float hashes.
struct DiffSide {
  const DetachedPayloads& payloads;
  FloatHashes hashes;
};

// The float tensors of the diffs whose values changed, whose moments are computed at once (in
// parallel): values[2k] and values[2k + 1] are sides a and b of diffs[owner[k]].
struct PendingMoments {
  std::vector<TensorValues> values;
  std::vector<size_t> owner;
};

void Describe(const onnx::TensorProto& tensor, std::string* dtype, google::protobuf::RepeatedField<int64_t>* shape) {
  *dtype = DtypeName(tensor);
  for (int64_t dim : tensor.dims()) shape->Add(dim);
}

// Compares two float constants of one dtype and shape: hashes first, because equal bytes are equal
// values, and only the others are read value by value.
absl::Status CompareFloats(const GraphConstant& ca, const DiffSide& a, const GraphConstant& cb, const DiffSide& b,
                           size_t diff_index, proto::TensorDiff& diff, PendingMoments& pending) {
  ONNX_REINIT_ASSIGN_OR_RETURN(TensorValues va, BindValues(*ca.tensor, ca.name, a.payloads));
  ONNX_REINIT_ASSIGN_OR_RETURN(TensorValues vb, BindValues(*cb.tensor, cb.name, b.payloads));
  diff.set_sha256_a(HashOf(a.hashes, ca.name));
  diff.set_sha256_b(HashOf(b.hashes, cb.name));
  if (diff.sha256_a() == diff.sha256_b()) {
    diff.set_change(proto::TensorDiff::IDENTICAL);
    return absl::OkStatus();
  }
  CompareValues(va, vb, diff);
  if (diff.change() == proto::TensorDiff::VALUES) {
    pending.values.push_back(va);
    pending.values.push_back(vb);
    pending.owner.push_back(diff_index);
  }
  return absl::OkStatus();
}

// Compares two non-float constants by their stored payloads.
void CompareStored(const GraphConstant& ca, const DiffSide& a, const GraphConstant& cb, const DiffSide& b,
                   proto::TensorDiff& diff) {
  diff.set_sha256_a(Sha256Hex(PayloadBytes(*ca.tensor, a.payloads)));
  diff.set_sha256_b(Sha256Hex(PayloadBytes(*cb.tensor, b.payloads)));
  diff.set_change(diff.sha256_a() == diff.sha256_b() ? proto::TensorDiff::IDENTICAL : proto::TensorDiff::VALUES);
}

// The diff of the constants of one name in both models; it becomes diffs[diff_index].
absl::StatusOr<proto::TensorDiff> CompareMatched(const GraphConstant& ca, const DiffSide& a, const GraphConstant& cb,
                                                 const DiffSide& b, size_t diff_index, PendingMoments& pending) {
  proto::TensorDiff diff;
  diff.set_name(ca.name);
  Describe(*ca.tensor, diff.mutable_dtype_a(), diff.mutable_shape_a());
  Describe(*cb.tensor, diff.mutable_dtype_b(), diff.mutable_shape_b());
  if (ca.tensor->data_type() != cb.tensor->data_type()) {
    diff.set_change(proto::TensorDiff::DTYPE);
  } else if (!SameShape(*ca.tensor, *cb.tensor)) {
    diff.set_change(proto::TensorDiff::SHAPE);
  } else if (FloatTypeOf(ca.tensor->data_type())) {
    ONNX_REINIT_RETURN_IF_ERROR(CompareFloats(ca, a, cb, b, diff_index, diff, pending));
  } else {
    CompareStored(ca, a, cb, b, diff);
  }
  return diff;
}

// The diff of a constant that only one model has.
proto::TensorDiff OnlyIn(const GraphConstant& constant, bool in_a) {
  proto::TensorDiff diff;
  diff.set_name(constant.name);
  if (in_a) {
    Describe(*constant.tensor, diff.mutable_dtype_a(), diff.mutable_shape_a());
  } else {
    Describe(*constant.tensor, diff.mutable_dtype_b(), diff.mutable_shape_b());
  }
  diff.set_change(in_a ? proto::TensorDiff::ONLY_IN_A : proto::TensorDiff::ONLY_IN_B);
  return diff;
}

// The diffs of every constant: a's in a's order, then those only in b in b's order.
absl::StatusOr<std::vector<proto::TensorDiff>> DiffConstants(const std::vector<GraphConstant>& in_a, const DiffSide& a,
                                                             const std::vector<GraphConstant>& in_b, const DiffSide& b,
                                                             PendingMoments& pending) {
  std::unordered_map<std::string, const GraphConstant*> unmatched_b;
  for (const GraphConstant& constant : in_b) unmatched_b.emplace(constant.name, &constant);
  std::vector<proto::TensorDiff> diffs;
  for (const GraphConstant& ca : in_a) {
    auto match = unmatched_b.find(ca.name);
    if (match == unmatched_b.end()) {
      diffs.push_back(OnlyIn(ca, /*in_a=*/true));
      continue;
    }
    const GraphConstant& cb = *match->second;
    unmatched_b.erase(match);
    ONNX_REINIT_ASSIGN_OR_RETURN(proto::TensorDiff diff, CompareMatched(ca, a, cb, b, diffs.size(), pending));
    diffs.push_back(std::move(diff));
  }
  for (const GraphConstant& cb : in_b) {
    if (unmatched_b.count(cb.name)) diffs.push_back(OnlyIn(cb, /*in_a=*/false));
  }
  return diffs;
}

void AttachMoments(const PendingMoments& pending, int threads, std::vector<proto::TensorDiff>& diffs) {
  const std::vector<proto::Moments> moments = ComputeMoments(pending.values, threads);
  for (size_t k = 0; k < pending.owner.size(); ++k) {
    *diffs[pending.owner[k]].mutable_a() = moments[2 * k];
    *diffs[pending.owner[k]].mutable_b() = moments[2 * k + 1];
  }
}

}  // namespace

absl::StatusOr<proto::DiffReport> DiffModels(onnx::ModelProto& a, const DetachedPayloads& payloads_a,
                                             onnx::ModelProto& b, const DetachedPayloads& payloads_b, int threads) {
  ONNX_REINIT_RETURN_IF_ERROR(ValidateModel(a));
  ONNX_REINIT_RETURN_IF_ERROR(ValidateModel(b));
  const std::vector<GraphConstant> in_a = ListConstants(a);
  const std::vector<GraphConstant> in_b = ListConstants(b);
  const DiffSide side_a{payloads_a, HashFloats(in_a, payloads_a, threads)};
  const DiffSide side_b{payloads_b, HashFloats(in_b, payloads_b, threads)};
  proto::DiffReport report;
  report.set_version(kVersion);
  report.set_tensors_sha256_a(side_a.hashes.digest);
  report.set_tensors_sha256_b(side_b.hashes.digest);
  PendingMoments pending;
  ONNX_REINIT_ASSIGN_OR_RETURN(std::vector<proto::TensorDiff> diffs,
                               DiffConstants(in_a, side_a, in_b, side_b, pending));
  AttachMoments(pending, threads, diffs);
  for (proto::TensorDiff& diff : diffs) {
    if (diff.change() == proto::TensorDiff::IDENTICAL) {
      report.set_identical(report.identical() + 1);
    } else {
      report.set_differing(report.differing() + 1);
      *report.add_tensors() = std::move(diff);
    }
  }
  return report;
}

absl::StatusOr<proto::DiffReport> DiffFiles(const std::string& path_a, const std::string& path_b, int threads) {
  ONNX_REINIT_ASSIGN_OR_RETURN(MappedModel a, MappedModel::Open(path_a));
  ONNX_REINIT_ASSIGN_OR_RETURN(MappedModel b, MappedModel::Open(path_b));
  absl::StatusOr<proto::DiffReport> report = DiffModels(a.model(), a.payloads(), b.model(), b.payloads(), threads);
  if (!report.ok()) return WithContext(report.status(), absl::StrCat(path_a, " vs ", path_b));
  report->set_model_a(path_a);
  report->set_model_b(path_b);
  return report;
}

}  // namespace onnx_reinit
