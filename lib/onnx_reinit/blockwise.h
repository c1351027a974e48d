// Blockwise n-bit quantization, as ONNX Runtime's MatMulNBits and GatherBlockQuantized store
// their weights (com.microsoft, docs/ContribOperators.md), without protos.
//
// A quantized matrix has `rows` rows of `cols` values. Each row is cut into blocks of `block_size`
// values along the columns; every block has its own scale s and zero point zp, and its values are
// stored as unsigned `bits`-bit integers q, packed along the row, lowest bits first (4 bits: value
// 2j in the low nibble of byte j). The dequantized value is (q - zp) * s.
//   MatMulNBits B          [N, ceil(K / block_size), block_size * bits / 8]: rows = N, cols = K; each
//                          row is padded to whole blocks (padding stores zp, i.e. 0).
//   GatherBlockQuantized   uint8 data [rows, cols * bits / 8] quantized along its last axis: rows
//                          padded to whole bytes only.
//   scales                 [rows, blocks] (MatMulNBits also accepts them flat), the model's float type.
//   zero points            uint8, packed like the values, each row padded to whole bytes:
//                          [rows, ceil(blocks * bits / 8)]. Absent: 2^(bits - 1) for every block.
//
// New values follow the model's convention for its blocks (the one ONNX Runtime's quantizer,
// MLAS's blockwise quantizer, applies), with L = 2^(bits - 1) and qmax = 2^bits - 1:
//   kSignedScale   no zero points (zp = L); scale = -v / L, v the block's value of largest
//                  magnitude, so v lands on q = 0, exactly L levels from zp. A model whose stored
//                  scales include negative ones was quantized this way.
//   kSymmetric     no zero points (zp = L), positive scales: scale = max|w| / (L - 1), so that both
//                  signs fit: the largest |w| lands L - 1 levels from zp.
//   kMinMax        stored zero points: with lo = min(min w, 0) and hi = max(max w, 0),
//                  scale = (hi - lo) / qmax and zp = round(-lo / scale) clamped to [0, qmax]: the
//                  block's range spans the whole [0, qmax].
// q = round_half_even(w / scale) + zp clamped to [0, qmax], with the scale rounded to its tensor's
// type first (what the runtime multiplies by). A block of zeros gets scale 0 and q = zp.
#ifndef ONNX_REINIT_BLOCKWISE_H_
#define ONNX_REINIT_BLOCKWISE_H_

#include <cstdint>

#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

enum class BlockConvention { kSignedScale, kSymmetric, kMinMax };

struct BlockLayout {
  int bits = 4;  // 2, 4 or 8
  int64_t rows = 0;
  int64_t cols = 0;  // values per row (K)
  int64_t block_size = 32;
  int64_t row_stride = 0;  // values stored per row, >= cols (padding to blocks or to a byte)

  int64_t blocks() const { return (cols + block_size - 1) / block_size; }
  int64_t row_bytes() const { return (row_stride * bits + 7) / 8; }
  int64_t zero_point_row_bytes() const { return (blocks() * bits + 7) / 8; }
  int64_t max_q() const { return (int64_t{1} << bits) - 1; }
  int64_t default_zero_point() const { return int64_t{1} << (bits - 1); }
};

// Value `index` of packed `bits`-bit values (lowest bits first), and the reverse.
inline int UnpackValue(const uint8_t* packed, int64_t index, int bits) {
  const int per_byte = 8 / bits;
  const int shift = static_cast<int>(index % per_byte) * bits;
  return (packed[index / per_byte] >> shift) & ((1 << bits) - 1);
}
inline void PackValue(uint8_t* packed, int64_t index, int bits, int value) {
  const int per_byte = 8 / bits;
  const int shift = static_cast<int>(index % per_byte) * bits;
  const int mask = ((1 << bits) - 1) << shift;
  uint8_t& byte = packed[index / per_byte];
  byte = static_cast<uint8_t>((byte & ~mask) | ((value << shift) & mask));
}

// How far the largest |w| of a block lands from its zero point under `convention` (kMinMax: the
// full range qmax, which lo..hi spans).
int64_t LevelsOf(BlockConvention convention, int bits);

// The convention of a model's blocks: kMinMax when it stores zero points, else kSignedScale when
// any of its scales is negative, else kSymmetric.
BlockConvention ConventionOf(bool has_zero_points, const double* scales, int64_t count);

// Quantizes rows [row_begin, row_end) of the float matrix `w` (row-major, layout.cols values per
// row; w points at row row_begin) into their stored form: `packed` gets the rows' layout.row_bytes()
// bytes each, `scales` layout.blocks() values each (already rounded to `scale_type`), and
// `zero_points` (when not null: kMinMax) layout.zero_point_row_bytes() bytes each.
void QuantizeRows(const BlockLayout& layout, BlockConvention convention, FloatType scale_type, const double* w,
                  int64_t row_count, uint8_t* packed, double* scales, uint8_t* zero_points);

// The dequantized values (q - zp) * scale of `row_count` rows in their stored form (as
// QuantizeRows writes them; zero_points null: the default zero point), layout.cols per row.
void DequantizeRows(const BlockLayout& layout, const uint8_t* packed, const double* scales, const uint8_t* zero_points,
                    int64_t row_count, double* out);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_BLOCKWISE_H_
