// What OutputFile leaves on disk: the complete file under its name after Commit, nothing at all
// otherwise - also when the process is killed or signalled mid-write, on the unnamed (O_TMPFILE)
// path and on the named-temporary fallback, and when the disk is full.
#include "onnx_reinit/output_file.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/rewrite.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/temp_dir.h"

namespace onnx_reinit {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

// The children signalled here need the default actions for SIGINT, SIGTERM and SIGHUP, which a
// shell gives background jobs as "ignore"; set before any test runs, so before any OutputFile
// installs its handler.
const bool kDefaultSignalActions = [] {
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) ::signal(signal, SIG_DFL);
  return true;
}();

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// How a forked child ended, and what it wrote to its report pipe.
struct ChildResult {
  int wait_status = 0;
  std::string report;
};

// Runs `body` in a forked child, which then exits with status 0. `body` may write to the pipe it is
// given; `ready`, if given, runs in the parent once the child has written a first byte to it (the
// child keeps running meanwhile).
ChildResult RunInChild(const std::function<void(int report_fd)>& body,
                       const std::function<void(pid_t child)>& ready = nullptr) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_fds[0]);
    body(pipe_fds[1]);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  ChildResult result;
  char buffer[4096];
  for (bool signalled = false;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.report.append(buffer, static_cast<size_t>(n));
    if (ready && !signalled) {
      signalled = true;
      ready(child);
    }
  }
  ::close(pipe_fds[0]);
  while (::waitpid(child, &result.wait_status, 0) < 0 && errno == EINTR) {
  }
  return result;
}

void Report(int fd, const std::string& text) {
  EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

// A fresh folder per test, and output files created in it with `options_`.
class OutputFolderTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  OutputFile CreateWith(const std::string& name, const std::string& bytes) {
    auto file = OutputFile::Create(Path(name), options_);
    EXPECT_TRUE(file.ok()) << file.status();
    EXPECT_TRUE(WriteAt(file->fd(), bytes.data(), bytes.size(), 0, file->path()).ok());
    return *std::move(file);
  }

  testing::TempDir temp_;
  std::string dir_ = temp_.path();
  OutputOptions options_;
};

// Tests run on both kinds of output file: unnamed (O_TMPFILE) and the named-temporary fallback.
class OutputFileTest : public OutputFolderTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    OutputFolderTest::SetUp();
    options_.named_temporary = GetParam();
  }
};

// Only named temporaries involve the signal handler.
class NamedTemporaryTest : public OutputFolderTest {
 protected:
  void SetUp() override {
    OutputFolderTest::SetUp();
    options_.named_temporary = true;
  }
};

INSTANTIATE_TEST_SUITE_P(BothKinds, OutputFileTest, ::testing::Bool(), [](const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "NamedTemporary" : "Unnamed";
});

TEST_P(OutputFileTest, FileAppearsOnlyAtCommitWithThePlainCreateMode) {
  const mode_t old_mask = ::umask(027);
  OutputFile file = CreateWith("out.onnx", "complete bytes");
  ::umask(old_mask);
  EXPECT_EQ(file.unnamed(), !GetParam());
  if (file.unnamed()) {
    EXPECT_THAT(Entries(), IsEmpty());
  } else {
    ASSERT_THAT(Entries(), SizeIs(1));
    EXPECT_THAT(Entries()[0], StartsWith("out.onnx.tmp-"));
  }

  ASSERT_TRUE(file.Commit().ok());

  EXPECT_THAT(Entries(), ElementsAre("out.onnx"));
  EXPECT_EQ(Read(Path("out.onnx")), "complete bytes");
  struct stat info;
  ASSERT_EQ(::stat(Path("out.onnx").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0640u);
}

TEST_P(OutputFileTest, UncommittedFileLeavesNothing) {
  { OutputFile file = CreateWith("out.onnx", "half of it"); }
  EXPECT_THAT(Entries(), IsEmpty());
}

TEST_P(OutputFileTest, CommitReplacesAnExistingFileAndLeavesNoTemporary) {
  std::ofstream(Path("out.onnx")) << "old contents";
  OutputFile file = CreateWith("out.onnx", "new contents");
  EXPECT_EQ(Read(Path("out.onnx")), "old contents");

  ASSERT_TRUE(file.Commit().ok());

  EXPECT_EQ(Read(Path("out.onnx")), "new contents");
  EXPECT_THAT(Entries(), ElementsAre("out.onnx"));
}

TEST_P(OutputFileTest, FsyncCommitGivesTheSameFile) {
  options_.fsync = true;
  std::ofstream(Path("replaced.onnx")) << "old contents";
  for (const std::string name : {"fresh.onnx", "replaced.onnx"}) {
    ASSERT_TRUE(CreateWith(name, "durable bytes").Commit().ok());
    EXPECT_EQ(Read(Path(name)), "durable bytes");
  }
  EXPECT_THAT(Entries(), ElementsAre("fresh.onnx", "replaced.onnx"));
}

TEST_P(OutputFileTest, ValidatorSeesTheFileBesideTheTargetAndARefusalKeepsTheTarget) {
  std::ofstream(Path("out.onnx")) << "old contents";
  OutputFile file = CreateWith("out.onnx", "new contents");
  std::string seen;

  const absl::Status status = file.Commit([&](const std::string& provisional) {
    EXPECT_EQ(fs::path(provisional).parent_path(), fs::path(dir_));
    seen = Read(provisional);
    return absl::InternalError("refused");
  });

  EXPECT_EQ(status.message(), "refused");
  EXPECT_EQ(seen, "new contents");
  EXPECT_EQ(Read(Path("out.onnx")), "old contents");
  EXPECT_THAT(Entries(), ElementsAre("out.onnx"));
}

TEST_P(OutputFileTest, ValidatedCommitReplacesTheTarget) {
  OutputFile file = CreateWith("out.onnx", "new contents");
  ASSERT_TRUE(file.Commit([](const std::string&) { return absl::OkStatus(); }).ok());
  EXPECT_EQ(Read(Path("out.onnx")), "new contents");
  EXPECT_THAT(Entries(), ElementsAre("out.onnx"));
}

TEST_P(OutputFileTest, DirectoryTargetAndMissingFolderAreErrorsNamingThePath) {
  fs::create_directory(Path("sub"));
  for (const std::string& path : {Path("sub"), Path("missing/out.onnx")}) {
    const auto file = OutputFile::Create(path, options_);
    ASSERT_FALSE(file.ok()) << path;
    EXPECT_THAT(std::string(file.status().message()), HasSubstr(path));
  }
  EXPECT_THAT(Entries(), ElementsAre("sub"));
  EXPECT_THAT(fs::is_empty(Path("sub")), true);
}

// A full disk, as the file-size limit makes it (EFBIG instead of ENOSPC: the same error path).
// SIGXFSZ would end the process instead, so it is ignored, as programs that handle EFBIG do.
TEST_P(OutputFileTest, FullDiskIsAnErrorNamingTheFileAndLeavesNothing) {
  const ChildResult child = RunInChild([&](int report) {
    ::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit limit = {64 << 10, 64 << 10};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const absl::Status status = WriteFileAtomically(Path("big.onnx"), std::string(1 << 20, 'x'), options_);
    Report(report, std::string(status.message()));
  });
  ASSERT_TRUE(WIFEXITED(child.wait_status));
  EXPECT_EQ(child.report, "cannot write " + Path("big.onnx") + ": " + std::strerror(EFBIG));
  EXPECT_THAT(Entries(), IsEmpty());
}

// The child writes a file, tells the parent, and waits to be signalled.
void WriteAndWait(const std::string& path, const OutputOptions& options, int report) {
  auto file = OutputFile::Create(path, options);
  if (!file.ok() || !WriteAt(file->fd(), "partial", 7, 0, path).ok()) ::_exit(2);
  Report(report, "written");
  for (;;) ::pause();
}

TEST_P(OutputFileTest, TerminatingSignalsRemoveTheFileAndEndTheProcessWithTheSignal) {
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
    SCOPED_TRACE(strsignal(signal));
    std::vector<std::string> while_writing;
    const ChildResult child = RunInChild([&](int report) { WriteAndWait(Path("out.onnx"), options_, report); },
                                         [&](pid_t pid) {
                                           while_writing = Entries();
                                           ::kill(pid, signal);
                                         });
    ASSERT_TRUE(WIFSIGNALED(child.wait_status)) << child.wait_status;
    EXPECT_EQ(WTERMSIG(child.wait_status), signal);
    EXPECT_THAT(while_writing, SizeIs(GetParam() ? 1 : 0));  // the fallback's temporary was there
    EXPECT_THAT(Entries(), IsEmpty());
  }
}

TEST_F(NamedTemporaryTest, ProgramsThatHandleASignalKeepTheirHandler) {
  const ChildResult child = RunInChild(
      [&](int report) {
        static int handled_fd = -1;
        handled_fd = report;
        ::signal(SIGTERM, [](int) {
          if (::write(handled_fd, "handled", 7) != 7) ::_exit(3);
          ::_exit(0);  // a real program would unwind, and its OutputFiles would remove themselves
        });
        WriteAndWait(Path("out.onnx"), options_, report);
      },
      [](pid_t pid) { ::kill(pid, SIGTERM); });
  ASSERT_TRUE(WIFEXITED(child.wait_status));
  EXPECT_EQ(WEXITSTATUS(child.wait_status), 0);
  EXPECT_EQ(child.report, "writtenhandled");
}

TEST_F(NamedTemporaryTest, SignalsOfAForkedChildLeaveTheParentsFileAlone) {
  OutputFile file = CreateWith("out.onnx", "the parent's bytes");
  const ChildResult child = RunInChild(
      [](int report) {
        Report(report, "forked");
        for (;;) ::pause();
      },
      [](pid_t pid) { ::kill(pid, SIGTERM); });
  ASSERT_TRUE(WIFSIGNALED(child.wait_status));
  ASSERT_TRUE(file.Commit().ok());
  EXPECT_EQ(Read(Path("out.onnx")), "the parent's bytes");
}

// A signal in the middle of a re-initialization (after its first window is written: the progress
// callback is called from the writing thread) leaves only the input; so does kill -9 on the unnamed
// path, while it leaves the fallback's temporaries behind (which is why the fallback is only for
// file systems without O_TMPFILE).
TEST_P(OutputFileTest, SignalDuringARewriteLeavesOnlyTheInput) {
  onnx::ModelProto model = testing::NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  testing::AddInput(graph, "x", {1, 256});
  testing::AddInitializer(graph, "w", {256, 256});
  testing::AddNode(graph, "MatMul", {"x", "w"}, {"y"});
  const std::string input = Path("in.onnx");
  ASSERT_TRUE(SaveModel(model, input).ok());

  for (const RewriteOptions::Layout layout : {RewriteOptions::Layout::kKeep, RewriteOptions::Layout::kExternal}) {
    for (const int signal : {SIGKILL, SIGINT, SIGTERM}) {
      SCOPED_TRACE(strsignal(signal));
      const ChildResult child = RunInChild([&](int) {
        RewriteOptions options;
        options.reinit.policy.scheme.kind = SchemeKind::kHeNormal;
        options.reinit.threads = 1;
        options.window_bytes = 4096;  // 64 windows
        options.layout = layout;
        options.output = options_;
        options.reinit.progress = [signal](int64_t done, int64_t) {
          if (done > 0) ::raise(signal);
        };
        (void)ReinitializeFile(input, Path("out.onnx"), options);
        ::_exit(1);  // not reached
      });
      ASSERT_TRUE(WIFSIGNALED(child.wait_status)) << child.wait_status;
      EXPECT_EQ(WTERMSIG(child.wait_status), signal);
      if (GetParam() && signal == SIGKILL) {
        EXPECT_THAT(Entries(), SizeIs(::testing::Gt(1u)));  // what kill -9 leaves without O_TMPFILE
        for (const std::string& name : Entries()) {
          if (name != "in.onnx") fs::remove(Path(name));
        }
      } else {
        EXPECT_THAT(Entries(), ElementsAre("in.onnx"));
      }
    }
  }
}

}  // namespace
}  // namespace onnx_reinit
