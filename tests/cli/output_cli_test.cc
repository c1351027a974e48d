// What the onnx-reinit command leaves on disk when it is killed mid-write, when two runs write the
// same output at once, when the disk is full, and with --fsync. Runs the built binary.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/model_io.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

namespace fs = std::filesystem;
using namespace ::onnx_reinit::testing;  // NOLINT: test helpers
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Writes a chain of `layers` MatMuls with [width, width] float32 weights (4·width² bytes each).
std::string WriteMatMulChain(const TempDir& dir, const std::string& name, int layers, int64_t width) {
  onnx::ModelProto model = NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInput(graph, "x0", {1, width});
  for (int i = 0; i < layers; ++i) {
    const std::string weight = absl::StrCat("w", i);
    AddInitializer(graph, weight, {width, width});
    AddNode(graph, "MatMul", {absl::StrCat("x", i), weight}, {absl::StrCat("x", i + 1)});
  }
  const std::string path = dir / name;
  EXPECT_TRUE(SaveModel(model, path).ok());
  return path;
}

// Whether process `pid` holds an unnamed file in `folder` open: an O_TMPFILE output, which /proc
// shows as "folder/#inode (deleted)".
bool HoldsUnnamedFileIn(pid_t pid, const std::string& folder) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(absl::StrCat("/proc/", pid, "/fd"), error)) {
    const std::string target = fs::read_symlink(entry.path(), error).string();
    if (absl::StartsWith(target, folder + "/#") && absl::EndsWith(target, " (deleted)")) return true;
  }
  return false;
}

TEST(OutputCli, KillOrSignalDuringAWriteLeavesOnlyTheInput) {
  TempDir dir;
  // 128 MiB of weights: on one thread the write takes long enough to be caught in the middle.
  const std::string input = WriteMatMulChain(dir, "big.onnx", 2, 4096);
  for (const bool external : {false, true}) {
    for (const int signal : {SIGKILL, SIGINT, SIGTERM}) {
      SCOPED_TRACE(absl::StrCat(strsignal(signal), external ? ", --external-data" : ""));
      std::vector<std::string> args = {input, "--scheme", "he", "--threads", "1", "-q", "-o", dir / "out.onnx"};
      if (external) args.push_back("--external-data");
      const pid_t pid = StartTool(args, "/dev/null", "/dev/null");
      ASSERT_GT(pid, 0);
      bool caught = false;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!caught && std::chrono::steady_clock::now() < deadline) {
        caught = HoldsUnnamedFileIn(pid, dir.path());
        if (!caught) std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      if (caught) ::kill(pid, signal);
      const int wait_status = WaitForProcess(pid);
      ASSERT_TRUE(caught) << "the run ended before its output file was seen";
      ASSERT_TRUE(WIFSIGNALED(wait_status)) << "wait status " << wait_status;
      EXPECT_EQ(WTERMSIG(wait_status), signal);
      EXPECT_THAT(ListDir(dir.path()), ElementsAre("big.onnx"));
    }
  }
}

TEST(OutputCli, TwoRunsWritingOneOutputLeaveOneCompleteFile) {
  TempDir dir;
  const std::string input = WriteMatMulChain(dir, "in.onnx", 2, 1024);  // 8 MiB
  const std::vector<std::string> first = {"--scheme", "he", "--seed", "1"};
  const std::vector<std::string> second = {"--scheme", "xavier_uniform", "--seed", "2"};
  auto run = [&](const std::vector<std::string>& flags, const std::string& output) {
    std::vector<std::string> args = {input, "-q", "-o", output};
    args.insert(args.end(), flags.begin(), flags.end());
    return StartTool(args, "/dev/null", "/dev/null");
  };
  ASSERT_EQ(WaitForProcess(run(first, dir / "first.onnx")), 0);
  ASSERT_EQ(WaitForProcess(run(second, dir / "second.onnx")), 0);
  const std::string first_bytes = ReadFile(dir / "first.onnx");
  const std::string second_bytes = ReadFile(dir / "second.onnx");
  ASSERT_NE(first_bytes, second_bytes);

  for (int round = 0; round < 8; ++round) {
    const pid_t a = run(first, dir / "out.onnx");
    const pid_t b = run(second, dir / "out.onnx");
    EXPECT_EQ(WaitForProcess(a), 0);
    EXPECT_EQ(WaitForProcess(b), 0);
    EXPECT_THAT(ReadFile(dir / "out.onnx"), AnyOf(first_bytes, second_bytes)) << "round " << round;
    EXPECT_THAT(ListDir(dir.path()), ElementsAre("first.onnx", "in.onnx", "out.onnx", "second.onnx"));
  }
}

// A model and its data file are committed as a pair: concurrent runs with different layouts leave
// one run's model with the same run's data file, never one run's model pointing into the other's.
TEST(OutputCli, TwoRunsWritingOneExternalDataOutputLeaveOneRunsPair) {
  TempDir dir;
  onnx::ModelProto model = NewModel();
  onnx::GraphProto& graph = *model.mutable_graph();
  AddInput(graph, "x", {1, 256});
  AddInitializer(graph, "small", {256, 256});   // 256 KiB: moved out by the first run only
  AddInitializer(graph, "large", {256, 4096});  // 4 MiB: moved out by both
  AddNode(graph, "MatMul", {"x", "small"}, {"h"});
  AddNode(graph, "MatMul", {"h", "large"}, {"y"});
  const std::string input = dir / "in.onnx";
  ASSERT_TRUE(SaveModel(model, input).ok());
  const std::vector<std::string> first = {"--seed", "1", "--size-threshold", "1024"};
  const std::vector<std::string> second = {"--seed", "2", "--size-threshold", "1000000"};
  auto run = [&](const std::vector<std::string>& flags, const std::string& output) {
    std::vector<std::string> args = {input, "--scheme", "he", "--external-data", "-q", "-o", output};
    args.insert(args.end(), flags.begin(), flags.end());
    return StartTool(args, "/dev/null", "/dev/null");
  };
  fs::create_directory(dir / "first");
  fs::create_directory(dir / "second");
  ASSERT_EQ(WaitForProcess(run(first, dir / "first/out.onnx")), 0);
  ASSERT_EQ(WaitForProcess(run(second, dir / "second/out.onnx")), 0);
  const std::string first_pair = ReadFile(dir / "first/out.onnx") + ReadFile(dir / "first/out.onnx.data");
  const std::string second_pair = ReadFile(dir / "second/out.onnx") + ReadFile(dir / "second/out.onnx.data");

  for (int round = 0; round < 8; ++round) {
    const pid_t a = run(first, dir / "out.onnx");
    const pid_t b = run(second, dir / "out.onnx");
    EXPECT_EQ(WaitForProcess(a), 0);
    EXPECT_EQ(WaitForProcess(b), 0);
    const std::string pair = ReadFile(dir / "out.onnx") + ReadFile(dir / "out.onnx.data");
    EXPECT_TRUE(pair == first_pair || pair == second_pair) << "round " << round << ": a mixed pair";
    EXPECT_TRUE(CheckModelFile(dir / "out.onnx").ok());
    EXPECT_THAT(ListDir(dir.path()), ElementsAre("first", "in.onnx", "out.onnx", "out.onnx.data", "second"));
  }
}

TEST(OutputCli, FsyncWritesTheSameFiles) {
  TempDir dir;
  const std::string input = CopyFixture(dir, "torch_cnn.onnx");
  for (const std::vector<std::string>& layout :
       {std::vector<std::string>{}, {"--external-data", "--size-threshold", "64"}}) {
    fs::remove_all(dir / "plain");
    fs::remove_all(dir / "durable");
    fs::create_directory(dir / "plain");
    fs::create_directory(dir / "durable");
    std::vector<std::string> plain = {
        input, "--scheme", "he", "-q", "-o", dir / "plain/out.onnx", "--report", dir / "plain/report.json"};
    plain.insert(plain.end(), layout.begin(), layout.end());
    std::vector<std::string> durable = {
        input,    "--scheme", "he", "-q", "-o", dir / "durable/out.onnx", "--report", dir / "durable/report.json",
        "--fsync"};
    durable.insert(durable.end(), layout.begin(), layout.end());
    ASSERT_EQ(RunTool(plain).status, 0);
    const CommandResult result = RunTool(durable);
    ASSERT_EQ(result.status, 0) << result;
    const std::vector<std::string> files = ListDir(dir / "durable");
    EXPECT_EQ(files, ListDir(dir / "plain"));
    for (const std::string& name : files) {
      if (name == "report.json") continue;  // holds the output's path
      EXPECT_EQ(ReadFile(dir / ("durable/" + name)), ReadFile(dir / ("plain/" + name))) << name;
    }
  }
  EXPECT_THAT(RunTool({"--help"}).out, ::testing::HasSubstr("--fsync"));
}

// A small tmpfs, mounted for the test's duration (as root); unmounted at the end of the scope.
class SmallTmpfs {
 public:
  SmallTmpfs(const std::string& path, const std::string& size) : path_(path) {
    fs::create_directory(path);
    if (::geteuid() != 0) {
      problem_ = "not root";
    } else if (::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) {
      problem_ = std::strerror(errno);
    }
  }
  ~SmallTmpfs() {
    if (problem_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }
  // Why it could not be mounted; empty when it is.
  const std::string& problem() const { return problem_; }

 private:
  std::string path_;
  std::string problem_;
};

TEST(OutputCli, FullDiskIsAnErrorNamingTheFileAndLeavesNothing) {
  TempDir dir;
  const std::string input = WriteMatMulChain(dir, "in.onnx", 1, 512);  // 1 MiB
  const SmallTmpfs disk(dir / "disk", "256k");
  if (!disk.problem().empty()) GTEST_SKIP() << "cannot mount a small tmpfs: " << disk.problem();
  const std::string output = dir / "disk/out.onnx";
  for (const auto& [flag, named] :
       {std::pair<std::string, std::string>{"--threads=1", output}, {"--external-data", output + ".data"}}) {
    SCOPED_TRACE(flag);
    const CommandResult result = RunTool({input, "--scheme", "he", "-o", output, flag});
    ExpectOneLineError(result, {"cannot write " + named + ": ", std::strerror(ENOSPC)});
    EXPECT_EQ(result.status, 1);
    EXPECT_THAT(ListDir(dir / "disk"), IsEmpty());
  }
}

}  // namespace
}  // namespace onnx_reinit
