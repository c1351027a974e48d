#include "onnx_reinit/blockwise.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

BlockLayout Layout(int bits, int64_t rows, int64_t cols, int64_t block_size) {
  BlockLayout layout;
  layout.bits = bits;
  layout.rows = rows;
  layout.cols = cols;
  layout.block_size = block_size;
  layout.row_stride = layout.blocks() * block_size;  // MatMulNBits: whole blocks
  return layout;
}

std::vector<double> Normal(int64_t n, unsigned seed) {
  std::mt19937 engine(seed);
  std::normal_distribution<double> normal(0.0, 0.05);
  std::vector<double> w(n);
  for (double& x : w) x = normal(engine);
  return w;
}

TEST(Blockwise, PackedValuesRoundTripLowestBitsFirst) {
  for (int bits : {2, 4, 8}) {
    std::vector<int> values(37);
    for (size_t k = 0; k < values.size(); ++k) values[k] = static_cast<int>((k * 7 + 3) % (1 << bits));
    std::vector<uint8_t> packed((values.size() * bits + 7) / 8, 0xff);
    for (size_t k = 0; k < values.size(); ++k) PackValue(packed.data(), static_cast<int64_t>(k), bits, values[k]);
    for (size_t k = 0; k < values.size(); ++k) {
      EXPECT_EQ(UnpackValue(packed.data(), static_cast<int64_t>(k), bits), values[k]) << bits << " bits, " << k;
    }
  }
  uint8_t byte = 0;
  PackValue(&byte, 0, 4, 0x3);
  PackValue(&byte, 1, 4, 0xA);
  EXPECT_EQ(byte, 0xA3);  // value 0 in the low nibble, as MatMulNBits reads it
}

TEST(Blockwise, ConventionFollowsTheStoredZeroPointsAndScaleSigns) {
  const double positive[] = {0.1, 0.2}, mixed[] = {0.1, -0.2};
  EXPECT_EQ(ConventionOf(true, mixed, 2), BlockConvention::kMinMax);
  EXPECT_EQ(ConventionOf(false, mixed, 2), BlockConvention::kSignedScale);
  EXPECT_EQ(ConventionOf(false, positive, 2), BlockConvention::kSymmetric);
}

// Every block's largest |q - zp| is the convention's level count (kMinMax: q reaches an end of
// [0, qmax] and is within a level of the other), the dequantized values are within half a step of
// w (a step where the convention clips: the short side of a signed scale, the rounded zero point of
// kMinMax), and padding stores the zero point.
TEST(Blockwise, QuantizedBlocksReachTheirLevelsAndDequantizeWithinAStep) {
  for (int bits : {2, 4, 8}) {
    for (BlockConvention convention :
         {BlockConvention::kSignedScale, BlockConvention::kSymmetric, BlockConvention::kMinMax}) {
      for (int64_t block_size : {16, 32}) {
        const BlockLayout layout = Layout(bits, 5, 72, block_size);  // 72: a partial last block
        const std::vector<double> w = Normal(layout.rows * layout.cols, bits * 100 + block_size);
        std::vector<uint8_t> packed(layout.rows * layout.row_bytes());
        std::vector<double> scales(layout.rows * layout.blocks());
        const bool zp = convention == BlockConvention::kMinMax;
        const double error_steps = convention == BlockConvention::kSymmetric ? 0.5 : 1.0;
        std::vector<uint8_t> zero_points(zp ? layout.rows * layout.zero_point_row_bytes() : 0);
        QuantizeRows(layout, convention, FloatType::kFloat16, w.data(), layout.rows, packed.data(), scales.data(),
                     zp ? zero_points.data() : nullptr);
        std::vector<double> back(w.size());
        DequantizeRows(layout, packed.data(), scales.data(), zp ? zero_points.data() : nullptr, layout.rows,
                       back.data());
        for (int64_t r = 0; r < layout.rows; ++r) {
          for (int64_t b = 0; b < layout.blocks(); ++b) {
            const double scale = scales[r * layout.blocks() + b];
            EXPECT_EQ(scale, RoundTo(FloatType::kFloat16, scale));
            EXPECT_EQ(scale < 0, convention == BlockConvention::kSignedScale && scale != 0 && std::signbit(scale));
            const int z = zp ? UnpackValue(&zero_points[r * layout.zero_point_row_bytes()], b, bits)
                             : static_cast<int>(layout.default_zero_point());
            int largest = 0, low = 1 << bits, high = -1;
            const int64_t begin = b * block_size, end = std::min(layout.cols, begin + block_size);
            for (int64_t k = begin; k < end; ++k) {
              const int q = UnpackValue(&packed[r * layout.row_bytes()], k, bits);
              largest = std::max(largest, std::abs(q - z));
              low = std::min(low, q);
              high = std::max(high, q);
              EXPECT_LE(std::abs(back[r * layout.cols + k] - w[r * layout.cols + k]),
                        std::abs(scale) * error_steps * 1.001)
                  << bits << " bits, row " << r << ", column " << k;
            }
            if (zp) {
              EXPECT_TRUE(low == 0 || high == layout.max_q()) << low << ".." << high;
              EXPECT_LE(low, 1);
              EXPECT_GE(high, layout.max_q() - 1);
            } else {
              EXPECT_EQ(largest, LevelsOf(convention, bits)) << bits << " bits, block " << b;
            }
            for (int64_t k = end; k < begin + block_size; ++k) {
              EXPECT_EQ(UnpackValue(&packed[r * layout.row_bytes()], k, bits), z);
            }
          }
        }
      }
    }
  }
}

TEST(Blockwise, ABlockOfZerosHasScaleZeroAndStoresItsZeroPoint) {
  const BlockLayout layout = Layout(4, 1, 16, 16);
  const std::vector<double> w(16, 0.0);
  std::vector<uint8_t> packed(layout.row_bytes());
  std::vector<double> scales(1);
  QuantizeRows(layout, BlockConvention::kSignedScale, FloatType::kFloat32, w.data(), 1, packed.data(), scales.data(),
               nullptr);
  EXPECT_EQ(scales[0], 0.0);
  for (uint8_t byte : packed) EXPECT_EQ(byte, 0x88);
}

}  // namespace
}  // namespace onnx_reinit
