#include "onnx_reinit/graph/graph_patterns.h"

namespace onnx_reinit {
namespace {

// Norm ops whose output an Add may give a bias to: those without a bias input of their own.
bool IsNormWithoutBias(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  if (op == "SimplifiedLayerNormalization" || op == "RMSNormalization") return true;
  const bool has_bias = node.input_size() > 2 && !node.input(2).empty();
  return op == "LayerNormalization" && IsDefaultDomain(node) && !has_bias;
}

}  // namespace

const onnx::NodeProto* GraphPatterns::ProducedBy(const std::string& value, absl::string_view op) const {
  const onnx::NodeProto* producer = index_.Producer(value);
  return producer != nullptr && producer->op_type() == op && producer->input_size() >= 1 ? producer : nullptr;
}

bool GraphPatterns::IsDecomposedNormScale(const onnx::NodeProto& mul) const {
  if (mul.input_size() != 2) return false;
  for (int k = 0; k < 2; ++k) {
    if (!IsConstant(mul.input(1 - k))) continue;
    const std::string& normalized = mul.input(k);
    const onnx::NodeProto* div = ProducedBy(normalized, "Div");
    if (div != nullptr && div->input_size() == 2 && ProducedBy(div->input(1), "Sqrt")) return true;
    const onnx::NodeProto* reshape = ProducedBy(normalized, "Reshape");
    if (reshape != nullptr && ProducedBy(reshape->input(0), "InstanceNormalization")) return true;
    const onnx::NodeProto* scaled = ProducedBy(normalized, "Mul");
    if (scaled == nullptr || scaled->input_size() != 2) continue;
    for (const std::string& factor : scaled->input()) {
      const onnx::NodeProto* reciprocal = ProducedBy(factor, "Reciprocal");
      if (reciprocal != nullptr && ProducedBy(reciprocal->input(0), "Sqrt")) return true;
      // torch 1.13 writes rsqrt(v) as Div(1, Sqrt(v))
      const onnx::NodeProto* inverse = ProducedBy(factor, "Div");
      if (inverse != nullptr && inverse->input_size() == 2 && IsConstant(inverse->input(0)) &&
          ProducedBy(inverse->input(1), "Sqrt")) {
        return true;
      }
    }
  }
  return false;
}

bool GraphPatterns::IsNormBias(const onnx::NodeProto& add, int i) const {
  if (add.input_size() != 2) return false;
  const onnx::NodeProto* other = index_.Producer(add.input(1 - i));
  if (other == nullptr) return false;
  if (other->op_type() == "Mul" && IsDecomposedNormScale(*other)) return true;
  return IsNormWithoutBias(*other);
}

bool GraphPatterns::IsOffsetScale(const onnx::NodeProto& add, int i,
                                  const std::function<bool(const std::string& value)>& all_ones) const {
  if (add.input_size() != 2 || add.output_size() != 1 || !all_ones(add.input(1 - i))) return false;
  for (const auto& [reader, k] : index_.Consumers(add.output(0))) {
    if (reader->op_type() != "Mul" || !IsDefaultDomain(*reader) || reader->input_size() != 2) continue;
    if (!IsConstant(reader->input(1 - k))) return true;
  }
  return false;
}

}  // namespace onnx_reinit
