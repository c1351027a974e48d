#include "onnx_reinit/scheme.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

using ::testing::HasSubstr;

SchemeOptions Options(SchemeKind kind) {
  SchemeOptions options;
  options.kind = kind;
  return options;
}

proto::Distribution Resolve(const SchemeOptions& options, Fans fans) {
  EXPECT_TRUE(Validate(options).ok()) << Validate(options);
  auto distribution = ResolveDistribution(options, fans);
  EXPECT_TRUE(distribution.ok()) << distribution.status();
  return distribution.ok() ? *distribution : proto::Distribution();
}

TEST(ParseScheme, AcceptsEveryNameAndTheAliases) {
  for (const std::string& name : SchemeNames()) EXPECT_TRUE(ParseScheme(name).ok()) << name;
  EXPECT_EQ(*ParseScheme("he"), SchemeKind::kHeNormal);
  EXPECT_EQ(*ParseScheme("xavier"), SchemeKind::kXavierNormal);
  EXPECT_EQ(SchemeName(SchemeKind::kHeNormal), "he_normal");
}

TEST(ParseScheme, ErrorListsTheValidSchemes) {
  auto parsed = ParseScheme("kaiming");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr("unknown scheme 'kaiming'; valid schemes: zeros, ones, constant"));
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("lecun_normal"));
}

TEST(CalculateGain, MatchesTorchTable) {
  EXPECT_DOUBLE_EQ(CalculateGain(Nonlinearity::kLinear, 0), 1.0);
  EXPECT_DOUBLE_EQ(CalculateGain(Nonlinearity::kSigmoid, 0), 1.0);
  EXPECT_DOUBLE_EQ(CalculateGain(Nonlinearity::kTanh, 0), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(CalculateGain(Nonlinearity::kRelu, 0), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(CalculateGain(Nonlinearity::kLeakyRelu, 0.01), std::sqrt(2.0 / 1.0001));
  EXPECT_DOUBLE_EQ(CalculateGain(Nonlinearity::kLeakyRelu, 0.2), std::sqrt(2.0 / 1.04));
  EXPECT_DOUBLE_EQ(CalculateGain(Nonlinearity::kSelu, 0), 0.75);
}

TEST(ResolveDistribution, XavierNormalUsesTheFanAverage) {
  const auto d = Resolve(Options(SchemeKind::kXavierNormal), {100, 300});
  EXPECT_EQ(d.kind(), proto::Distribution::NORMAL);
  EXPECT_DOUBLE_EQ(d.std(), std::sqrt(2.0 / 400.0));
}

TEST(ResolveDistribution, XavierUniformBoundIsSqrtSixOverFanSum) {
  const auto d = Resolve(Options(SchemeKind::kXavierUniform), {100, 300});
  EXPECT_EQ(d.kind(), proto::Distribution::UNIFORM);
  EXPECT_DOUBLE_EQ(d.high(), std::sqrt(6.0 / 400.0));
  EXPECT_DOUBLE_EQ(d.low(), -d.high());
}

TEST(ResolveDistribution, HeDefaultsToReluGainAndFanIn) {
  EXPECT_DOUBLE_EQ(Resolve(Options(SchemeKind::kHeNormal), {50, 7}).std(), std::sqrt(2.0 / 50));
  EXPECT_DOUBLE_EQ(Resolve(Options(SchemeKind::kHeUniform), {50, 7}).high(), std::sqrt(6.0 / 50));
}

TEST(ResolveDistribution, HeHonoursModeAndNonlinearity) {
  SchemeOptions options = Options(SchemeKind::kHeNormal);
  options.mode = FanMode::kFanOut;
  options.nonlinearity = Nonlinearity::kLeakyRelu;
  options.negative_slope = 0.2;
  EXPECT_DOUBLE_EQ(Resolve(options, {50, 8}).std(), std::sqrt(2.0 / 1.04) / std::sqrt(8.0));
  options.nonlinearity.reset();
  options.negative_slope.reset();
  options.gain = 3.0;
  EXPECT_DOUBLE_EQ(Resolve(options, {50, 8}).std(), 3.0 / std::sqrt(8.0));
}

TEST(ResolveDistribution, LecunIsUnitGainOverFanIn) {
  EXPECT_DOUBLE_EQ(Resolve(Options(SchemeKind::kLecunNormal), {25, 9}).std(), 0.2);
  EXPECT_DOUBLE_EQ(Resolve(Options(SchemeKind::kLecunUniform), {25, 9}).high(),
                   std::sqrt(3.0 / 25.0));
}

TEST(ResolveDistribution, FixedSchemesIgnoreFansAndUseTorchDefaults) {
  EXPECT_EQ(Resolve(Options(SchemeKind::kZeros), {}).value(), 0.0);
  EXPECT_EQ(Resolve(Options(SchemeKind::kOnes), {}).value(), 1.0);
  SchemeOptions constant = Options(SchemeKind::kConstant);
  constant.value = 0.25;
  EXPECT_EQ(Resolve(constant, {}).value(), 0.25);
  const auto uniform = Resolve(Options(SchemeKind::kUniform), {});
  EXPECT_EQ(uniform.low(), 0.0);
  EXPECT_EQ(uniform.high(), 1.0);
  const auto normal = Resolve(Options(SchemeKind::kNormal), {});
  EXPECT_EQ(normal.mean(), 0.0);
  EXPECT_EQ(normal.std(), 1.0);
}

TEST(ResolveDistribution, ZeroFanIsAnError) {
  EXPECT_FALSE(ResolveDistribution(Options(SchemeKind::kHeNormal), {0, 5}).ok());
}

TEST(Validate, RejectsParametersTheSchemeDoesNotUse) {
  SchemeOptions options = Options(SchemeKind::kHeNormal);
  options.std = 2.0;
  EXPECT_THAT(std::string(Validate(options).message()),
              HasSubstr("--std does not apply to scheme 'he_normal'"));
  options = Options(SchemeKind::kNormal);
  options.gain = 2.0;
  EXPECT_FALSE(Validate(options).ok());
  options = Options(SchemeKind::kUniform);
  options.value = 1.0;
  EXPECT_FALSE(Validate(options).ok());
}

TEST(Validate, RejectsMissingAndOutOfRangeParameters) {
  EXPECT_THAT(std::string(Validate(Options(SchemeKind::kConstant)).message()),
              HasSubstr("needs --value"));
  SchemeOptions uniform = Options(SchemeKind::kUniform);
  uniform.low = 2.0;
  EXPECT_THAT(std::string(Validate(uniform).message()), HasSubstr("must be less than --high"));
  SchemeOptions normal = Options(SchemeKind::kNormal);
  normal.std = -1.0;
  EXPECT_FALSE(Validate(normal).ok());
  SchemeOptions he = Options(SchemeKind::kHeNormal);
  he.gain = 1.0;
  he.nonlinearity = Nonlinearity::kTanh;
  EXPECT_FALSE(Validate(he).ok());
  he = Options(SchemeKind::kHeNormal);
  he.negative_slope = 0.1;  // without leaky_relu
  EXPECT_FALSE(Validate(he).ok());
}

TEST(DescribeDistribution, IsShortAndReadable) {
  proto::Distribution d;
  d.set_kind(proto::Distribution::NORMAL);
  d.set_std(0.04419417);
  EXPECT_EQ(DescribeDistribution(d), "N(0, 0.04419)");
  d.set_kind(proto::Distribution::UNIFORM);
  d.set_low(-0.5);
  d.set_high(0.5);
  EXPECT_EQ(DescribeDistribution(d), "U(-0.5, 0.5)");
}

}  // namespace
}  // namespace onnx_reinit
