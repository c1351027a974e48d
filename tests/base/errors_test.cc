#include "onnx_reinit/errors.h"

#include <cerrno>
#include <iterator>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/file_util.h"
#include "onnx_reinit/options.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/verify.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

constexpr ErrorKind kAllKinds[] = {ErrorKind::kModel,  ErrorKind::kUsage,      ErrorKind::kFile,
                                   ErrorKind::kStrict, ErrorKind::kNotInPlace, ErrorKind::kUnsupported};

TEST(ErrorKind, IsReadBackWhateverTheCodeAndMessage) {
  for (ErrorKind kind : kAllKinds) {
    for (const absl::Status& status : {absl::InvalidArgumentError("a"), absl::FailedPreconditionError(""),
                                       absl::NotFoundError("verify checks moments"), absl::InternalError("--strict")}) {
      EXPECT_EQ(ErrorKindOf(WithErrorKind(status, kind)), kind) << ErrorKindName(kind) << " " << status;
    }
  }
}

TEST(ErrorKind, OfAStatusWithoutOneIsModel) {
  EXPECT_EQ(ErrorKindOf(absl::InvalidArgumentError("--strict: rule 'x' matches no tensor")), ErrorKind::kModel);
  EXPECT_EQ(ErrorKindOf(absl::NotFoundError("m.onnx: cannot open")), ErrorKind::kModel);
}

TEST(ErrorKind, ALaterKindReplacesAnEarlierOne) {
  const absl::Status usage = WithErrorKind(absl::InvalidArgumentError("x"), ErrorKind::kUsage);
  EXPECT_EQ(ErrorKindOf(WithErrorKind(usage, ErrorKind::kStrict)), ErrorKind::kStrict);
}

TEST(ErrorKind, OkStaysOk) { EXPECT_TRUE(WithErrorKind(absl::OkStatus(), ErrorKind::kUsage).ok()); }

TEST(ErrorKind, SurvivesContextAndANewMessage) {
  const absl::Status file = WithErrorKind(absl::PermissionDeniedError("out.onnx: denied"), ErrorKind::kFile);
  const absl::Status named = WithContext(file, "in.onnx");
  EXPECT_EQ(named.message(), "in.onnx: out.onnx: denied");
  EXPECT_EQ(named.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorKindOf(named), ErrorKind::kFile);
  const absl::Status renamed = WithMessage(named, "-: denied");
  EXPECT_EQ(renamed.message(), "-: denied");
  EXPECT_EQ(ErrorKindOf(renamed), ErrorKind::kFile);
}

TEST(ErrorKind, UsageErrorIsInvalidArgumentOfKindUsage) {
  const absl::Status status = UsageError("give -o");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "give -o");
  EXPECT_EQ(ErrorKindOf(status), ErrorKind::kUsage);
}

TEST(ErrorKind, NamesAreDistinct) {
  std::set<std::string> names;
  for (ErrorKind kind : kAllKinds) names.insert(std::string(ErrorKindName(kind)));
  EXPECT_EQ(names.size(), std::size(kAllKinds));
}

// The kinds are set where the errors arise.

TEST(ErrorKindAtTheSource, OperatingSystemRefusalsAreFileErrorsWithTheErrnoCode) {
  EXPECT_EQ(ErrorKindOf(ErrnoError("m.onnx: cannot open", ENOENT)), ErrorKind::kFile);
  EXPECT_EQ(ErrnoError("m.onnx: cannot open", ENOENT).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoError("m.onnx: cannot open", EACCES).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorKindOf(ErrnoError("out.onnx: cannot write", ENOSPC)), ErrorKind::kFile);
  EXPECT_EQ(ErrorKindOf(ReadRecipe("/nonexistent/recipe.textproto").status()), ErrorKind::kFile);
}

TEST(ErrorKindAtTheSource, BadOptionsAreUsageErrors) {
  proto::Recipe options;
  EXPECT_EQ(ErrorKindOf(SchemeFromOptions(options).status()), ErrorKind::kUsage);  // no scheme
  options.set_scheme("kaiming");
  EXPECT_EQ(ErrorKindOf(SchemeFromOptions(options).status()), ErrorKind::kUsage);
  options.set_scheme("he");
  options.set_bias("ones");
  EXPECT_EQ(ErrorKindOf(ToRewriteOptions(options).status()), ErrorKind::kUsage);
  options.clear_bias();
  options.add_rules("name:(=zeros");
  EXPECT_EQ(ErrorKindOf(ToRewriteOptions(options).status()), ErrorKind::kUsage);
  EXPECT_EQ(ErrorKindOf(ParseRecipe("scheme: ", "r.textproto").status()), ErrorKind::kUsage);
}

TEST(ErrorKindAtTheSource, VerifyRefusingASchemeItCannotJudgeIsAUsageError) {
  onnx::ModelProto model = testing::NewModel();
  VerifyOptions options;
  options.scheme.kind = SchemeKind::kIdentity;
  EXPECT_EQ(ErrorKindOf(VerifyModel(model, options).status()), ErrorKind::kUsage);
}

}  // namespace
}  // namespace onnx_reinit
