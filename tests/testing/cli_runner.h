// Runs the built onnx-reinit binary (ONNX_REINIT_BINARY) as a subprocess for end-to-end tests, with
// stdout and stderr captured separately, and temporary directories to run it in.
#ifndef ONNX_REINIT_TESTS_TESTING_CLI_RUNNER_H_
#define ONNX_REINIT_TESTS_TESTING_CLI_RUNNER_H_

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace onnx_reinit::testing {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// CLI11's hint after a parse error; not part of the error itself.
constexpr char kCli11Hint[] = "Run with --help for more information.";

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Copies testdata/`relative` into `dir` and returns the copy's path. The tool only ever gets such
// copies, so that a tool that wrote to its input could not damage the committed fixtures.
inline std::string CopyFixture(const TempDir& dir, const std::string& relative) {
  const std::string destination = dir / fs::path(relative).filename().string();
  fs::copy_file(TestdataPath(relative), destination, fs::copy_options::overwrite_existing);
  return destination;
}

// The names of the entries of `dir`, sorted.
inline std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

struct CommandResult {
  int status = -1;  // the exit status; -1 when the process did not exit normally
  std::string out;
  std::string err;
};

inline std::ostream& operator<<(std::ostream& os, const CommandResult& result) {
  return os << "exit status " << result.status << "\n--- stdout:\n"
            << result.out << "--- stderr:\n"
            << result.err << "---";
}

// Starts the onnx-reinit binary with `args` (no shell involved), stdin from `stdin_path`, stdout
// and stderr to the files `out_path` and `err_path`. Returns its process id, or -1 (with a test
// failure) when it cannot start.
inline pid_t StartTool(const std::vector<std::string>& args, const std::string& out_path, const std::string& err_path,
                       const std::string& stdin_path = "/dev/null") {
  std::vector<std::string> argv_strings = {ONNX_REINIT_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    ADD_FAILURE() << "cannot run " << argv[0] << ": error " << spawn_error;
    return -1;
  }
  return pid;
}

// Waits for the process `pid` to end and returns its wait status (-1 when waitpid fails).
inline int WaitForProcess(pid_t pid) {
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) {
      ADD_FAILURE() << "waitpid failed";
      return -1;
    }
  }
  return wait_status;
}

// Runs the onnx-reinit binary with `args` (no shell involved), stdin read from `stdin_path`, stdout
// and stderr captured to files in a private temporary directory.
inline CommandResult RunTool(const std::vector<std::string>& args, const std::string& stdin_path = "/dev/null") {
  CommandResult result;
  TempDir capture;
  const std::string out_path = capture / "stdout";
  const std::string err_path = capture / "stderr";
  const pid_t pid = StartTool(args, out_path, err_path, stdin_path);
  if (pid < 0) return result;
  const int wait_status = WaitForProcess(pid);
  if (WIFEXITED(wait_status)) {
    result.status = WEXITSTATUS(wait_status);
  } else {
    ADD_FAILURE() << ONNX_REINIT_BINARY << " did not exit normally (wait status " << wait_status << ")";
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

// Expects the process to have failed with exactly one stderr line "onnx-reinit: error: ..." that
// contains every string of `mentions`, and nothing on stdout.
inline void ExpectOneLineError(const CommandResult& result, const std::vector<std::string>& mentions) {
  EXPECT_NE(result.status, 0) << result;
  EXPECT_EQ(result.out, "") << result;
  const std::vector<std::string> lines = Lines(result.err);
  ASSERT_EQ(lines.size(), 1u) << result;
  EXPECT_THAT(lines[0], StartsWith("onnx-reinit: error: ")) << result;
  for (const std::string& mention : mentions) EXPECT_THAT(lines[0], HasSubstr(mention)) << result;
}

// A CLI11 usage error: exit status 2, one error line (plus CLI11's fixed hint) naming `mentions`.
inline void ExpectUsageError(const CommandResult& result, const std::vector<std::string>& mentions) {
  EXPECT_EQ(result.status, 2) << result;
  EXPECT_EQ(result.out, "") << result;
  std::vector<std::string> lines = Lines(result.err);
  lines.erase(std::remove(lines.begin(), lines.end(), kCli11Hint), lines.end());
  ASSERT_EQ(lines.size(), 1u) << result;
  for (const std::string& mention : mentions) EXPECT_THAT(lines[0], HasSubstr(mention)) << result;
}

}  // namespace onnx_reinit::testing

#endif  // ONNX_REINIT_TESTS_TESTING_CLI_RUNNER_H_
