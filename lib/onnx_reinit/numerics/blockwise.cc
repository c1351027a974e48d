#include "onnx_reinit/blockwise.h"

#include <algorithm>
#include <cmath>

namespace onnx_reinit {
namespace {

struct BlockParams {
  double scale = 0;
  int64_t zero_point = 0;
};

BlockParams ParamsOf(const double* w, int64_t n, const BlockLayout& layout, BlockConvention convention,
                     FloatType scale_type) {
  const int64_t half = layout.default_zero_point();
  BlockParams params{0, half};
  double lo = 0, hi = 0, extreme = 0;  // extreme: the value of largest magnitude
  for (int64_t k = 0; k < n; ++k) {
    lo = std::min(lo, w[k]);
    hi = std::max(hi, w[k]);
    if (std::abs(w[k]) > std::abs(extreme)) extreme = w[k];
  }
  switch (convention) {
    case BlockConvention::kSignedScale: params.scale = RoundTo(scale_type, -extreme / static_cast<double>(half)); break;
    case BlockConvention::kSymmetric:
      params.scale = RoundTo(scale_type, std::abs(extreme) / static_cast<double>(LevelsOf(convention, layout.bits)));
      break;
    case BlockConvention::kMinMax:
      params.scale = RoundTo(scale_type, (hi - lo) / static_cast<double>(layout.max_q()));
      if (params.scale != 0) {
        params.zero_point =
            std::clamp<int64_t>(static_cast<int64_t>(std::round(-lo / params.scale)), 0, layout.max_q());
      }
      break;
  }
  return params;
}

}  // namespace

int64_t LevelsOf(BlockConvention convention, int bits) {
  const int64_t half = int64_t{1} << (bits - 1);
  switch (convention) {
    case BlockConvention::kSignedScale: return half;
    case BlockConvention::kSymmetric: return half - 1;
    case BlockConvention::kMinMax: return 2 * half - 1;
  }
  return half;
}

BlockConvention ConventionOf(bool has_zero_points, const double* scales, int64_t count) {
  if (has_zero_points) return BlockConvention::kMinMax;
  return std::any_of(scales, scales + count, [](double s) { return s < 0; }) ? BlockConvention::kSignedScale
                                                                             : BlockConvention::kSymmetric;
}

void QuantizeRows(const BlockLayout& layout, BlockConvention convention, FloatType scale_type, const double* w,
                  int64_t row_count, uint8_t* packed, double* scales, uint8_t* zero_points) {
  const int64_t blocks = layout.blocks();
  std::fill(packed, packed + row_count * layout.row_bytes(), 0);
  if (zero_points != nullptr) std::fill(zero_points, zero_points + row_count * layout.zero_point_row_bytes(), 0);
  for (int64_t r = 0; r < row_count; ++r) {
    const double* row = w + r * layout.cols;
    uint8_t* row_packed = packed + r * layout.row_bytes();
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t begin = b * layout.block_size, end = std::min(layout.cols, begin + layout.block_size);
      const BlockParams params = ParamsOf(row + begin, end - begin, layout, convention, scale_type);
      scales[r * blocks + b] = params.scale;
      if (zero_points != nullptr) {
        PackValue(zero_points + r * layout.zero_point_row_bytes(), b, layout.bits, static_cast<int>(params.zero_point));
      }
      for (int64_t k = begin; k < end; ++k) {
        const double centred = params.scale == 0 ? 0 : std::nearbyint(row[k] / params.scale);
        const double q =
            std::clamp(centred + static_cast<double>(params.zero_point), 0.0, static_cast<double>(layout.max_q()));
        PackValue(row_packed, k, layout.bits, static_cast<int>(q));
      }
      // Padding past the last column stands for zeros: the block's zero point.
      for (int64_t k = end; k < std::min(begin + layout.block_size, layout.row_stride); ++k) {
        PackValue(row_packed, k, layout.bits, static_cast<int>(params.zero_point));
      }
    }
  }
}

void DequantizeRows(const BlockLayout& layout, const uint8_t* packed, const double* scales, const uint8_t* zero_points,
                    int64_t row_count, double* out) {
  const int64_t blocks = layout.blocks();
  for (int64_t r = 0; r < row_count; ++r) {
    const uint8_t* row_packed = packed + r * layout.row_bytes();
    for (int64_t b = 0; b < blocks; ++b) {
      const double scale = scales[r * blocks + b];
      const int zp = zero_points != nullptr
                         ? UnpackValue(zero_points + r * layout.zero_point_row_bytes(), b, layout.bits)
                         : static_cast<int>(layout.default_zero_point());
      const int64_t begin = b * layout.block_size, end = std::min(layout.cols, begin + layout.block_size);
      for (int64_t k = begin; k < end; ++k) {
        out[r * layout.cols + k] = (UnpackValue(row_packed, k, layout.bits) - zp) * scale;
      }
    }
  }
}

}  // namespace onnx_reinit
