#include "onnx_reinit/op_table.h"

#include <iterator>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace onnx_reinit {
namespace {

// Layouts (fan.h).
FanRule Conv() { return FanRule{FanRule::Kind::kConv}; }
FanRule ConvTranspose() { return FanRule{FanRule::Kind::kConvTranspose}; }
// A matrix whose fan_in and fan_out are the axes `in_axis` and `out_axis` from the end.
FanRule Matrix(int in_axis, int out_axis, const char* transpose_attribute, int rank) {
  FanRule rule{FanRule::Kind::kMatrix};
  rule.in_axis = in_axis;
  rule.out_axis = out_axis;
  rule.transpose_attribute = transpose_attribute;
  rule.rank = rank;
  return rule;
}
// [..., K, N] (MatMul B) and [..., M, K] (MatMul A); Gemm's are rank 2, transposed by transA/transB.
FanRule RightOperand(const char* transpose_attribute = nullptr, int rank = 0) {
  return Matrix(-2, -1, transpose_attribute, rank);
}
FanRule LeftOperand(const char* transpose_attribute = nullptr, int rank = 0) {
  return Matrix(-1, -2, transpose_attribute, rank);
}
FanRule EinsumOperand() { return FanRule{FanRule::Kind::kEinsum}; }
FanRule BiasOf(int weight_input) {
  FanRule rule{FanRule::Kind::kBiasOf};
  rule.weight_input = weight_input;
  return rule;
}

// Inputs, by what they hold.
InputSpec Input(int index, const char* name, Role role = Role::kOther) {
  InputSpec spec;
  spec.index = index;
  spec.name = name;
  spec.role = role;
  return spec;
}
InputSpec Weight(int index, const char* name, FanRule fans) {
  InputSpec spec = Input(index, name, Role::kWeight);
  spec.fans = fans;
  return spec;
}
InputSpec Bias(int index, const char* name, int weight_input) {
  InputSpec spec = Input(index, name, Role::kBias);
  spec.fans = BiasOf(weight_input);
  return spec;
}
InputSpec Norm(int index, const char* name, Role role) { return Input(index, name, role); }
InputSpec Fixed(int index, const char* name, const char* what) {
  InputSpec spec = Input(index, name);
  spec.fixed = what;
  return spec;
}
// An input without a role that is worth naming (it may hold learned values onnx-reinit leaves).
InputSpec Unhandled(int index, const char* name, const char* note) {
  InputSpec spec = Input(index, name);
  spec.note = note;
  return spec;
}
InputSpec Matched(int index, const char* name, Role role, Match match) {
  InputSpec spec = Input(index, name, role);
  spec.match = match;
  return spec;
}
InputSpec Embedding(int index, const char* name) {
  InputSpec spec = Matched(index, name, Role::kEmbedding, Match::kGatherTable);
  spec.fans = FanRule{FanRule::Kind::kTable};
  return spec;
}
// An RNN's W, R or B: `gates` blocks along axis 1 (B: the input and recurrence bias of each).
InputSpec Recurrent(int index, const char* name, Role role, int gates, const char* names) {
  InputSpec spec = Matched(index, name, role, Match::kRecurrent);
  if (role != Role::kRnnBias) spec.fans = FanRule{FanRule::Kind::kRecurrent};
  spec.parts = PartRule{1, role == Role::kRnnBias ? 2 * gates : gates, nullptr, names};
  return spec;
}
// Integers the op reads itself, with the scale and zero point at those inputs.
InputSpec QOperator(InputSpec spec, int scale, int zero_point, int axis, const char* axis_swap_attribute = nullptr) {
  spec.storage = ValueStorage::kQOperator;
  spec.quant = QuantSlots{scale, zero_point, axis, axis_swap_attribute};
  return spec;
}
// A QOperator weight multiplied with an activation quantized by a calibrated scale (at input
// `activation_scale`).
InputSpec Calibrated(InputSpec spec, int activation_scale) {
  spec.quant.activation_scale = activation_scale;
  return spec;
}
// An int32 bias of a QOperator op, in steps of the activation's scale (at input `activation_scale`)
// times the weight's.
InputSpec Int32Bias(InputSpec spec, int activation_scale) {
  spec = QOperator(spec, -1, -1, 0);
  spec.quant.activation_scale = activation_scale;
  return spec;
}
// The integers a DequantizeLinear makes floats of, for the op that reads its output; the scale and
// zero point at those inputs, per-axis along `axis` unless the node's axis attribute says otherwise.
InputSpec QdqIntegers(int index, const char* name, int scale, int zero_point, int axis) {
  InputSpec spec = Matched(index, name, Role::kQuantized, Match::kPassedOn);
  spec.storage = ValueStorage::kQdq;
  spec.quant = QuantSlots{scale, zero_point, axis};
  return spec;
}
// A float op's bias, which a QDQ model stores as int32 in steps of the activation's scale (that of
// the DequantizeLinear making input `activation_input`) times the weight's.
InputSpec QdqInt32Bias(InputSpec spec, int activation_input) {
  spec.quant.dequantized_activation = activation_input;
  return spec;
}
// n-bit integers packed in blocks along the rows, each block with its own scale and zero point at
// those inputs (blockwise.h).
InputSpec BlockQuantized(InputSpec spec, int scale, int zero_point) {
  spec.storage = ValueStorage::kBlockQuantized;
  spec.quant = QuantSlots{scale, zero_point, 1};
  return spec;
}
// A table whose rows are `bits`-bit values packed in uint8.
InputSpec PackedTable(InputSpec spec) {
  spec.fans = FanRule{FanRule::Kind::kPackedTable};
  return spec;
}
InputSpec UnlessConstant(InputSpec spec, int other_input) {
  spec.unless_constant = other_input;
  return spec;
}

// A table an op reads with indices of its own (EmbedLayerNormalization's word, position and
// segment tables): an embedding.
InputSpec Table(int index, const char* name) {
  InputSpec spec;
  spec.index = index;
  spec.name = name;
  spec.role = Role::kEmbedding;
  spec.fans = FanRule{FanRule::Kind::kTable};
  return spec;
}
// A bias added to the output of the layer that computes another input of the op (BiasGelu's).
InputSpec BiasOfLayerBefore(int index, const char* name) { return Bias(index, name, -1); }
// A fused tensor of `count` layers along `axis` (sizes from the INTS attribute when present).
InputSpec InParts(InputSpec spec, int axis, int count, const char* sizes_attribute, const char* names) {
  spec.parts = PartRule{axis, count, sizes_attribute, names};
  return spec;
}
InputSpec RotaryCache(int index, const char* name) {
  return Fixed(index, name, "a rotary embedding's cos/sin cache, computed from positions, not learned");
}

constexpr char kMicrosoft[] = "com.microsoft";

OpSpec Op(const char* op_type, std::vector<InputSpec> inputs, int64_t since = 1, const char* domain = "") {
  OpSpec op;
  op.domain = domain;
  op.op_type = op_type;
  op.since = since;
  op.inputs = std::move(inputs);
  return op;
}
OpSpec AttentionOp(OpSpec spec) {
  spec.attention = true;
  return spec;
}

OpSpec ResidualSumOp(OpSpec spec) {
  spec.residual_sum = true;
  return spec;
}

OpSpec QuantizedOp(const char* op_type, std::vector<InputSpec> inputs, const char* domain = "") {
  OpSpec op = Op(op_type, std::move(inputs), 1, domain);
  op.unlisted_are_quantization_parameters = true;
  return op;
}
// An RNN op with `gates` gate blocks, named in ONNX's order.
OpSpec RecurrentOp(const char* op_type, int gates, const char* gate_names, std::vector<InputSpec> extra) {
  std::vector<InputSpec> inputs = {
      Recurrent(1, "W", Role::kRnnWeight, gates, gate_names),
      Recurrent(2, "R", Role::kRnnRecurrence, gates, gate_names),
      Recurrent(3, "B", Role::kRnnBias, gates, "Wb per gate, then Rb per gate"),
  };
  inputs.insert(inputs.end(), extra.begin(), extra.end());
  return Op(op_type, std::move(inputs));
}
OpSpec Elementwise(const char* op_type, Match match = Match::kElementwise) {
  return Op(op_type, {Matched(kAnyInput, "", Role::kParameter, match)});
}

// The ops of ONNX itself (domain ai.onnx).
std::vector<OpSpec> OnnxOps() {
  return {
      // Layers.
      Op("Conv", {Weight(1, "W", Conv()), QdqInt32Bias(Bias(2, "B", 1), 0)}),
      Op("ConvTranspose", {Weight(1, "W", ConvTranspose()), QdqInt32Bias(Bias(2, "B", 1), 0)}),
      Op("Gemm", {Weight(0, "A", LeftOperand("transA", 2)), Weight(1, "B", RightOperand("transB", 2)),
                  QdqInt32Bias(Bias(2, "C", 1), 0)}),
      Op("MatMul", {UnlessConstant(Weight(0, "A", LeftOperand()), 1), Weight(1, "B", RightOperand())}),
      Op("Gather", {Embedding(0, "data")}),
      Op("Einsum", {UnlessConstant(Weight(kAnyInput, "Inputs", EinsumOperand()), kAnyOtherInput)}, 12),
      // Norms.
      Op("BatchNormalization", {Norm(1, "scale", Role::kNormScale), Norm(2, "B", Role::kNormBias),
                                Norm(3, "input_mean", Role::kNormMean), Norm(4, "input_var", Role::kNormVar)}),
      Op("LayerNormalization", {Norm(1, "Scale", Role::kNormScale), Norm(2, "B", Role::kNormBias)}),
      Op("InstanceNormalization", {Norm(1, "scale", Role::kNormScale), Norm(2, "B", Role::kNormBias)}),
      Op("GroupNormalization", {Norm(1, "scale", Role::kNormScale), Norm(2, "bias", Role::kNormBias)}),
      Op("RMSNormalization", {Norm(1, "scale", Role::kNormScale)}, 23),
      // Recurrent layers.
      RecurrentOp("LSTM", 4, "i, o, f, c",
                  {Fixed(5, "initial_h", "LSTM initial state"), Fixed(6, "initial_c", "LSTM initial state"),
                   Unhandled(7, "P", "LSTM peephole weights")}),
      RecurrentOp("GRU", 3, "z, r, h", {Fixed(5, "initial_h", "GRU initial state")}),
      RecurrentOp("RNN", 1, "", {Fixed(5, "initial_h", "RNN initial state")}),
      // Learned tensors without a layer (roles.h: parameter), and decomposed norms.
      Elementwise("Add", Match::kAddOperand),
      Elementwise("Mul", Match::kDecomposedNormScale),
      Elementwise("Sub"),
      Elementwise("Div"),
      Elementwise("Concat"),
      Elementwise("Where"),
      Op("Expand", {Matched(0, "input", Role::kParameter, Match::kExpanded)}),
      Op("PRelu", {Matched(1, "slope", Role::kParameter, Match::kDirect)}),
      // Float constants that parametrize an op, never learned.
      Op("Resize", {Fixed(1, "roi", "Resize's region of interest"), Fixed(2, "scales", "Resize's scales")}),
      Op("Upsample", {Fixed(1, "scales", "Upsample's scales")}),
      // Quantized: QDQ, and the QOperator ops.
      Op("DequantizeLinear",
         {QdqIntegers(0, "x", 1, 2, 1), Fixed(1, "x_scale", "quantization parameter of DequantizeLinear"),
          Fixed(2, "x_zero_point", "quantization parameter of DequantizeLinear")}),
      Op("QuantizeLinear", {Fixed(1, "y_scale", "quantization parameter of QuantizeLinear"),
                            Fixed(2, "y_zero_point", "quantization parameter of QuantizeLinear")}),
      QuantizedOp("QLinearConv",
                  {Calibrated(QOperator(Weight(3, "w", Conv()), 4, 5, 0), 1), Int32Bias(Bias(8, "B", 3), 1)}),
      QuantizedOp("QLinearMatMul", {Calibrated(QOperator(Weight(3, "b", RightOperand()), 4, 5, -1), 1)}),
      QuantizedOp("ConvInteger", {QOperator(Weight(1, "w", Conv()), -1, 3, 0)}),
      QuantizedOp("MatMulInteger", {QOperator(Weight(1, "B", RightOperand()), -1, 3, -1)}),
  };
}

// ONNX Runtime's fused and contrib ops (docs/ContribOperators.md), as its optimizers and
// onnxruntime-genai write them. ORT writes SimplifiedLayerNormalization (and LayerNormalization
// below opset 17) in the default domain.
std::vector<OpSpec> OnnxRuntimeOps() {
  return {
      Op("SimplifiedLayerNormalization", {Norm(1, "scale", Role::kNormScale)}),
      Op("SimplifiedLayerNormalization", {Norm(1, "scale", Role::kNormScale)}, 1, kMicrosoft),
      Op("LayerNormalization", {Norm(1, "Scale", Role::kNormScale), Norm(2, "B", Role::kNormBias)}, 1, kMicrosoft),
      ResidualSumOp(
          Op("SkipLayerNormalization",
             {Norm(2, "gamma", Role::kNormScale), Norm(3, "beta", Role::kNormBias), BiasOfLayerBefore(4, "bias")}, 1,
             kMicrosoft)),
      ResidualSumOp(Op("SkipSimplifiedLayerNormalization",
                       {Norm(2, "gamma", Role::kNormScale), BiasOfLayerBefore(3, "bias")}, 1, kMicrosoft)),
      Op("EmbedLayerNormalization",
         {Table(2, "word_embedding"), Table(3, "position_embedding"), Table(4, "segment_embedding"),
          Norm(5, "gamma", Role::kNormScale), Norm(6, "beta", Role::kNormBias)},
         1, kMicrosoft),
      Op("GroupNorm", {Norm(1, "gamma", Role::kNormScale), Norm(2, "beta", Role::kNormBias)}, 1, kMicrosoft),
      AttentionOp(Op("Attention",
                     {InParts(Weight(1, "weights", RightOperand(nullptr, 2)), -1, 3, "qkv_hidden_sizes", "q, k, v"),
                      InParts(Bias(2, "bias", 1), 0, 3, "qkv_hidden_sizes", "q, k, v")},
                     1, kMicrosoft)),
      AttentionOp(
          Op("MultiHeadAttention", {InParts(BiasOfLayerBefore(3, "bias"), 0, 3, nullptr, "q, k, v")}, 1, kMicrosoft)),
      Op("FusedMatMul",
         {UnlessConstant(Weight(0, "A", LeftOperand("transA")), 1), Weight(1, "B", RightOperand("transB"))}, 1,
         kMicrosoft),
      Op("FusedGemm",
         {Weight(0, "A", LeftOperand("transA", 2)), Weight(1, "B", RightOperand("transB", 2)), Bias(2, "C", 1)}, 1,
         kMicrosoft),
      Op("FusedConv", {Weight(1, "W", Conv()), Bias(2, "B", 1)}, 1, kMicrosoft),
      Op("NhwcConv", {Weight(1, "W", FanRule{FanRule::Kind::kConvChannelsLast}), Bias(2, "B", 1)}, 1, kMicrosoft),
      Op("BiasGelu", {BiasOfLayerBefore(1, "B")}, 1, kMicrosoft),
      Op("FastGelu", {BiasOfLayerBefore(1, "bias")}, 1, kMicrosoft),
      Op("BiasAdd", {BiasOfLayerBefore(1, "bias")}, 1, kMicrosoft),
      Op("BiasSplitGelu", {BiasOfLayerBefore(1, "bias")}, 1, kMicrosoft),
      Op("RotaryEmbedding", {RotaryCache(2, "cos_cache"), RotaryCache(3, "sin_cache")}, 1, kMicrosoft),
      AttentionOp(Op("GroupQueryAttention", {RotaryCache(7, "cos_cache"), RotaryCache(8, "sin_cache")}, 1, kMicrosoft)),
      QuantizedOp("DynamicQuantizeMatMul", {QOperator(Weight(1, "B", RightOperand()), 2, 3, -1), Bias(4, "bias", 1)},
                  kMicrosoft),
      QuantizedOp("QGemm",
                  {Calibrated(QOperator(Weight(3, "B", RightOperand("transB", 2)), 4, 5, -1, "transB"), 1),
                   Int32Bias(Bias(6, "C", 3), 1)},
                  kMicrosoft),
      QuantizedOp("MatMulIntegerToFloat", {QOperator(Weight(1, "B", RightOperand()), 3, 5, -1), Bias(6, "bias", 1)},
                  kMicrosoft),
      // Blockwise n-bit weights (blockwise.h); scales and zero points, unlisted, are quantization parameters.
      QuantizedOp("MatMulNBits",
                  {BlockQuantized(Weight(1, "B", FanRule{FanRule::Kind::kBlockMatrix}), 2, 3),
                   Fixed(4, "g_idx", "group index of MatMulNBits (deprecated)"), Bias(5, "bias", 1)},
                  kMicrosoft),
      QuantizedOp("GatherBlockQuantized", {PackedTable(BlockQuantized(Embedding(0, "data"), 2, 3))}, kMicrosoft),
  };
}

// ONNX's ops, then ONNX Runtime's: the order `onnx-reinit ops` prints.
std::vector<OpSpec> BuildTable() {
  std::vector<OpSpec> table = OnnxOps();
  std::vector<OpSpec> runtime = OnnxRuntimeOps();
  table.insert(table.end(), std::make_move_iterator(runtime.begin()), std::make_move_iterator(runtime.end()));
  return table;
}

bool SameDomain(absl::string_view a, absl::string_view b) {
  auto normal = [](absl::string_view d) { return d == "ai.onnx" ? absl::string_view() : d; };
  return normal(a) == normal(b);
}

std::string DomainText(const OpSpec& op) { return op.domain[0] == '\0' ? "ai.onnx" : op.domain; }

std::string Opsets(const OpSpec& op) {
  if (op.until == kLatestOpset) return absl::StrCat(op.since, "+");
  return absl::StrCat(op.since, "-", op.until);
}

std::string InputText(const InputSpec& input) {
  if (input.index == kAnyInput) return "any";
  return input.name[0] == '\0' ? absl::StrCat(input.index) : absl::StrCat(input.index, " ", input.name);
}

std::string RoleText(const InputSpec& input) {
  if (input.fixed != nullptr) return absl::StrCat("fixed: ", input.fixed);
  if (input.role == Role::kOther) return "none";
  return std::string(RoleName(input.role));
}

std::string PartsText(const PartRule& parts) {
  if (parts.count <= 1 && parts.sizes_attribute == nullptr) return "-";
  std::string text = absl::StrFormat("%d along axis %d", parts.count, parts.axis);
  if (parts.names[0] != '\0') absl::StrAppend(&text, " (", parts.names, ")");
  if (parts.sizes_attribute != nullptr) absl::StrAppend(&text, ", sizes from ", parts.sizes_attribute);
  return text;
}

std::string NoteText(const InputSpec& input) {
  std::string note = input.note;
  auto add = [&](const std::string& text) { absl::StrAppend(&note, note.empty() ? "" : "; ", text); };
  if (input.unless_constant >= 0) add(absl::StrFormat("only while input %d is computed", input.unless_constant));
  if (input.unless_constant == kAnyOtherInput) add("only while another input is computed");
  switch (input.match) {
    case Match::kGatherTable: add("indices computed, axis 0"); break;
    case Match::kElementwise: add("combined with an activation, not a scalar or mask"); break;
    case Match::kAddOperand: add("a MatMul's bias, a decomposed norm's bias, or a parameter"); break;
    case Match::kDecomposedNormScale: add("a decomposed norm's scale, or a parameter"); break;
    case Match::kExpanded: add("the expanded result combined with an activation"); break;
    case Match::kPassedOn: add("role from the reader of the output"); break;
    default: break;
  }
  const bool integers = input.storage == ValueStorage::kQOperator || input.storage == ValueStorage::kBlockQuantized;
  if (integers && input.quant.scale >= 0) {
    add(absl::StrFormat("scale input %d, zero point input %d", input.quant.scale, input.quant.zero_point));
  }
  return note;
}

}  // namespace

absl::string_view StorageName(ValueStorage storage) {
  switch (storage) {
    case ValueStorage::kFloat: return "float";
    case ValueStorage::kQdq: return "qdq";
    case ValueStorage::kQOperator: return "qoperator";
    case ValueStorage::kBlockQuantized: return "block_quantized";
  }
  return "?";
}

const InputSpec* OpSpec::Input(int index) const {
  for (const InputSpec& input : inputs) {
    if (input.index == index || input.index == kAnyInput) return &input;
  }
  return nullptr;
}

bool OpSpec::ReadsIntegers() const {
  for (const InputSpec& input : inputs) {
    if (input.storage == ValueStorage::kQOperator || input.storage == ValueStorage::kBlockQuantized) return true;
  }
  return false;
}

absl::Span<const OpSpec> OpTable() {
  static const std::vector<OpSpec>* const table = new std::vector<OpSpec>(BuildTable());
  return *table;
}

namespace {

// The table's rows by op type, in table order: FindOp runs for every node of a graph.
const std::unordered_map<std::string_view, std::vector<const OpSpec*>>& RowsByOpType() {
  static const auto* const rows = [] {
    auto* by_type = new std::unordered_map<std::string_view, std::vector<const OpSpec*>>();
    for (const OpSpec& op : OpTable()) (*by_type)[op.op_type].push_back(&op);
    return by_type;
  }();
  return *rows;
}

}  // namespace

const OpSpec* FindOp(absl::string_view domain, absl::string_view op_type, int64_t version) {
  const auto rows = RowsByOpType().find(std::string_view(op_type.data(), op_type.size()));
  if (rows == RowsByOpType().end()) return nullptr;
  const OpSpec* found = nullptr;
  for (const OpSpec* op : rows->second) {
    if (!SameDomain(op->domain, domain)) continue;
    if (version < 0 || (op->since <= version && version <= op->until)) found = op;
  }
  return found;
}

proto::OpTableListing DescribeOpTable() {
  proto::OpTableListing listing;
  for (const OpSpec& op : OpTable()) {
    for (const InputSpec& input : op.inputs) {
      proto::OpTableInput& entry = *listing.add_inputs();
      entry.set_domain(DomainText(op));
      entry.set_op_type(op.op_type);
      entry.set_opsets(Opsets(op));
      entry.set_input(InputText(input));
      entry.set_role(RoleText(input));
      entry.set_fans(DescribeFanRule(input.fans));
      entry.set_parts(PartsText(input.parts));
      entry.set_storage(input.fixed != nullptr ? "-" : std::string(StorageName(input.storage)));
      entry.set_note(NoteText(input));
    }
  }
  return listing;
}

std::string OpTableMarkdown() {
  std::string text;
  for (const OpSpec& op : OpTable()) {
    std::vector<std::string> inputs;
    for (const InputSpec& input : op.inputs) inputs.push_back(absl::StrCat(InputText(input), ": ", RoleText(input)));
    absl::StrAppend(&text, "- `", DomainText(op), "::", op.op_type, "` (opset ", Opsets(op),
                    "): ", absl::StrJoin(inputs, "; "), "\n");
  }
  return text;
}

}  // namespace onnx_reinit
