#include "onnx_reinit/tensor_data.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

TEST(Float16, RoundsToNearestEven) {
  EXPECT_EQ(FloatToHalfBits(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalfBits(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalfBits(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalfBits(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalfBits(65520.0f), 0x7c00);    // rounds up to infinity
  EXPECT_EQ(FloatToHalfBits(0x1p-24f), 0x0001);    // smallest subnormal
  EXPECT_EQ(FloatToHalfBits(0x1p-25f), 0x0000);    // tie: to even (zero)
  EXPECT_EQ(FloatToHalfBits(0x1.8p-24f), 0x0002);  // tie: to even (2)
  EXPECT_EQ(FloatToHalfBits(0x1p-14f), 0x0400);    // smallest normal
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to the even mantissa (1).
  EXPECT_EQ(FloatToHalfBits(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(FloatToHalfBits(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  EXPECT_EQ(FloatToHalfBits(1.0f + 3 * 0x1p-11f), 0x3c02);  // tie from odd 0x3c01: up
  EXPECT_EQ(FloatToHalfBits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(FloatToHalfBits(std::nanf("")))));
}

TEST(Float16, DecodesEveryFiniteValueExactly) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    if ((bits & 0x7c00) == 0x7c00) continue;  // Inf and NaN
    const float value = HalfBitsToFloat(static_cast<uint16_t>(bits));
    const uint16_t back = FloatToHalfBits(value);
    if (value == 0.0f) {
      EXPECT_EQ(back & 0x7fff, 0);
    } else {
      EXPECT_EQ(back, bits) << "bits " << bits;
    }
  }
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(FloatToBFloat16Bits(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBFloat16Bits(1.0f + 0x1p-8f), 0x3f80);      // tie to even
  EXPECT_EQ(FloatToBFloat16Bits(1.0f + 3 * 0x1p-8f), 0x3f82);  // tie from odd: up
  EXPECT_EQ(FloatToBFloat16Bits(1.0f + 0x1p-8f + 0x1p-16f), 0x3f81);
  EXPECT_EQ(BFloat16BitsToFloat(0xc040), -3.0f);
  EXPECT_TRUE(std::isnan(BFloat16BitsToFloat(FloatToBFloat16Bits(std::nanf("")))));
}

TEST(NextToward, StepsOneUlpOfTheTensorType) {
  EXPECT_EQ(NextToward(FloatType::kFloat16, 1.0, 0.0), 1.0 - 0x1p-11);
  EXPECT_EQ(NextToward(FloatType::kFloat16, -1.0, 0.0), -1.0 + 0x1p-11);
  EXPECT_EQ(NextToward(FloatType::kBFloat16, 1.0, 2.0), 1.0 + 0x1p-7);
  EXPECT_EQ(NextToward(FloatType::kFloat32, 1.0, 2.0), 1.0 + 0x1p-23);
  EXPECT_EQ(NextToward(FloatType::kFloat16, 0.0, -1.0), -0x1p-24);
}

struct StorageCase {
  int32_t data_type;
  Storage storage;
};

class TensorValuesStorage : public ::testing::TestWithParam<StorageCase> {};

TEST_P(TensorValuesStorage, WritesIntoTheFieldThatHeldTheValues) {
  onnx::TensorProto tensor;
  tensor.set_name("w");
  testing::SetTensor(tensor, {2, 3}, GetParam().data_type, GetParam().storage);
  const std::string before = tensor.SerializeAsString();
  auto values = TensorValues::Bind(tensor, "w");
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(values->storage(), GetParam().storage);
  EXPECT_EQ(values->size(), 6);
  const double fresh[6] = {0.5, -0.25, 2.0, -3.0, 0.125, 1.0};  // exact in every type
  values->Write(0, fresh, 6);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(values->Read(k), fresh[k]);
  if (GetParam().storage != Storage::kInt32Data) {  // int32_data is varint: its length may change
    EXPECT_EQ(tensor.SerializeAsString().size(), before.size());
  }
}

INSTANTIATE_TEST_SUITE_P(AllStorages, TensorValuesStorage,
                         ::testing::Values(StorageCase{onnx::TensorProto::FLOAT, Storage::kRawData},
                                           StorageCase{onnx::TensorProto::FLOAT, Storage::kFloatData},
                                           StorageCase{onnx::TensorProto::DOUBLE, Storage::kRawData},
                                           StorageCase{onnx::TensorProto::DOUBLE, Storage::kDoubleData},
                                           StorageCase{onnx::TensorProto::FLOAT16, Storage::kRawData},
                                           StorageCase{onnx::TensorProto::FLOAT16, Storage::kInt32Data},
                                           StorageCase{onnx::TensorProto::BFLOAT16, Storage::kRawData},
                                           StorageCase{onnx::TensorProto::BFLOAT16, Storage::kInt32Data}));

TEST(TensorValues, RejectsAPayloadThatDoesNotMatchTheShape) {
  onnx::TensorProto tensor;
  testing::SetTensor(tensor, {2, 3});
  tensor.mutable_raw_data()->resize(20);
  auto values = TensorValues::Bind(tensor, "conv.weight");
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(values.status().message(), "tensor 'conv.weight': raw_data holds 20 bytes but its shape needs 24");
}

TEST(TensorValues, RejectsIntegerTensorsAndExternalData) {
  onnx::TensorProto ints;
  testing::SetTensor(ints, {3}, onnx::TensorProto::INT64);
  EXPECT_EQ(TensorValues::Bind(ints, "shape").status().code(), absl::StatusCode::kFailedPrecondition);

  onnx::TensorProto external;
  external.set_data_type(onnx::TensorProto::FLOAT);
  external.add_dims(4);
  external.set_data_location(onnx::TensorProto::EXTERNAL);
  EXPECT_EQ(TensorValues::Bind(external, "w").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ElementCount, RejectsNegativeAndOverflowingShapes) {
  onnx::TensorProto tensor;
  tensor.add_dims(3);
  tensor.add_dims(-1);
  EXPECT_FALSE(ElementCount(tensor, "t").ok());
  tensor.clear_dims();
  for (int i = 0; i < 4; ++i) tensor.add_dims(int64_t{1} << 20);
  EXPECT_FALSE(ElementCount(tensor, "t").ok());
  tensor.clear_dims();
  tensor.add_dims(0);
  tensor.add_dims(int64_t{1} << 62);
  EXPECT_EQ(*ElementCount(tensor, "t"), 0);
}

}  // namespace
}  // namespace onnx_reinit
