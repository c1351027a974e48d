#include "tools/exit_status.h"

#include "gtest/gtest.h"
#include "onnx_reinit/errors.h"

namespace onnx_reinit::cli {
namespace {

// Statuses that differ in code and wording: none of it may change the exit status.
const absl::Status kStatuses[] = {absl::InvalidArgumentError("--strict: rule 'x' matches no tensor"),
                                  absl::FailedPreconditionError("verify checks moments"),
                                  absl::NotFoundError("m.onnx: cannot open"), absl::InternalError("")};

int ActionExit(const absl::Status& status, ErrorKind kind) {
  return ExitStatusFor(WithErrorKind(status, kind), CommandType::kAction);
}

TEST(ExitStatus, OfAnActionIsTwoForUsageAndStrictAndOneOtherwiseWhateverTheMessage) {
  for (const absl::Status& status : kStatuses) {
    SCOPED_TRACE(status.ToString());
    EXPECT_EQ(ActionExit(status, ErrorKind::kUsage), 2);
    EXPECT_EQ(ActionExit(status, ErrorKind::kStrict), 2);
    EXPECT_EQ(ActionExit(status, ErrorKind::kModel), 1);
    EXPECT_EQ(ActionExit(status, ErrorKind::kFile), 1);
    EXPECT_EQ(ActionExit(status, ErrorKind::kNotInPlace), 1);
    EXPECT_EQ(ActionExit(status, ErrorKind::kUnsupported), 1);
    EXPECT_EQ(ExitStatusFor(status, CommandType::kAction), 1);  // no kind: the model's
  }
}

TEST(ExitStatus, OfAVerdictIsTwoForEveryError) {
  for (const absl::Status& status : kStatuses) {
    for (ErrorKind kind : {ErrorKind::kModel, ErrorKind::kUsage, ErrorKind::kFile, ErrorKind::kStrict}) {
      EXPECT_EQ(ExitStatusFor(WithErrorKind(status, kind), CommandType::kVerdict), 2) << status;
    }
  }
}

}  // namespace
}  // namespace onnx_reinit::cli
