#include "onnx_reinit/blockwise_tensor.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/graph_index.h"
#include "onnx_reinit/op_table.h"
#include "onnx_reinit/base/parallel.h"
#include "onnx_reinit/numerics/moments.h"
#include "onnx_reinit/status_macros.h"

namespace onnx_reinit {
namespace {

// Rows are drawn, quantized and dequantized in chunks of about this many values.
constexpr int64_t kChunkValues = int64_t{1} << 18;

absl::Status Unsupported(std::string why) {
  return WithErrorKind(absl::FailedPreconditionError(std::move(why)), ErrorKind::kUnsupported);
}

const std::string* Input(const onnx::NodeProto& node, int i) {
  return i < node.input_size() && !node.input(i).empty() ? &node.input(i) : nullptr;
}

// The bytes of a uint8 tensor of `size` bytes: its detached payload, or its raw_data.
absl::StatusOr<char*> RawBytes(onnx::TensorProto& tensor, const std::string& name, int64_t size,
                               const DetachedPayloads& payloads) {
  if (tensor.data_type() != onnx::TensorProto::UINT8) {
    return Unsupported(absl::StrFormat("'%s' is not uint8", name));
  }
  int64_t have = 0;
  char* bytes = nullptr;
  if (auto payload = payloads.by_tensor.find(&tensor); payload != payloads.by_tensor.end()) {
    have = payload->second.size;
    bytes = payload->second.data;
    if (payload->second.storage != Storage::kRawData)
      return Unsupported(absl::StrFormat("'%s' is not in raw_data", name));
  } else if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    return Unsupported(absl::StrFormat("'%s' is in external data that is not mapped", name));
  } else if (tensor.has_raw_data()) {
    have = static_cast<int64_t>(tensor.raw_data().size());
    bytes = tensor.mutable_raw_data()->data();
  } else {
    return Unsupported(absl::StrFormat("'%s' is not in raw_data", name));
  }
  if (have != size) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tensor '%s': holds %d bytes but its layout needs %d", name, have, size));
  }
  return bytes;
}

// The layout of a MatMulNBits B or a GatherBlockQuantized table, from the op's attributes.
absl::Status LayoutOf(const TensorUse& use, BlockwiseTensor& t) {
  const onnx::NodeProto& node = *use.reader;
  const std::vector<int64_t> dims(use.tensor->dims().begin(), use.tensor->dims().end());
  BlockLayout& layout = t.layout;
  layout.bits = static_cast<int>(IntAttribute(node, "bits", 4));
  if (layout.bits != 2 && layout.bits != 4 && layout.bits != 8) {
    return Unsupported(absl::StrFormat("bits %d (2, 4 and 8 are read)", layout.bits));
  }
  if (node.op_type() == "MatMulNBits") {
    if (Input(node, 4) != nullptr) return Unsupported("a g_idx (act-order groups) orders its blocks");
    layout.rows = IntAttribute(node, "N", 0);
    layout.cols = IntAttribute(node, "K", 0);
    layout.block_size = IntAttribute(node, "block_size", 0);
    if (layout.block_size < 16 || layout.rows <= 0 || layout.cols <= 0) {
      return Unsupported("attributes K, N and block_size (>= 16) are needed");
    }
    layout.row_stride = layout.blocks() * layout.block_size;
    const std::vector<int64_t> expected = {layout.rows, layout.blocks(), layout.block_size * layout.bits / 8};
    if (dims != expected) {
      return Unsupported(absl::StrFormat("shape [%s] is not [N, ceil(K / block_size), block_size * bits / 8] = [%s]",
                                         absl::StrJoin(dims, ", "), absl::StrJoin(expected, ", ")));
    }
    t.float_role = Role::kWeight;
    return absl::OkStatus();
  }
  if (use.tensor->data_type() != onnx::TensorProto::UINT8) {
    return Unsupported("int4/uint4 tables are not read (uint8 data with `bits` is)");
  }
  const int64_t quantize_axis = IntAttribute(node, "quantize_axis", 1);
  if (dims.size() != 2 || IntAttribute(node, "gather_axis", 0) != 0 || (quantize_axis != 1 && quantize_axis != -1)) {
    return Unsupported("only a rank-2 table gathered along axis 0 and quantized along axis 1 is read");
  }
  layout.rows = dims[0];
  layout.cols = dims[1] * 8 / layout.bits;
  layout.row_stride = layout.cols;
  layout.block_size = IntAttribute(node, "block_size", 128);
  if (layout.block_size < 16) return Unsupported("block_size below 16");
  t.float_role = Role::kEmbedding;
  return absl::OkStatus();
}

// Merges per-chunk moments in chunk order.
proto::Moments MergeInOrder(const std::vector<MomentAccumulator>& chunks) {
  MomentAccumulator total;
  for (const MomentAccumulator& chunk : chunks) total.Merge(chunk);
  return total.ToProto();
}

int64_t RowsPerChunk(const BlockLayout& layout) { return std::max<int64_t>(1, kChunkValues / layout.cols); }

}  // namespace

bool IsBlockwise(const TensorUse& use) {
  if (use.reader == nullptr || use.role != Role::kQuantized) return false;
  const OpSpec* op = FindOp(use.reader->domain(), use.reader->op_type());
  const InputSpec* input = op == nullptr ? nullptr : op->Input(use.input_index);
  return input != nullptr && input->storage == ValueStorage::kBlockQuantized;
}

absl::StatusOr<BlockwiseTensor> BindBlockwise(const TensorUse& use, const GraphIndex& index,
                                              const DetachedPayloads& payloads) {
  auto find = [&index](const std::string& name) -> onnx::TensorProto* {
    const Constant* constant = index.FindConstant(name);
    return constant == nullptr ? nullptr : constant->tensor;
  };
  return BindBlockwise(use, find, payloads);
}

absl::StatusOr<BlockwiseTensor> BindBlockwise(const TensorUse& use,
                                              const std::function<onnx::TensorProto*(const std::string&)>& constant,
                                              const DetachedPayloads& payloads) {
  BlockwiseTensor t;
  ONNX_REINIT_RETURN_IF_ERROR(LayoutOf(use, t));
  const QuantSlots slots = FindOp(use.reader->domain(), use.reader->op_type())->Input(use.input_index)->quant;
  const BlockLayout& layout = t.layout;
  ONNX_REINIT_ASSIGN_OR_RETURN(t.packed, RawBytes(*use.tensor, use.name, layout.rows * layout.row_bytes(), payloads));

  const std::string* scales_name = Input(*use.reader, slots.scale);
  onnx::TensorProto* scales = scales_name != nullptr ? constant(*scales_name) : nullptr;
  if (scales == nullptr || !FloatTypeOf(scales->data_type())) return Unsupported("its scales are not a float constant");
  t.scales_name = *scales_name;
  if (scales->data_location() == onnx::TensorProto::EXTERNAL && payloads.by_tensor.count(scales) == 0) {
    return Unsupported(absl::StrFormat("scales '%s' are in external data that is not mapped", *scales_name));
  }
  ONNX_REINIT_ASSIGN_OR_RETURN(t.scales, BindValues(*scales, *scales_name, payloads));
  if (t.scales->size() != layout.rows * layout.blocks()) {
    return Unsupported(absl::StrFormat("scales '%s' hold %d values, not rows * blocks = %d", *scales_name,
                                       t.scales->size(), layout.rows * layout.blocks()));
  }
  if (const std::string* zp_name = Input(*use.reader, slots.zero_point)) {
    onnx::TensorProto* zp = constant(*zp_name);
    if (zp == nullptr) return Unsupported(absl::StrFormat("zero points '%s' are not a constant", *zp_name));
    if (zp->data_type() != onnx::TensorProto::UINT8) {
      return Unsupported(
          absl::StrFormat("zero points '%s' are not packed uint8 (float zero points are not read)", *zp_name));
    }
    t.zero_points_name = *zp_name;
    ONNX_REINIT_ASSIGN_OR_RETURN(t.zero_points,
                                 RawBytes(*zp, *zp_name, layout.rows * layout.zero_point_row_bytes(), payloads));
  }
  t.detached = payloads.by_tensor.count(use.tensor) > 0 && payloads.by_tensor.count(scales) > 0 &&
               (t.zero_points == nullptr || payloads.by_tensor.count(constant(t.zero_points_name)) > 0);
  // The scales' signs tell ORT's signed-scale convention from the symmetric one.
  bool negative = false;
  for (int64_t k = 0; k < t.scales->size() && !negative; ++k) negative = t.scales->Read(k) < 0;
  t.convention = t.zero_points != nullptr ? BlockConvention::kMinMax
                 : negative               ? BlockConvention::kSignedScale
                                          : BlockConvention::kSymmetric;
  return t;
}

proto::Moments DequantizedMoments(const BlockwiseTensor& t, int threads) {
  const BlockLayout& layout = t.layout;
  const int64_t rows_per_chunk = RowsPerChunk(layout);
  const int64_t chunks = (layout.rows + rows_per_chunk - 1) / rows_per_chunk;
  std::vector<MomentAccumulator> moments(chunks);
  ParallelFor(chunks, threads, [&](int64_t c) {
    const int64_t first = c * rows_per_chunk, rows = std::min(rows_per_chunk, layout.rows - first);
    std::vector<double> scales(rows * layout.blocks()), values(rows * layout.cols);
    t.scales->Read(first * layout.blocks(), rows * layout.blocks(), scales.data());
    const uint8_t* zero_points = t.zero_points == nullptr ? nullptr
                                                          : reinterpret_cast<const uint8_t*>(t.zero_points) +
                                                                first * layout.zero_point_row_bytes();
    DequantizeRows(layout, reinterpret_cast<const uint8_t*>(t.packed) + first * layout.row_bytes(), scales.data(),
                   zero_points, rows, values.data());
    moments[c].AddBatch(values.data(), static_cast<int64_t>(values.size()));
  });
  return MergeInOrder(moments);
}

onnx::TensorProto FloatStandIn(const BlockwiseTensor& t, int32_t scale_data_type) {
  onnx::TensorProto stand_in;
  stand_in.set_data_type(scale_data_type);
  stand_in.add_dims(t.layout.rows);
  stand_in.add_dims(t.layout.cols);
  return stand_in;
}

absl::StatusOr<TensorValues> UnstoredValues(const onnx::TensorProto& stand_in, const std::string& name) {
  DetachedPayload none;
  none.size = stand_in.dims(0) * stand_in.dims(1) * ByteWidth(*FloatTypeOf(stand_in.data_type()));
  return TensorValues::BindDetached(stand_in, name, none);
}

absl::StatusOr<std::vector<proto::Moments>> WriteBlockwise(const std::vector<BlockwiseJob>& jobs, uint64_t seed,
                                                           int threads, const ByteSink& sink) {
  std::vector<proto::Moments> after;
  for (const BlockwiseJob& job : jobs) {
    const BlockwiseTensor& t = job.tensor;
    const BlockLayout& layout = t.layout;
    // An orthogonal matrix is computed whole (fill.h): one chunk.
    const int64_t rows_per_chunk =
        job.draw.distribution.kind() == proto::Distribution::ORTHOGONAL ? layout.rows : RowsPerChunk(layout);
    const int64_t chunks = (layout.rows + rows_per_chunk - 1) / rows_per_chunk;
    const int64_t blocks = layout.blocks(), scale_width = t.scales->StoredWidth();
    std::vector<MomentAccumulator> moments(chunks);
    struct Chunk {
      std::vector<uint8_t> packed, zero_points;
      std::vector<char> scales;
    };
    const int64_t wave = std::max(1, threads);
    for (int64_t first_chunk = 0; first_chunk < chunks; first_chunk += wave) {
      const int64_t count = std::min(wave, chunks - first_chunk);
      std::vector<Chunk> out(count);
      ParallelFor(count, threads, [&](int64_t w) {
        const int64_t c = first_chunk + w;
        const int64_t first = c * rows_per_chunk, rows = std::min(rows_per_chunk, layout.rows - first);
        std::vector<double> values(rows * layout.cols), scales(rows * blocks);
        SampleRange(job.draw, seed, first * layout.cols, (first + rows) * layout.cols, values.data());
        Chunk& chunk = out[w];
        chunk.packed.resize(rows * layout.row_bytes());
        if (t.zero_points != nullptr) chunk.zero_points.resize(rows * layout.zero_point_row_bytes());
        QuantizeRows(layout, t.convention, t.scales->type(), values.data(), rows, chunk.packed.data(), scales.data(),
                     t.zero_points != nullptr ? chunk.zero_points.data() : nullptr);
        chunk.scales.resize(rows * blocks * scale_width);
        t.scales->Encode(scales.data(), rows * blocks, chunk.scales.data());
        DequantizeRows(layout, chunk.packed.data(), scales.data(),
                       t.zero_points != nullptr ? chunk.zero_points.data() : nullptr, rows, values.data());
        moments[c].AddBatch(values.data(), static_cast<int64_t>(values.size()));
      });
      for (int64_t w = 0; w < count; ++w) {
        const int64_t first = (first_chunk + w) * rows_per_chunk;
        const Chunk& chunk = out[w];
        ONNX_REINIT_RETURN_IF_ERROR(sink(t.packed + first * layout.row_bytes(), chunk.packed.data(),
                                         static_cast<int64_t>(chunk.packed.size())));
        ONNX_REINIT_RETURN_IF_ERROR(sink(t.scales->ElementAddress(first * blocks), chunk.scales.data(),
                                         static_cast<int64_t>(chunk.scales.size())));
        if (t.zero_points != nullptr) {
          ONNX_REINIT_RETURN_IF_ERROR(sink(t.zero_points + first * layout.zero_point_row_bytes(),
                                           chunk.zero_points.data(), static_cast<int64_t>(chunk.zero_points.size())));
        }
      }
    }
    after.push_back(MergeInOrder(moments));
  }
  return after;
}

}  // namespace onnx_reinit
