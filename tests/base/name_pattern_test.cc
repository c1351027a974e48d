#include "onnx_reinit/name_pattern.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

NamePattern Compiled(const std::string& pattern) {
  auto compiled = NamePattern::Compile(pattern);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return *compiled;
}

TEST(NamePattern, MatchesTakesTheWholeNameAndSearchAnyPart) {
  const NamePattern mlp = Compiled("mlp");
  EXPECT_FALSE(mlp.Matches("encoder.mlp.0.weight"));
  EXPECT_TRUE(mlp.Search("encoder.mlp.0.weight"));
  EXPECT_TRUE(Compiled(R"(encoder\.mlp\.\d+\.weight)").Matches("encoder.mlp.0.weight"));
  EXPECT_FALSE(Compiled(R"(encoder\.mlp\.\d+\.weight)").Matches("encoder_mlp_0_weight"));
}

TEST(NamePattern, TheSyntaxUsersWriteForNamesWorks) {
  EXPECT_TRUE(Compiled("^(?:conv|fc)[0-9]+\\.(weight|bias)$").Search("conv12.bias"));
  EXPECT_TRUE(Compiled("/encoder/layers/encoder_layer_[0-9]{1,2}/mlp/")
                  .Search("/encoder/layers/encoder_layer_11/mlp/mlp.0/MatMul"));
  EXPECT_TRUE(Compiled("head|classifier").Search("model.classifier.weight"));
  EXPECT_TRUE(Compiled("onnx::MatMul_\\w+").Matches("onnx::MatMul_1234"));
}

TEST(NamePattern, AHugeNameIsMatchedWithoutRecursion) {
  // std::regex overflowed the stack here (a model's tensor names are as long as its file allows).
  const std::string name(1 << 20, 'a');
  EXPECT_FALSE(Compiled(".*mlp.*").Search(name));
  EXPECT_TRUE(Compiled("(a|b)*").Matches(name));
  EXPECT_TRUE(Compiled("a+$").Search(name + "a"));
}

TEST(NamePattern, NestedRepetitionDoesNotBacktrack) {
  // Exponential for a backtracking matcher (2^60 paths), linear for RE2.
  EXPECT_FALSE(Compiled("(a+)+b").Matches(std::string(60, 'a')));
}

TEST(NamePattern, ABadPatternIsAnErrorQuotingIt) {
  auto bad = NamePattern::Compile("conv(");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), AllOf(HasSubstr("bad regex 'conv('"), HasSubstr("missing )")));
  EXPECT_THAT(std::string(NamePattern::Compile("(a)\\1").status().message()), HasSubstr("bad regex"));
}

}  // namespace
}  // namespace onnx_reinit
