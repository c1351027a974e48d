#include "onnx_reinit/options.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

using ::testing::HasSubstr;

proto::Recipe Recipe(const std::string& text) {
  auto recipe = ParseRecipe(text, "test.textproto");
  EXPECT_TRUE(recipe.ok()) << recipe.status();
  return recipe.ok() ? *recipe : proto::Recipe();
}

RewriteOptions Options(const proto::Recipe& given, const proto::Recipe& file = proto::Recipe()) {
  auto options = ToRewriteOptions(given, file, "test.textproto");
  EXPECT_TRUE(options.ok()) << options.status();
  return options.ok() ? *std::move(options) : RewriteOptions();
}

std::string Error(const proto::Recipe& given, const proto::Recipe& file = proto::Recipe()) {
  auto options = ToRewriteOptions(given, file, "test.textproto");
  EXPECT_FALSE(options.ok());
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument) << options.status();
  return std::string(options.status().message());
}

TEST(ToRewriteOptions, ReadsEveryChoiceOfARecipe) {
  const RewriteOptions options = Options(Recipe(R"pb(
    scheme: "he_uniform:mode=fan_out"
    rules: "role:bias=keep"
    seed: 42
    bias: "torch"
    embedding: "scheme"
    rnn_recurrence: "scheme"
    lstm_forget_bias: 1
    convtranspose_fan: "input_channels"
    threads: 3
    dry_run: true
    external_data: true
    size_threshold: 64
    materialize: true
  )pb"));

  const ReinitOptions& reinit = options.reinit;
  EXPECT_EQ(reinit.policy.scheme.kind, SchemeKind::kHeUniform);
  EXPECT_EQ(reinit.policy.scheme.mode, FanMode::kFanOut);
  ASSERT_EQ(reinit.policy.rules.size(), 1u);
  EXPECT_TRUE(reinit.policy.rules[0].keep);
  EXPECT_EQ(reinit.seed, 42u);
  EXPECT_EQ(reinit.policy.bias, BiasInit::kTorch);
  EXPECT_EQ(reinit.policy.embedding, EmbeddingInit::kScheme);
  EXPECT_EQ(reinit.policy.recurrence, RecurrenceInit::kScheme);
  EXPECT_EQ(reinit.policy.lstm_forget_bias, 1.0);
  EXPECT_TRUE(reinit.analysis.convtranspose_input_channel_fans);
  EXPECT_EQ(reinit.threads, 3);
  EXPECT_TRUE(reinit.dry_run);
  EXPECT_EQ(options.layout, RewriteOptions::Layout::kExternal);
  EXPECT_EQ(options.size_threshold, 64);
  EXPECT_TRUE(options.materialize);
}

TEST(ToRewriteOptions, UnsetOptionsTakeTheLibraryDefaults) {
  proto::Recipe given;
  given.set_scheme("he");
  const RewriteOptions options = Options(given);
  const RewriteOptions defaults;

  EXPECT_EQ(options.reinit.seed, kDefaultSeed);
  EXPECT_EQ(options.reinit.policy.bias, BiasInit::kZeros);
  EXPECT_EQ(options.reinit.policy.embedding, EmbeddingInit::kNormal);
  EXPECT_EQ(options.reinit.policy.recurrence, RecurrenceInit::kOrthogonal);
  EXPECT_FALSE(options.reinit.policy.lstm_forget_bias.has_value());
  EXPECT_FALSE(options.reinit.only.has_value());
  EXPECT_FALSE(options.reinit.exclude.has_value());
  EXPECT_FALSE(options.reinit.strict);
  EXPECT_FALSE(options.reinit.untie);
  EXPECT_EQ(options.layout, RewriteOptions::Layout::kKeep);
  EXPECT_EQ(options.size_threshold, defaults.size_threshold);
  EXPECT_FALSE(options.reinit.policy.scheme.std.has_value());
}

TEST(ToRewriteOptions, GivenOptionsWinOverTheFileAndTheirRulesComeFirst) {
  const proto::Recipe file = Recipe(R"pb(
    scheme: "xavier_uniform" seed: 42 bias: "torch" rules: "role:bias=keep"
  )pb");
  proto::Recipe given;
  given.set_seed(7);
  given.add_rules("op:Gemm=ones");

  const RewriteOptions options = Options(given, file);

  EXPECT_EQ(options.reinit.seed, 7u);
  EXPECT_EQ(options.reinit.policy.bias, BiasInit::kTorch);  // not given: the file's
  EXPECT_EQ(options.reinit.policy.scheme.kind, SchemeKind::kXavierUniform);
  ASSERT_EQ(options.reinit.policy.rules.size(), 2u);
  EXPECT_EQ(options.reinit.policy.rules[0].text, "op:Gemm=ones");
  EXPECT_EQ(options.reinit.policy.rules[1].text, "role:bias=keep");
}

TEST(ToRewriteOptions, AGivenSchemeDoesNotTakeTheFilesParameters) {
  const proto::Recipe file = Recipe(R"pb(scheme: "normal" std: 0.02)pb");
  proto::Recipe given;
  given.set_scheme("he");

  const RewriteOptions options = Options(given, file);

  EXPECT_EQ(options.reinit.policy.scheme.kind, SchemeKind::kHeNormal);
  EXPECT_FALSE(options.reinit.policy.scheme.std.has_value());
}

TEST(ToRewriteOptions, GivenParametersApplyToTheFilesScheme) {
  const proto::Recipe file = Recipe(R"pb(scheme: "normal")pb");
  proto::Recipe given;
  given.set_std(0.5);

  EXPECT_EQ(Options(given, file).reinit.policy.scheme.std, 0.5);
}

TEST(ToRewriteOptions, SelectsByOnlyAndExclude) {
  proto::Recipe given;
  given.set_scheme("he");
  given.set_only("conv");
  given.set_exclude("bias");
  given.set_strict(true);
  given.set_untie(true);

  const ReinitOptions options = Options(given).reinit;

  ASSERT_TRUE(options.only && options.exclude);
  EXPECT_TRUE(options.only->Search("conv1.weight"));
  EXPECT_FALSE(options.only->Search("fc.weight"));
  EXPECT_TRUE(options.exclude->Search("conv1.bias"));
  EXPECT_TRUE(options.strict);
  EXPECT_TRUE(options.untie);
}

TEST(ToRewriteOptions, ErrorsNameTheOptionAsItsFlag) {
  proto::Recipe given;
  given.set_scheme("he");
  given.set_std(2);
  EXPECT_THAT(Error(given), HasSubstr("--std does not apply to scheme 'he_normal'"));

  given.clear_std();
  given.set_bias("ones");
  EXPECT_EQ(Error(given), "--bias 'ones': choose zeros or torch");

  given.clear_bias();
  given.set_only("(");
  EXPECT_EQ(Error(given), "--only: bad regex '(': missing ): (");

  given.clear_only();
  given.set_external_data(true);
  given.set_embed(true);
  EXPECT_EQ(Error(given), "give --external-data or --embed, not both");

  given.clear_embed();
  given.set_threads(-1);
  EXPECT_THAT(Error(given), HasSubstr("--threads"));

  given.clear_threads();
  given.set_size_threshold(-1);
  EXPECT_THAT(Error(given), HasSubstr("--size-threshold"));
}

TEST(ToRewriteOptions, WithoutASchemeIsAnError) {
  EXPECT_EQ(Error(proto::Recipe()), "give --scheme (or a --recipe with a scheme)");
}

TEST(ToRewriteOptions, UnknownSchemeListsTheValidOnes) {
  proto::Recipe given;
  given.set_scheme("kaiming");
  EXPECT_THAT(Error(given), HasSubstr("valid schemes: zeros, ones"));
}

TEST(ToRewriteOptions, ParametersInTheSpecAndAsOptionsAreAnError) {
  proto::Recipe given;
  given.set_scheme("normal:std=0.02");
  given.set_mean(1);
  EXPECT_THAT(Error(given), HasSubstr("not both"));
}

TEST(ToRewriteOptions, ABadRuleInTheFileNamesTheFileAndAGivenOneDoesNot) {
  proto::Recipe given;
  given.set_scheme("he");
  given.add_rules("role:nope=zeros");
  EXPECT_THAT(Error(given), ::testing::StartsWith("rule 'role:nope=zeros': unknown role 'nope'"));

  EXPECT_THAT(Error(proto::Recipe(), Recipe(R"pb(scheme: "he" rules: "role:nope=zeros")pb")),
              ::testing::StartsWith("test.textproto: rule 'role:nope=zeros'"));
}

TEST(ParseRecipe, SyntaxErrorNamesTheSourceAndTheLine) {
  auto recipe = ParseRecipe("scheme: \"he\"\nrulez: \"x\"\n", "ci.textproto");
  ASSERT_FALSE(recipe.ok());
  EXPECT_EQ(recipe.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(recipe.status().message(), HasSubstr("ci.textproto: line 2:"));
  EXPECT_THAT(recipe.status().message(), HasSubstr("rulez"));
}

TEST(ReadRecipe, MissingFileIsNotFound) {
  auto recipe = ReadRecipe("/nonexistent/recipe.textproto");
  ASSERT_FALSE(recipe.ok());
  EXPECT_EQ(recipe.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(recipe.status().message(), HasSubstr("/nonexistent/recipe.textproto"));
}

TEST(SchemeFromOptions, ReadsTheParameterFields) {
  proto::Recipe options;
  options.set_scheme("he_uniform");
  options.set_mode("fan_out");
  options.set_nonlinearity("leaky_relu");
  options.set_negative_slope(0.2);

  auto scheme = SchemeFromOptions(options);

  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->kind, SchemeKind::kHeUniform);
  EXPECT_EQ(scheme->mode, FanMode::kFanOut);
  EXPECT_EQ(scheme->nonlinearity, Nonlinearity::kLeakyRelu);
  EXPECT_EQ(scheme->negative_slope, 0.2);

  options.set_mode("fan_sideways");
  EXPECT_THAT(SchemeFromOptions(options).status().message(), HasSubstr("unknown mode 'fan_sideways'"));
}

TEST(ToRewriteOptions, APresetSetsTheSchemeAndRoleDefaultsAndTheGivenFlagsStillWin) {
  const Policy bert = Options(Recipe(R"pb(preset: "bert" initializer_range: 0.05)pb")).reinit.policy;
  EXPECT_EQ(bert.preset, "bert");
  EXPECT_EQ(bert.scheme.kind, SchemeKind::kNormal);
  EXPECT_EQ(bert.scheme.std, 0.05);
  EXPECT_EQ(bert.embedding, EmbeddingInit::kScheme);
  EXPECT_EQ(Options(Recipe(R"pb(preset: "bert" bias: "torch")pb")).reinit.policy.bias, BiasInit::kTorch);

  const Policy keras = Options(Recipe(R"pb(preset: "keras")pb")).reinit.policy;
  EXPECT_EQ(keras.scheme.kind, SchemeKind::kXavierUniform);
  EXPECT_EQ(keras.lstm_forget_bias, 1.0);
  ASSERT_EQ(keras.preset_rules.size(), 1u);
  EXPECT_EQ(keras.preset_rules[0].text, "preset keras: embedding U(-0.05, 0.05)");
  EXPECT_TRUE(keras.rules.empty());  // the user's rules stay the user's
  EXPECT_EQ(Options(Recipe(R"pb(preset: "torch")pb")).reinit.policy.scheme.kind, SchemeKind::kTorch);
}

TEST(ToRewriteOptions, APresetAndASchemeReplaceEachOtherFromARecipeFileButNotInOneSource) {
  EXPECT_EQ(Options(Recipe(R"pb(preset: "gpt2")pb"), Recipe(R"pb(scheme: "he" std: 1)pb")).reinit.policy.preset,
            "gpt2");
  const Policy scheme = Options(Recipe(R"pb(scheme: "he")pb"), Recipe(R"pb(preset: "gpt2")pb")).reinit.policy;
  EXPECT_EQ(scheme.preset, "");
  EXPECT_EQ(scheme.scheme.kind, SchemeKind::kHeNormal);
  EXPECT_THAT(Error(Recipe(R"pb(preset: "gpt2" scheme: "he")pb")), HasSubstr("give --preset or --scheme"));
  EXPECT_THAT(Error(Recipe(R"pb(preset: "gpt2" std: 0.1)pb")), HasSubstr("give --preset or --scheme"));
}

TEST(ToRewriteOptions, PresetMistakesAreNamed) {
  EXPECT_EQ(Error(Recipe(R"pb(preset: "gtp2")pb")),
            "--preset 'gtp2': choose torch, keras, bert, gpt2, llama, megatron, t5");
  EXPECT_THAT(Error(Recipe(R"pb(scheme: "he" initializer_range: 0.1)pb")),
              HasSubstr("--initializer-range goes with --preset"));
  EXPECT_THAT(Error(Recipe(R"pb(preset: "keras" initializer_range: 0.1)pb")), HasSubstr("not 'keras'"));
  EXPECT_THAT(Error(Recipe(R"pb(preset: "bert" initializer_range: -1)pb")), HasSubstr("must be a positive number"));
}

}  // namespace
}  // namespace onnx_reinit
