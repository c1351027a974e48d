#include "onnx_reinit/fan.h"

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/checked_math.h"

namespace onnx_reinit {
namespace {

bool IsDefaultDomain(const onnx::NodeProto& node) {
  return node.domain().empty() || node.domain() == "ai.onnx";
}

int64_t IntAttribute(const onnx::NodeProto& node, absl::string_view name, int64_t fallback) {
  for (const onnx::AttributeProto& attribute : node.attribute()) {
    if (attribute.name() == name) return attribute.i();
  }
  return fallback;
}

absl::Status LayoutMismatch(const onnx::NodeProto& node, int input_index,
                            absl::Span<const int64_t> shape, absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrFormat("%s input %d has shape [%s], expected %s",
                                                    node.op_type(), input_index,
                                                    absl::StrJoin(shape, ", "), expected));
}

// Conv-style layout [a, b, k1..kn]: returns (b * rf, a * rf).
absl::StatusOr<Fans> ConvFans(const onnx::NodeProto& node, int input_index,
                              absl::Span<const int64_t> shape, absl::string_view layout) {
  if (shape.size() < 3) return LayoutMismatch(node, input_index, shape, layout);
  const std::optional<int64_t> receptive_field = ShapeProduct(shape.subspan(2));
  const std::optional<int64_t> fan_in = CheckedMul(shape[1], receptive_field.value_or(0));
  const std::optional<int64_t> fan_out = CheckedMul(shape[0], receptive_field.value_or(0));
  if (!receptive_field || !fan_in || !fan_out) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s input %d has shape [%s], whose fans overflow", node.op_type(), input_index,
        absl::StrJoin(shape, ", ")));
  }
  return Fans{*fan_in, *fan_out};
}

// The float op and input whose fan rule a QOperator op's integer weight follows.
std::optional<std::pair<absl::string_view, int>> FloatEquivalent(const onnx::NodeProto& node, int input_index) {
  const std::string& op = node.op_type();
  if ((op == "QLinearConv" && input_index == 3) || (op == "ConvInteger" && input_index == 1)) {
    return std::make_pair("Conv", 1);
  }
  if ((op == "QLinearMatMul" && input_index == 3) || (op == "MatMulInteger" && input_index == 1)) {
    return std::make_pair("MatMul", 1);
  }
  return std::nullopt;
}

}  // namespace

bool IsWeightInput(const onnx::NodeProto& node, int input_index,
                   const std::function<bool(int)>& input_is_constant) {
  if (!IsDefaultDomain(node) || !input_is_constant(input_index)) return false;
  const std::string& op = node.op_type();
  if (op == "Conv" || op == "ConvTranspose") return input_index == 1;
  if (op == "Gemm") return input_index == 0 || input_index == 1;
  // MatMul of a constant A with a constant B is constant folding material, not a layer: B only.
  if (op == "MatMul") return input_index == 1 || (input_index == 0 && !input_is_constant(1));
  return FloatEquivalent(node, input_index).has_value();
}

absl::StatusOr<Fans> FansForWeight(const onnx::NodeProto& node, int input_index,
                                   absl::Span<const int64_t> shape) {
  if (const auto equivalent = FloatEquivalent(node, input_index)) {
    onnx::NodeProto float_node;
    float_node.set_op_type(std::string(equivalent->first));
    auto fans = FansForWeight(float_node, equivalent->second, shape);
    if (fans.ok()) return fans;
    return absl::InvalidArgumentError(
        absl::StrFormat("%s input %d: %s", node.op_type(), input_index, fans.status().message()));
  }
  const std::string& op = node.op_type();
  if (op == "Conv") return ConvFans(node, input_index, shape, "[M, C/group, k1, ...]");
  if (op == "ConvTranspose") return ConvFans(node, input_index, shape, "[C, M/group, k1, ...]");
  if (op == "Gemm") {
    if (shape.size() != 2) return LayoutMismatch(node, input_index, shape, "a rank-2 matrix");
    const bool transposed = IntAttribute(node, input_index == 0 ? "transA" : "transB", 0) != 0;
    if (input_index == 1) {  // B: [K, N] or [N, K]
      return transposed ? Fans{shape[1], shape[0]} : Fans{shape[0], shape[1]};
    }
    return transposed ? Fans{shape[0], shape[1]} : Fans{shape[1], shape[0]};  // A: [M, K] or [K, M]
  }
  if (op == "MatMul") {
    if (shape.empty()) return LayoutMismatch(node, input_index, shape, "rank >= 1");
    const size_t rank = shape.size();
    if (rank == 1) return Fans{shape[0], 1};
    if (input_index == 1) return Fans{shape[rank - 2], shape[rank - 1]};  // B: [..., K, N]
    return Fans{shape[rank - 1], shape[rank - 2]};                       // A: [..., M, K]
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("%s has no fan rule for input %d", op, input_index));
}

}  // namespace onnx_reinit
