#include "onnx_reinit/fan.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "onnx_reinit/base/checked_math.h"
#include "onnx_reinit/graph_index.h"
#include "onnx_reinit/op_table.h"

namespace onnx_reinit {
namespace {

absl::Status LayoutMismatch(const onnx::NodeProto& node, int input_index, absl::Span<const int64_t> shape,
                            absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrFormat("%s input %d has shape [%s], expected %s", node.op_type(),
                                                    input_index, absl::StrJoin(shape, ", "), expected));
}

// Conv-style layout [a, b, k1..kn]: returns (b * rf, a * rf).
absl::StatusOr<Fans> ConvFans(const onnx::NodeProto& node, int input_index, absl::Span<const int64_t> shape,
                              absl::string_view layout) {
  if (shape.size() < 3) return LayoutMismatch(node, input_index, shape, layout);
  const std::optional<int64_t> receptive_field = ShapeProduct(shape.subspan(2));
  const std::optional<int64_t> fan_in = CheckedMul(shape[1], receptive_field.value_or(0));
  const std::optional<int64_t> fan_out = CheckedMul(shape[0], receptive_field.value_or(0));
  if (!receptive_field || !fan_in || !fan_out) {
    return absl::InvalidArgumentError(absl::StrFormat("%s input %d has shape [%s], whose fans overflow", node.op_type(),
                                                      input_index, absl::StrJoin(shape, ", ")));
  }
  return Fans{*fan_in, *fan_out};
}

// Channels-last layout [M, k1..kn, C/group]: (C/group * rf, M * rf), as the same Conv in [M, C/group, k...].
absl::StatusOr<Fans> ChannelsLastConvFans(const onnx::NodeProto& node, int input_index,
                                          absl::Span<const int64_t> shape) {
  if (shape.size() < 3) return LayoutMismatch(node, input_index, shape, "[M, k1, ..., C/group]");
  std::vector<int64_t> channels_first = {shape[0], shape.back()};
  channels_first.insert(channels_first.end(), shape.begin() + 1, shape.end() - 1);
  return ConvFans(node, input_index, channels_first, "[M, k1, ..., C/group]");
}

// The axes of a kMatrix rule from the end, swapped when its transpose attribute is set.
std::pair<int, int> MatrixAxes(const FanRule& rule, const onnx::NodeProto& node) {
  const bool transposed = rule.transpose_attribute != nullptr && IntAttribute(node, rule.transpose_attribute, 0) != 0;
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

// Einsum: the fans of operand `input_index` of `shape` by the node's equation (FanRule::kEinsum).
// Only a plain operand of a two-operand equation has them: its own term without an ellipsis
// (the other operand's may have one), one label per axis, none repeated (a diagonal), and each
// label either contracted with the other operand or kept in the output.
absl::StatusOr<Fans> EinsumFans(const onnx::NodeProto& node, int input_index, absl::Span<const int64_t> shape) {
  const onnx::AttributeProto* attribute = FindAttribute(node, "equation");
  const std::string written = attribute == nullptr ? "" : attribute->s();
  auto unplain = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Einsum '%s' input %d is not a plain operand of a two-operand equation: %s", written, input_index, why));
  };
  std::string equation;
  for (char c : written) {
    if (c != ' ') equation += c;
  }
  const size_t arrow = equation.find("->");
  const std::vector<std::string> terms = absl::StrSplit(equation.substr(0, arrow), ',');
  if (terms.size() != 2 || node.input_size() != 2) {
    return unplain(absl::StrFormat("it has %d operands", std::max<int>(terms.size(), node.input_size())));
  }
  const std::string& term = terms[input_index];
  const std::string& other = terms[1 - input_index];
  if (term.find('.') != std::string::npos) return unplain("its own term has an ellipsis");
  if (term.size() != shape.size()) {
    return unplain(absl::StrFormat("its term '%s' names %d axes, its shape [%s] has %d", term, term.size(),
                                   absl::StrJoin(shape, ", "), shape.size()));
  }
  std::string output;  // implicit mode: the labels that occur once, in alphabetical order
  if (arrow != std::string::npos) {
    output = equation.substr(arrow + 2);
  } else {
    const std::string all = terms[0] + terms[1];
    for (char c : all) {
      if (std::isalpha(static_cast<unsigned char>(c)) && std::count(all.begin(), all.end(), c) == 1) output += c;
    }
  }
  std::optional<int64_t> fan_in = 1, fan_out = 1;
  for (size_t k = 0; k < term.size(); ++k) {
    const char label = term[k];
    if (!std::isalpha(static_cast<unsigned char>(label))) return unplain(absl::StrFormat("'%c' is not a label", label));
    if (std::count(term.begin(), term.end(), label) > 1) {
      return unplain(absl::StrFormat("its label '%c' repeats (a diagonal)", label));
    }
    if (output.find(label) != std::string::npos) {
      fan_out = CheckedMul(*fan_out, shape[k]);
    } else if (other.find(label) != std::string::npos) {
      fan_in = CheckedMul(*fan_in, shape[k]);
    } else {
      return unplain(absl::StrFormat("its label '%c' is summed over within it alone", label));
    }
    if (!fan_in || !fan_out) return unplain("its fans overflow");
  }
  return Fans{*fan_in, *fan_out};
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
        absl::StrAppend(&text, " (", rule.transpose_attribute, "=1: ", MatrixLayout(rule, rule.out_axis, rule.in_axis),
                        ")");
      }
      return text;
    }
    case FanRule::Kind::kTable: return "[vocabulary, dim]: fan_in = dim, fan_out = vocabulary";
    case FanRule::Kind::kRecurrent: return "[dirs, gates*H, in]: per gate fan_in = in (R: H), fan_out = H";
    case FanRule::Kind::kConvChannelsLast: return "[M, k..., C/group]: fan_in = C/group * k, fan_out = M * k";
    case FanRule::Kind::kBiasOf:
      if (rule.weight_input < 0) return "fan_in of the layer computing another input";
      return absl::StrFormat("fan_in of input %d", rule.weight_input);
    case FanRule::Kind::kEinsum:
      return "by the equation (two operands): fan_in = its dims contracted away, fan_out = its dims in the output";
    case FanRule::Kind::kBlockMatrix: return "[N, blocks, blob]: fan_in = K, fan_out = N (attributes)";
    case FanRule::Kind::kPackedTable: return "[vocabulary, dim * bits / 8]: fan_in = dim, fan_out = vocabulary";
  }
  return "?";
}

absl::StatusOr<Fans> FansByRule(const FanRule& rule, const onnx::NodeProto& node, int input_index,
                                absl::Span<const int64_t> shape) {
  switch (rule.kind) {
    case FanRule::Kind::kConv: return ConvFans(node, input_index, shape, "[M, C/group, k1, ...]");
    case FanRule::Kind::kConvTranspose: return ConvFans(node, input_index, shape, "[C, M/group, k1, ...]");
    case FanRule::Kind::kConvChannelsLast: return ChannelsLastConvFans(node, input_index, shape);
    case FanRule::Kind::kMatrix: return MatrixFans(rule, node, input_index, shape);
    case FanRule::Kind::kEinsum: return EinsumFans(node, input_index, shape);
    case FanRule::Kind::kTable:
      if (shape.size() != 2) return LayoutMismatch(node, input_index, shape, "[vocabulary, dim]");
      return Fans{shape[1], shape[0]};  // fan_in = embedding dim, as torch and Flax
    case FanRule::Kind::kBlockMatrix: {
      const int64_t k = IntAttribute(node, "K", 0), n = IntAttribute(node, "N", 0);
      if (shape.size() != 3 || k <= 0 || shape[0] != n) {
        return LayoutMismatch(node, input_index, shape, absl::StrFormat("[N = %d, blocks, blob] with K > 0", n));
      }
      return Fans{k, n};
    }
    case FanRule::Kind::kPackedTable: {
      const int64_t bits = IntAttribute(node, "bits", 4);
      if (shape.size() != 2 || bits <= 0 || bits > 8) {
        return LayoutMismatch(node, input_index, shape, "[vocabulary, dim * bits / 8]");
      }
      return Fans{shape[1] * 8 / bits, shape[0]};
    }
    default: break;
  }
  return absl::InvalidArgumentError(absl::StrFormat("%s has no fan rule for input %d", node.op_type(), input_index));
}

bool IsWeightInput(const onnx::NodeProto& node, int input_index, const std::function<bool(int)>& input_is_constant) {
  const InputSpec* spec = SpecOf(node, input_index);
  if (spec == nullptr || spec->role != Role::kWeight || !input_is_constant(input_index)) return false;
  if (spec->unless_constant == kAnyOtherInput) {
    for (int k = 0; k < node.input_size(); ++k) {
      if (k != input_index && !input_is_constant(k)) return true;
    }
    return false;
  }
  return spec->unless_constant < 0 || !input_is_constant(spec->unless_constant);
}

absl::StatusOr<Fans> FansForWeight(const onnx::NodeProto& node, int input_index, absl::Span<const int64_t> shape) {
  const InputSpec* spec = SpecOf(node, input_index);
  if (spec == nullptr || spec->role != Role::kWeight) {
    return absl::InvalidArgumentError(absl::StrFormat("%s has no fan rule for input %d", node.op_type(), input_index));
  }
  return FansByRule(spec->fans, node, input_index, shape);
}

}  // namespace onnx_reinit
