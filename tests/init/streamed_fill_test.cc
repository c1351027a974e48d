#include "onnx_reinit/init/streamed_fill.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_reinit/numerics/rng.h"
#include "onnx_reinit/scheme.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/temp_dir.h"

namespace onnx_reinit {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr uint64_t kSeed = 99;

// A file of tensors between runs of other bytes, laid out as a model file's payloads would be:
// gaps of every kind (none, a few bytes, more than the kernel-copy threshold), odd offsets, every
// float type, an orthogonal matrix and a tensor written as two regions.
class StreamedFillTest : public ::testing::Test {
 protected:
  struct Tensor {
    onnx::TensorProto proto;
    int64_t offset;
  };

  void SetUp() override {
    std::mt19937 random(7);
    auto gap = [&](int64_t bytes) {
      for (int64_t k = 0; k < bytes; ++k) content_.push_back(static_cast<char>(random()));
    };
    auto tensor = [&](const std::vector<int64_t>& dims, int32_t type) {
      Tensor t;
      t.proto.set_name("t" + std::to_string(tensors_.size()));
      testing::SetTensor(t.proto, dims, type);
      t.offset = static_cast<int64_t>(content_.size());
      content_ += t.proto.raw_data();
      tensors_.push_back(std::move(t));
    };
    gap(101);
    tensor({10007}, onnx::TensorProto::FLOAT);
    gap(70001);  // copied in the kernel
    tensor({3001}, onnx::TensorProto::FLOAT16);
    gap(3);
    tensor({40, 50}, onnx::TensorProto::DOUBLE);  // orthogonal: 16000 bytes in one piece
    tensor({4, 999}, onnx::TensorProto::FLOAT);   // two regions, back to back with the previous
    tensor({777}, onnx::TensorProto::BFLOAT16);
    gap(5);
    layout_path_ = (dir_ / "layout.bin").string();
    std::ofstream(layout_path_, std::ios::binary) << content_;
    auto mapped = MappedFile::Open(layout_path_, MappedFile::Mode::kReadLazy);
    ASSERT_TRUE(mapped.ok()) << mapped.status();
    layout_ = *std::move(mapped);
  }

  // The jobs of the tensors, bound at `base` (a copy of the file's content, or the mapping).
  std::vector<FillJob> Jobs(char* base) {
    std::vector<FillJob> jobs;
    for (Tensor& t : tensors_) {
      DetachedPayload payload;
      payload.data = base + t.offset;
      payload.size = static_cast<int64_t>(t.proto.raw_data().size());
      auto values = TensorValues::BindDetached(t.proto, t.proto.name(), payload);
      EXPECT_TRUE(values.ok()) << values.status();
      const uint64_t stream = StreamIdForName(t.proto.name());
      if (t.proto.data_type() == onnx::TensorProto::DOUBLE) {
        proto::Distribution orthogonal;
        orthogonal.set_kind(proto::Distribution::ORTHOGONAL);
        orthogonal.set_gain(1.5);
        FillJob job{*values, orthogonal, stream};
        job.shape = {40, 50};
        jobs.push_back(job);
      } else if (t.proto.dims_size() == 2) {
        jobs.push_back(FillJob{*values, UniformDistribution(-0.5, 0.5), stream, 0, 1998});
        jobs.push_back(FillJob{*values, NormalDistribution(0, 2), stream, 1998, 3996});
      } else {
        jobs.push_back(FillJob{*values, NormalDistribution(0.1, 0.02), stream});
      }
    }
    return jobs;
  }

  // `background` with the tensors' new values written over it, as Fill writes them.
  std::string Expected(std::string background) {
    Fill(Jobs(background.data()), kSeed, 1);
    return background;
  }

  std::string Read(const std::string& path) const {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  absl::Status Write(const std::string& path, const StreamedFillOptions& options, int flags = O_WRONLY) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    const absl::Status status = WriteFilled(Jobs(layout_.data()), layout_, fd, path, options);
    ::close(fd);
    return status;
  }

  testing::TempDir temp_;
  fs::path dir_ = temp_.path();
  std::string content_;
  std::vector<Tensor> tensors_;
  std::string layout_path_;
  MappedFile layout_;
};

TEST_F(StreamedFillTest, CopyingGapsWritesTheLayoutWithTheFilledValuesForAnyWindowAndThreads) {
  const std::string expected = Expected(content_);
  ASSERT_NE(expected, content_);
  for (int64_t window : {int64_t{1}, int64_t{100}, int64_t{4099}, int64_t{1} << 20}) {
    for (int threads : {1, 3}) {
      SCOPED_TRACE(::testing::Message() << "window " << window << ", threads " << threads);
      const std::string output = (dir_ / "out.bin").string();
      std::ofstream(output, std::ios::binary).flush();  // a new, empty file
      StreamedFillOptions options;
      options.seed = kSeed;
      options.threads = threads;
      options.window_bytes = window;
      options.copy_gaps = true;
      ASSERT_TRUE(Write(output, options).ok());
      EXPECT_TRUE(Read(output) == expected);
    }
  }
  EXPECT_EQ(Read(layout_path_), content_);  // the layout file is only read
}

TEST_F(StreamedFillTest, WithoutCopyingGapsOnlyTheTensorsBytesChange) {
  const std::string background(content_.size(), 'Z');
  const std::string output = (dir_ / "out.bin").string();
  std::ofstream(output, std::ios::binary) << background;
  StreamedFillOptions options;
  options.seed = kSeed;
  options.threads = 2;
  options.window_bytes = 5000;
  ASSERT_TRUE(Write(output, options).ok());
  EXPECT_TRUE(Read(output) == Expected(background));
}

TEST_F(StreamedFillTest, ProgressCountsTheTensorBytesUpToTheTotal) {
  int64_t tensor_bytes = 0;
  for (const Tensor& t : tensors_) tensor_bytes += static_cast<int64_t>(t.proto.raw_data().size());
  std::vector<std::pair<int64_t, int64_t>> calls;
  StreamedFillOptions options;
  options.window_bytes = 8192;
  options.copy_gaps = true;
  options.progress = [&](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  const std::string output = (dir_ / "out.bin").string();
  std::ofstream(output, std::ios::binary).flush();
  ASSERT_TRUE(Write(output, options).ok());
  ASSERT_GT(calls.size(), 3u);
  for (size_t k = 0; k < calls.size(); ++k) {
    EXPECT_EQ(calls[k].second, tensor_bytes);
    if (k > 0) {
      EXPECT_GE(calls[k].first, calls[k - 1].first);
    }
  }
  EXPECT_EQ(calls.back().first, tensor_bytes);
}

TEST_F(StreamedFillTest, AWriteErrorNamesTheOutput) {
  const std::string output = (dir_ / "out.bin").string();
  std::ofstream(output, std::ios::binary).flush();
  StreamedFillOptions options;
  options.copy_gaps = true;
  const absl::Status status = Write(output, options, O_RDONLY);  // writing fails: EBADF
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("cannot write " + output));
}

}  // namespace
}  // namespace onnx_reinit
