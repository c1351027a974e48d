#include "onnx_reinit/rng.h"

#include <cmath>
#include <set>

#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

// Known-answer vectors from Random123's kat_vectors file: counter, key -> output.
TEST(Philox, MatchesRandom123KnownAnswers) {
  EXPECT_EQ(Philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (PhiloxBlock{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(Philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                          {0xffffffff, 0xffffffff}),
            (PhiloxBlock{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(Philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                          {0xa4093822, 0x299f31d0}),
            (PhiloxBlock{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(RandomBlock, SeedStreamAndBlockAllChangeTheOutput) {
  const PhiloxBlock base = RandomBlock(1, 2, 3);
  EXPECT_EQ(RandomBlock(1, 2, 3), base);
  EXPECT_NE(RandomBlock(2, 2, 3), base);
  EXPECT_NE(RandomBlock(1, 3, 3), base);
  EXPECT_NE(RandomBlock(1, 2, 4), base);
  EXPECT_NE(RandomBlock(1ull << 32 | 1, 2, 3), base);  // the seed's high word counts
  EXPECT_NE(RandomBlock(1, 2, 3ull | 1ull << 40), base);
}

TEST(StreamIdForName, IsStableAndDistinguishesNames) {
  // Pinned: changing the hash would change every user's output for a given seed.
  EXPECT_EQ(StreamIdForName(""), StreamIdForName(""));
  const uint64_t conv = StreamIdForName("conv1.weight");
  EXPECT_EQ(conv, StreamIdForName("conv1.weight"));
  std::set<uint64_t> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(StreamIdForName("layer." + std::to_string(i)));
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(UnitOpen, StaysStrictlyInsideTheUnitInterval) {
  for (uint32_t x : {0u, 1u, 255u, 256u, 0xffffff00u, 0xffffffffu}) {
    EXPECT_GT(UnitOpen23(x), 0.0);
    EXPECT_LT(UnitOpen23(x), 1.0);
  }
  for (uint64_t x : {uint64_t{0}, ~uint64_t{0}}) {
    EXPECT_GT(UnitOpen52(x), 0.0);
    EXPECT_LT(UnitOpen52(x), 1.0);
  }
}

TEST(BoxMuller, GivesTheClosedFormValues) {
  const auto z = BoxMuller(std::exp(-0.5), 0.25);  // radius 1, angle pi/2
  EXPECT_NEAR(z[0], 0.0, 1e-15);
  EXPECT_NEAR(z[1], 1.0, 1e-15);
}

}  // namespace
}  // namespace onnx_reinit
