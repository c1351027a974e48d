#include "onnx_reinit/fan.h"

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/checked_math.h"
#include "onnx_reinit/graph_index.h"
#include "onnx_reinit/op_table.h"

namespace onnx_reinit {
namespace {

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

// The axes of a kMatrix rule from the end, swapped when its transpose attribute is set.
std::pair<int, int> MatrixAxes(const FanRule& rule, const onnx::NodeProto& node) {
  const bool transposed =
      rule.transpose_attribute != nullptr && IntAttribute(node, rule.transpose_attribute, 0) != 0;
  return transposed ? std::make_pair(rule.out_axis, rule.in_axis) : std::make_pair(rule.in_axis, rule.out_axis);
}

absl::StatusOr<Fans> MatrixFans(const FanRule& rule, const onnx::NodeProto& node, int input_index,
                                absl::Span<const int64_t> shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (rule.rank != 0 && rank != rule.rank) {
    return LayoutMismatch(node, input_index, shape, absl::StrFormat("a rank-%d matrix", rule.rank));
  }
  if (rank == 0) return LayoutMismatch(node, input_index, shape, "rank >= 1");
  if (rank == 1) return Fans{shape[0], 1};
  const auto [in_axis, out_axis] = MatrixAxes(rule, node);
  return Fans{shape[rank + in_axis], shape[rank + out_axis]};
}

// "[K, N]" for in_axis -2, out_axis -1 (leading batch dims as "...").
std::string MatrixLayout(const FanRule& rule, int in_axis, int out_axis) {
  const char* names[2];
  names[in_axis + 2] = "K";
  names[out_axis + 2] = "N";
  return absl::StrFormat("[%s%s, %s]", rule.rank == 0 ? "..., " : "", names[0], names[1]);
}

const InputSpec* SpecOf(const onnx::NodeProto& node, int input_index) {
  const OpSpec* op = FindOp(node.domain(), node.op_type());
  return op == nullptr ? nullptr : op->Input(input_index);
}

}  // namespace

std::string DescribeFanRule(const FanRule& rule) {
  switch (rule.kind) {
    case FanRule::Kind::kNone: return "-";
    case FanRule::Kind::kConv: return "[M, C/group, k...]: fan_in = C/group * k, fan_out = M * k";
    case FanRule::Kind::kConvTranspose: return "[C, M/group, k...]: fan_in = M/group * k, fan_out = C * k";
    case FanRule::Kind::kMatrix: {
      std::string text = absl::StrCat(MatrixLayout(rule, rule.in_axis, rule.out_axis), ": fan_in = K, fan_out = N");
      if (rule.transpose_attribute != nullptr) {
        absl::StrAppend(&text, " (", rule.transpose_attribute, "=1: ",
                        MatrixLayout(rule, rule.out_axis, rule.in_axis), ")");
      }
      return text;
    }
    case FanRule::Kind::kTable: return "[vocabulary, dim]: fan_in = dim, fan_out = vocabulary";
    case FanRule::Kind::kRecurrent: return "[dirs, gates*H, in]: per gate fan_in = in (R: H), fan_out = H";
    case FanRule::Kind::kBiasOf: return absl::StrFormat("fan_in of input %d", rule.weight_input);
  }
  return "?";
}

absl::StatusOr<Fans> FansByRule(const FanRule& rule, const onnx::NodeProto& node, int input_index,
                                absl::Span<const int64_t> shape) {
  switch (rule.kind) {
    case FanRule::Kind::kConv: return ConvFans(node, input_index, shape, "[M, C/group, k1, ...]");
    case FanRule::Kind::kConvTranspose: return ConvFans(node, input_index, shape, "[C, M/group, k1, ...]");
    case FanRule::Kind::kMatrix: return MatrixFans(rule, node, input_index, shape);
    case FanRule::Kind::kTable:
      if (shape.size() != 2) return LayoutMismatch(node, input_index, shape, "[vocabulary, dim]");
      return Fans{shape[1], shape[0]};  // fan_in = embedding dim, as torch and Flax
    default: break;
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("%s has no fan rule for input %d", node.op_type(), input_index));
}

bool IsWeightInput(const onnx::NodeProto& node, int input_index,
                   const std::function<bool(int)>& input_is_constant) {
  const InputSpec* spec = SpecOf(node, input_index);
  if (spec == nullptr || spec->role != Role::kWeight || !input_is_constant(input_index)) return false;
  return spec->unless_constant < 0 || !input_is_constant(spec->unless_constant);
}

absl::StatusOr<Fans> FansForWeight(const onnx::NodeProto& node, int input_index,
                                   absl::Span<const int64_t> shape) {
  const InputSpec* spec = SpecOf(node, input_index);
  if (spec == nullptr || spec->role != Role::kWeight) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s has no fan rule for input %d", node.op_type(), input_index));
  }
  return FansByRule(spec->fans, node, input_index, shape);
}

}  // namespace onnx_reinit
