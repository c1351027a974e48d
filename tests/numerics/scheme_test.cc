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

TEST(ParseScheme, ErrorSuggestsTheClosestNameAndListsTheValidSchemes) {
  auto parsed = ParseScheme("kaiming");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr("unknown scheme 'kaiming' (did you mean 'kaiming_normal'?); valid schemes: "
                        "zeros, ones, constant"));
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("lecun_normal"));
  EXPECT_THAT(ParseScheme("xavier_unifrom").status().message(), HasSubstr("did you mean 'xavier_uniform'?"));
  EXPECT_THAT(ParseScheme("HE_NORMAL").status().message(), HasSubstr("did you mean 'he_normal'?"));
  EXPECT_THAT(ParseScheme("lecun_normall").status().message(), HasSubstr("did you mean 'lecun_normal'?"));
}

TEST(ParseScheme, TorchAndKerasNamesAreAliasesOfTheSameDistribution) {
  EXPECT_EQ(*ParseScheme("kaiming_normal"), SchemeKind::kHeNormal);
  EXPECT_EQ(*ParseScheme("kaiming_uniform"), SchemeKind::kHeUniform);
  EXPECT_EQ(*ParseScheme("glorot_uniform"), SchemeKind::kXavierUniform);
  EXPECT_EQ(*ParseScheme("glorot_normal"), SchemeKind::kXavierTruncatedNormal);
  EXPECT_EQ(*ParseScheme("variance_scaling"), SchemeKind::kLecunTruncatedNormal);
  EXPECT_EQ(*ParseScheme("eye"), SchemeKind::kIdentity);
  EXPECT_EQ(SchemeName(SchemeKind::kTruncNormal), "trunc_normal");
}

TEST(TruncNormal, CutsAtTorchsAbsoluteBoundsWhateverTheStd) {
  SchemeOptions options;
  options.kind = SchemeKind::kTruncNormal;
  options.std = 0.02;
  ASSERT_TRUE(Validate(options).ok());
  const proto::Distribution d = *ResolveDistribution(options, {});
  EXPECT_EQ(d.kind(), proto::Distribution::TRUNCATED_NORMAL);
  EXPECT_EQ(d.mean(), 0.0);
  EXPECT_EQ(d.std(), 0.02);
  EXPECT_EQ(d.low(), -2.0);
  EXPECT_EQ(d.high(), 2.0);

  options.low = -0.03;
  options.high = 0.01;
  const proto::Distribution cut = *ResolveDistribution(options, {});
  EXPECT_EQ(cut.low(), -0.03);
  EXPECT_EQ(cut.high(), 0.01);

  options.high = -0.03;
  EXPECT_THAT(Validate(options).message(), HasSubstr("--low"));
  options.high.reset();
  options.low.reset();
  options.gain = 1;
  EXPECT_THAT(Validate(options).message(), HasSubstr("--gain does not apply"));
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
  EXPECT_DOUBLE_EQ(Resolve(Options(SchemeKind::kLecunUniform), {25, 9}).high(), std::sqrt(3.0 / 25.0));
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
  EXPECT_THAT(std::string(Validate(options).message()), HasSubstr("--std does not apply to scheme 'he_normal'"));
  options = Options(SchemeKind::kNormal);
  options.gain = 2.0;
  EXPECT_FALSE(Validate(options).ok());
  options = Options(SchemeKind::kUniform);
  options.value = 1.0;
  EXPECT_FALSE(Validate(options).ok());
}

TEST(Validate, RejectsMissingAndOutOfRangeParameters) {
  EXPECT_THAT(std::string(Validate(Options(SchemeKind::kConstant)).message()), HasSubstr("needs --value"));
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

constexpr double kTruncatedStdFactor = 0.87962566103423978;  // std of N(0, 1) cut at +-2

TEST(ParseScheme, AcceptsTheNewSchemes) {
  EXPECT_EQ(*ParseScheme("truncated_normal"), SchemeKind::kTruncatedNormal);
  EXPECT_EQ(*ParseScheme("xavier_truncated_normal"), SchemeKind::kXavierTruncatedNormal);
  EXPECT_EQ(*ParseScheme("he_truncated_normal"), SchemeKind::kHeTruncatedNormal);
  EXPECT_EQ(*ParseScheme("lecun_truncated_normal"), SchemeKind::kLecunTruncatedNormal);
  EXPECT_EQ(*ParseScheme("orthogonal"), SchemeKind::kOrthogonal);
  EXPECT_EQ(*ParseScheme("identity"), SchemeKind::kIdentity);
  EXPECT_EQ(*ParseScheme("dirac"), SchemeKind::kDirac);
  EXPECT_EQ(*ParseScheme("torch"), SchemeKind::kTorch);
  const std::vector<std::string> names = SchemeNames();
  for (const char* name : {"truncated_normal", "xavier_truncated_normal", "he_truncated_normal",
                           "lecun_truncated_normal", "orthogonal", "identity", "dirac", "torch"}) {
    EXPECT_THAT(names, ::testing::Contains(name));
    EXPECT_EQ(SchemeName(*ParseScheme(name)), name);
  }
}

TEST(UsesFans, OnlyTheFanBasedSchemesAndTorch) {
  EXPECT_TRUE(UsesFans(SchemeKind::kTorch));
  EXPECT_TRUE(UsesFans(SchemeKind::kHeTruncatedNormal));
  EXPECT_TRUE(UsesFans(SchemeKind::kXavierTruncatedNormal));
  EXPECT_TRUE(UsesFans(SchemeKind::kLecunTruncatedNormal));
  for (SchemeKind kind :
       {SchemeKind::kTruncatedNormal, SchemeKind::kOrthogonal, SchemeKind::kIdentity, SchemeKind::kDirac}) {
    EXPECT_FALSE(UsesFans(kind)) << SchemeName(kind);
  }
  EXPECT_TRUE(IsStructured(SchemeKind::kOrthogonal));
  EXPECT_TRUE(IsStructured(SchemeKind::kDirac));
  EXPECT_FALSE(IsStructured(SchemeKind::kTorch));
}

TEST(ResolveDistribution, TruncatedNormalCutsAtTwoStdsWithoutCorrection) {
  SchemeOptions options = Options(SchemeKind::kTruncatedNormal);
  options.mean = 0.5;
  options.std = 0.02;
  const auto d = Resolve(options, {});
  EXPECT_EQ(d.kind(), proto::Distribution::TRUNCATED_NORMAL);
  EXPECT_EQ(d.mean(), 0.5);
  EXPECT_EQ(d.std(), 0.02);
  EXPECT_DOUBLE_EQ(d.low(), 0.46);
  EXPECT_DOUBLE_EQ(d.high(), 0.54);
  const auto standard = Resolve(Options(SchemeKind::kTruncatedNormal), {});
  EXPECT_EQ(standard.std(), 1.0);
  EXPECT_EQ(standard.low(), -2.0);
  EXPECT_EQ(standard.high(), 2.0);
}

TEST(ResolveDistribution, TruncatedVarianceScalingKeepsTheTargetStd) {
  // The parent std is the *_normal sibling's std / 0.8796..., cut at +-2 parent stds.
  const struct {
    SchemeKind truncated, sibling;
  } kPairs[] = {{SchemeKind::kXavierTruncatedNormal, SchemeKind::kXavierNormal},
                {SchemeKind::kHeTruncatedNormal, SchemeKind::kHeNormal},
                {SchemeKind::kLecunTruncatedNormal, SchemeKind::kLecunNormal}};
  for (const auto& pair : kPairs) {
    const Fans fans{50, 30};
    const double target = Resolve(Options(pair.sibling), fans).std();
    const auto d = Resolve(Options(pair.truncated), fans);
    EXPECT_EQ(d.kind(), proto::Distribution::TRUNCATED_NORMAL) << SchemeName(pair.truncated);
    EXPECT_EQ(d.mean(), 0.0);
    EXPECT_DOUBLE_EQ(d.std(), target / kTruncatedStdFactor);
    EXPECT_DOUBLE_EQ(d.high(), 2 * target / kTruncatedStdFactor);
    EXPECT_EQ(d.low(), -d.high());
  }
  EXPECT_DOUBLE_EQ(Resolve(Options(SchemeKind::kHeTruncatedNormal), {50, 7}).std(), 0.2 / kTruncatedStdFactor);
  SchemeOptions options = Options(SchemeKind::kXavierTruncatedNormal);
  options.mode = FanMode::kFanIn;
  options.nonlinearity = Nonlinearity::kTanh;
  EXPECT_DOUBLE_EQ(Resolve(options, {25, 100}).std(), (5.0 / 3.0) / 5.0 / kTruncatedStdFactor);
}

TEST(ResolveDistribution, TorchIsUniformOverOneOverSqrtFanIn) {
  const auto d = Resolve(Options(SchemeKind::kTorch), {64, 10});
  EXPECT_EQ(d.kind(), proto::Distribution::UNIFORM);
  EXPECT_EQ(d.high(), 1.0 / 8.0);
  EXPECT_EQ(d.low(), -1.0 / 8.0);
  EXPECT_DOUBLE_EQ(Resolve(Options(SchemeKind::kTorch), {27, 72}).high(), 1 / std::sqrt(27.0));
  EXPECT_FALSE(ResolveDistribution(Options(SchemeKind::kTorch), {0, 5}).ok());
  // kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)), bound sqrt(3) * gain / sqrt(fan_in).
  EXPECT_DOUBLE_EQ(std::sqrt(3.0) * EffectiveGain(Options(SchemeKind::kTorch)), 1.0);
}

TEST(ResolveDistribution, StructuredSchemesCarryTheirGain) {
  const auto orthogonal = Resolve(Options(SchemeKind::kOrthogonal), {});
  EXPECT_EQ(orthogonal.kind(), proto::Distribution::ORTHOGONAL);
  EXPECT_EQ(orthogonal.gain(), 1.0);
  SchemeOptions options = Options(SchemeKind::kOrthogonal);
  options.gain = 2.5;
  EXPECT_EQ(Resolve(options, {}).gain(), 2.5);
  options.kind = SchemeKind::kIdentity;
  const auto identity = Resolve(options, {});
  EXPECT_EQ(identity.kind(), proto::Distribution::IDENTITY);
  EXPECT_EQ(identity.gain(), 2.5);
  const auto dirac = Resolve(Options(SchemeKind::kDirac), {});
  EXPECT_EQ(dirac.kind(), proto::Distribution::DIRAC);
  EXPECT_EQ(dirac.gain(), 1.0);
}

TEST(Validate, NewSchemesRejectParametersTheyDoNotUse) {
  const struct {
    SchemeKind kind;
    const char* parameter;
    void (*set)(SchemeOptions&);
  } kCases[] = {
      {SchemeKind::kTruncatedNormal, "--gain", [](SchemeOptions& o) { o.gain = 2; }},
      {SchemeKind::kTruncatedNormal, "--mode", [](SchemeOptions& o) { o.mode = FanMode::kFanIn; }},
      {SchemeKind::kTruncatedNormal, "--low", [](SchemeOptions& o) { o.low = -1; }},
      {SchemeKind::kHeTruncatedNormal, "--std", [](SchemeOptions& o) { o.std = 2; }},
      {SchemeKind::kXavierTruncatedNormal, "--mean", [](SchemeOptions& o) { o.mean = 1; }},
      {SchemeKind::kOrthogonal, "--std", [](SchemeOptions& o) { o.std = 2; }},
      {SchemeKind::kOrthogonal, "--mode", [](SchemeOptions& o) { o.mode = FanMode::kFanIn; }},
      {SchemeKind::kOrthogonal, "--nonlinearity", [](SchemeOptions& o) { o.nonlinearity = Nonlinearity::kRelu; }},
      {SchemeKind::kIdentity, "--value", [](SchemeOptions& o) { o.value = 1; }},
      {SchemeKind::kDirac, "--gain", [](SchemeOptions& o) { o.gain = 2; }},
      {SchemeKind::kTorch, "--gain", [](SchemeOptions& o) { o.gain = 2; }},
      {SchemeKind::kTorch, "--mode", [](SchemeOptions& o) { o.mode = FanMode::kFanOut; }},
      {SchemeKind::kTorch, "--nonlinearity", [](SchemeOptions& o) { o.nonlinearity = Nonlinearity::kRelu; }},
  };
  for (const auto& c : kCases) {
    SchemeOptions options = Options(c.kind);
    c.set(options);
    const std::string expected =
        std::string(c.parameter) + " does not apply to scheme '" + std::string(SchemeName(c.kind)) + "'";
    EXPECT_THAT(std::string(Validate(options).message()), HasSubstr(expected));
  }
}

TEST(Validate, NewSchemesAcceptTheirParameters) {
  SchemeOptions options = Options(SchemeKind::kTruncatedNormal);
  options.mean = 1;
  options.std = 0.5;
  EXPECT_TRUE(Validate(options).ok());
  options.std = -1;
  EXPECT_FALSE(Validate(options).ok());
  for (SchemeKind kind : {SchemeKind::kOrthogonal, SchemeKind::kIdentity}) {
    options = Options(kind);
    options.gain = 3;
    EXPECT_TRUE(Validate(options).ok()) << SchemeName(kind);
  }
  options = Options(SchemeKind::kHeTruncatedNormal);
  options.mode = FanMode::kFanOut;
  options.nonlinearity = Nonlinearity::kLeakyRelu;
  options.negative_slope = 0.2;
  EXPECT_TRUE(Validate(options).ok());
  for (SchemeKind kind : {SchemeKind::kDirac, SchemeKind::kTorch}) {
    EXPECT_TRUE(Validate(Options(kind)).ok()) << SchemeName(kind);
  }
}

TEST(CheckShapeForScheme, NamesTheRankTheSchemeNeeds) {
  const std::vector<int64_t> vector = {64}, matrix = {10, 20}, conv = {8, 3, 3, 3};
  EXPECT_TRUE(CheckShapeForScheme(SchemeKind::kOrthogonal, matrix).ok());
  EXPECT_TRUE(CheckShapeForScheme(SchemeKind::kOrthogonal, conv).ok());
  EXPECT_EQ(CheckShapeForScheme(SchemeKind::kOrthogonal, vector).message(),
            "orthogonal needs a tensor of rank >= 2; this one has rank 1 [64]");
  EXPECT_EQ(CheckShapeForScheme(SchemeKind::kOrthogonal, vector).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckShapeForScheme(SchemeKind::kIdentity, matrix).ok());
  EXPECT_EQ(CheckShapeForScheme(SchemeKind::kIdentity, conv).message(),
            "identity needs a tensor of rank 2; this one has rank 4 [8, 3, 3, 3]");
  EXPECT_TRUE(CheckShapeForScheme(SchemeKind::kDirac, conv).ok());
  EXPECT_TRUE(CheckShapeForScheme(SchemeKind::kDirac, std::vector<int64_t>{8, 3, 5}).ok());
  EXPECT_TRUE(CheckShapeForScheme(SchemeKind::kDirac, std::vector<int64_t>{8, 3, 1, 3, 3}).ok());
  EXPECT_THAT(std::string(CheckShapeForScheme(SchemeKind::kDirac, matrix).message()),
              HasSubstr("dirac needs a tensor of rank 3, 4 or 5"));
  EXPECT_THAT(std::string(CheckShapeForScheme(SchemeKind::kDirac, std::vector<int64_t>{8, 3, 1, 1, 1, 1}).message()),
              HasSubstr("this one has rank 6"));
  EXPECT_TRUE(CheckShapeForScheme(SchemeKind::kDirac, conv, 4).ok());
  EXPECT_EQ(CheckShapeForScheme(SchemeKind::kDirac, conv, 3).message(),
            "dirac: dim 0 (8) is not divisible by groups (3)");
  // Non-structured schemes accept any shape.
  EXPECT_TRUE(CheckShapeForScheme(SchemeKind::kHeNormal, vector).ok());
  EXPECT_TRUE(CheckShapeForScheme(SchemeKind::kTruncatedNormal, {}).ok());
}

TEST(DescribeDistribution, DescribesTheNewKinds) {
  SchemeOptions options = Options(SchemeKind::kTruncatedNormal);
  options.std = 0.05;
  EXPECT_EQ(DescribeDistribution(Resolve(options, {})), "TN(0, 0.05, [-0.1, 0.1])");
  EXPECT_EQ(DescribeDistribution(Resolve(Options(SchemeKind::kOrthogonal), {})), "orthogonal(gain 1)");
  EXPECT_EQ(DescribeDistribution(Resolve(Options(SchemeKind::kIdentity), {})), "identity(gain 1)");
  EXPECT_EQ(DescribeDistribution(Resolve(Options(SchemeKind::kDirac), {})), "dirac");
}

}  // namespace
}  // namespace onnx_reinit
