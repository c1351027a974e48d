#include "onnx_reinit/model_io.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "tests/testing/model_builder.h"
#include "tests/testing/temp_dir.h"

namespace onnx_reinit {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::LoadTestdata;
using testing::TestdataPath;

class TempDir : public ::testing::Test {
 protected:
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename());
    return names;
  }
  testing::TempDir temp_;
  fs::path dir_ = temp_.path();
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(LoadModel, MissingFileIsNotFoundAndNamesThePath) {
  auto model = LoadModel("/nonexistent/model.onnx");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("/nonexistent/model.onnx"));
}

TEST(LoadModel, RejectsFilesThatAreNotModels) {
  for (const char* file : {"malformed/empty.onnx", "malformed/not_a_model.onnx", "malformed/truncated.onnx"}) {
    auto model = LoadModel(TestdataPath(file));
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << file;
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(file));
    EXPECT_EQ(std::string(model.status().message()).find('\n'), std::string::npos);
  }
  EXPECT_EQ(LoadModel(TESTDATA_DIR).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseModel, GivesLoadModelsModelAndNamesTheBytesInErrors) {
  const std::string bytes = ReadFile(TestdataPath("torch_cnn.onnx"));
  auto parsed = ParseModel(bytes, "model");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->SerializeAsString(), LoadTestdata("torch_cnn.onnx").SerializeAsString());
  for (const char* file :
       {"malformed/not_a_model.onnx", "malformed/truncated.onnx", "malformed/duplicate_initializer.onnx"}) {
    auto refused = ParseModel(ReadFile(TestdataPath(file)), "in memory");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << file;
    EXPECT_THAT(std::string(refused.status().message()), ::testing::StartsWith("in memory: ")) << file;
    // The same message as LoadModel's, with the name in place of the path.
    const std::string loaded(LoadModel(TestdataPath(file)).status().message());
    EXPECT_EQ(std::string(refused.status().message()).substr(strlen("in memory")),
              loaded.substr(TestdataPath(file).size()))
        << file;
  }
}

TEST_F(TempDir, SaveThenLoadRoundTripsEveryField) {
  onnx::ModelProto model = LoadTestdata("constant_weights.onnx");
  model.mutable_unknown_fields()->AddVarint(9999, 42);  // a field from a newer onnx.proto
  const fs::path path = dir_ / "out.onnx";
  ASSERT_TRUE(SaveModel(model, path).ok());
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->SerializeAsString(), model.SerializeAsString());
  EXPECT_EQ(loaded->unknown_fields().field_count(), 1);
  EXPECT_EQ(Entries(), std::vector<std::string>{"out.onnx"});
}

TEST_F(TempDir, SaveReplacesAnExistingFileAndHonoursTheUmask) {
  const fs::path path = dir_ / "out.onnx";
  std::ofstream(path) << "old contents";
  const mode_t old_mask = ::umask(027);
  const absl::Status status = SaveModel(LoadTestdata("torch_cnn.onnx"), path);
  ::umask(old_mask);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(ReadFile(path), ReadFile(TestdataPath("torch_cnn.onnx")));
  struct stat info;
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0640u);
}

TEST_F(TempDir, FailedSaveLeavesNoFileBehind) {
  const absl::Status status = SaveModel(LoadTestdata("torch_cnn.onnx"), dir_ / "missing" / "o.onnx");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("missing/o.onnx"));
  EXPECT_TRUE(Entries().empty());
}

// The values of every float initializer, read through `payloads` where they are detached.
std::vector<std::vector<double>> InitializerValues(onnx::ModelProto& model, const DetachedPayloads& payloads) {
  std::vector<std::vector<double>> all;
  for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
    if (!FloatTypeOf(tensor.data_type())) continue;
    auto values = BindValues(tensor, tensor.name(), payloads);
    EXPECT_TRUE(values.ok()) << values.status();
    std::vector<double> read(values->size());
    values->Read(0, values->size(), read.data());
    all.push_back(read);
  }
  return all;
}

TEST(MappedModel, SeesTheSameModelAsLoadModelWithPayloadsInTheMapping) {
  for (const auto& [file, mode] : [] {
         std::vector<std::pair<const char*, MappedFile::Mode>> cases;
         for (const char* file :
              {"torch_cnn.onnx", "dtypes.onnx", "constant_weights.onnx", "int_and_shape.onnx", "torch_dcgan.onnx"}) {
           for (MappedFile::Mode mode :
                {MappedFile::Mode::kRead, MappedFile::Mode::kReadLazy, MappedFile::Mode::kReadSparse}) {
             cases.emplace_back(file, mode);
           }
         }
         return cases;
       }()) {
    auto mapped = MappedModel::Open(TestdataPath(file), mode);
    ASSERT_TRUE(mapped.ok()) << mapped.status();
    onnx::ModelProto loaded = LoadTestdata(file);
    EXPECT_EQ(InitializerValues(mapped->model(), mapped->payloads()), InitializerValues(loaded, DetachedPayloads()))
        << file;
    // Apart from the detached value fields, the two parses agree field for field.
    for (onnx::TensorProto& tensor : *loaded.mutable_graph()->mutable_initializer()) {
      for (const auto& [detached_tensor, payload] : mapped->payloads().by_tensor) {
        if (detached_tensor->name() != tensor.name()) continue;
        if (payload.storage == Storage::kRawData) tensor.clear_raw_data();
        if (payload.storage == Storage::kFloatData) tensor.clear_float_data();
        if (payload.storage == Storage::kDoubleData) tensor.clear_double_data();
      }
    }
    EXPECT_EQ(mapped->model().SerializeAsString(), loaded.SerializeAsString()) << file;
  }
}

TEST(MappedModel, DetachesRawAndPackedValuesButNotVarints) {
  auto mapped = MappedModel::Open(TestdataPath("dtypes.onnx"));
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  std::map<std::string, Storage> detached;
  for (const auto& [tensor, payload] : mapped->payloads().by_tensor) {
    detached[tensor->name()] = payload.storage;
  }
  EXPECT_EQ(detached.at("w_f32_raw"), Storage::kRawData);
  EXPECT_EQ(detached.at("w_f32_float_data"), Storage::kFloatData);
  EXPECT_EQ(detached.at("w_f64_double_data"), Storage::kDoubleData);
  EXPECT_EQ(detached.at("w_f16_raw"), Storage::kRawData);
  EXPECT_EQ(detached.count("w_f16_int32_data"), 0u);  // varints cannot be read in place
}

// The resident size (Rss in /proc/self/smaps, in bytes) of the mapping that holds `address`.
int64_t ResidentBytesOfMapping(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<uintptr_t>(address);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find(" Rss:") == std::string::npos) {
      inside = begin <= at && at < end;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      return std::stoll(line.substr(4)) * 1024;
    }
  }
  return -1;
}

// Re-initialization parses a model mapped kReadSparse and never reads the weights it replaces:
// they must not become resident (the page cache holds a file written in one go in large folios,
// and reading any byte of one through a mapping maps all of it).
TEST_F(TempDir, SparseMappingKeepsLargeValuesOutOfResidentMemory) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  for (int i = 0; i < 4; ++i) {
    onnx::TensorProto& tensor = *model.mutable_graph()->add_initializer();
    tensor.set_name("big" + std::to_string(i));
    tensor.set_data_type(onnx::TensorProto::FLOAT);
    tensor.add_dims(1 << 20);
    tensor.set_raw_data(std::string(4 << 20, static_cast<char>(i + 1)));
  }
  const fs::path path = dir_ / "big_values.onnx";
  std::ofstream(path, std::ios::binary) << model.SerializeAsString();
  ReadFile(path);  // in the page cache, as a model just written or read is

  auto mapped = MappedModel::Open(path, MappedFile::Mode::kReadSparse);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  const int64_t resident = ResidentBytesOfMapping(mapped->file().data());
  EXPECT_GE(resident, 0);
  EXPECT_LT(resident, int64_t{1} << 20) << "of a " << mapped->file().size() << "-byte file";
  // The values are still there to read.
  for (const auto& [tensor, payload] : mapped->payloads().by_tensor) {
    if (tensor->name().rfind("big", 0) != 0) continue;
    EXPECT_EQ(payload.data[payload.size - 1], static_cast<char>(tensor->name()[3] - '0' + 1)) << tensor->name();
  }
}

TEST(MappedModel, RejectsFilesThatAreNotModelsLikeLoadModel) {
  for (const char* file : {"malformed/empty.onnx", "malformed/not_a_model.onnx", "malformed/truncated.onnx"}) {
    auto mapped = MappedModel::Open(TestdataPath(file));
    ASSERT_FALSE(mapped.ok()) << file;
    EXPECT_EQ(mapped.status().message(), LoadModel(TestdataPath(file)).status().message());
  }
  EXPECT_EQ(MappedModel::Open("/nonexistent.onnx").status().code(), absl::StatusCode::kNotFound);
}

// Groups (wire types 3 and 4) are not in onnx.proto, but protobuf's parser keeps one as an unknown
// field; the mapped parse must accept and refuse exactly what it does.
TEST_F(TempDir, MappedModelKeepsUnknownGroupsLikeLoadModel) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  auto add_group = [](google::protobuf::Message& message, int number) {
    auto* unknown = message.GetReflection()->MutableUnknownFields(&message);
    auto* group = unknown->AddGroup(number);
    group->AddVarint(14, 114);
    group->AddFixed64(12, 0x696e695f65730b12);
    group->AddGroup(1)->AddLengthDelimited(2, "nested");
  };
  add_group(model, 99);
  add_group(*model.mutable_graph(), 14);                         // the field number of quantization_annotation
  add_group(*model.mutable_graph()->mutable_initializer(0), 9);  // ... and of raw_data
  const fs::path path = dir_ / "groups.onnx";
  std::ofstream(path, std::ios::binary) << model.SerializeAsString();

  auto loaded = LoadModel(path);
  auto mapped = MappedModel::Open(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(InitializerValues(mapped->model(), mapped->payloads()), InitializerValues(*loaded, DetachedPayloads()));
  const onnx::GraphProto& graph = mapped->model().graph();
  EXPECT_EQ(graph.GetReflection()->GetUnknownFields(graph).field_count(), 1);
}

TEST_F(TempDir, MappedModelRefusesMalformedGroupsLikeLoadModel) {
  const std::string model = LoadTestdata("torch_cnn.onnx").SerializeAsString();
  const std::string deep = std::string(150, '\x0b') + std::string(150, '\x0c');  // field 1 groups
  for (const auto& [name, tail] : std::map<std::string, std::string>{
           {"end_without_start", "\x74"},         // end group 14
           {"end_of_another_group", "\x73\x7c"},  // start group 14, end group 15
           {"never_ended", "\x73\x08\x01"},       // start group 14, a varint, then the file ends
           {"nested_past_the_limit", deep}}) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << model << tail;
    auto mapped = MappedModel::Open(path);
    ASSERT_FALSE(mapped.ok()) << name;
    EXPECT_EQ(mapped.status().message(), LoadModel(path).status().message()) << name;
  }
}

// Nesting just under, at and past protobuf's limit of 100 levels, at each depth the mapped parse
// handles apart (the graph, an initializer) and in nested types: both parses agree on every file.
TEST_F(TempDir, MappedModelAndLoadModelAgreeOnNestingAtProtobufsLimit) {
  const onnx::ModelProto base = LoadTestdata("torch_cnn.onnx");
  auto nested_groups = [](google::protobuf::Message& message, int levels) {
    google::protobuf::UnknownFieldSet* fields = message.GetReflection()->MutableUnknownFields(&message);
    for (int level = 0; level < levels; ++level) fields = fields->AddGroup(1);
  };
  for (int levels = 94; levels <= 101; ++levels) {
    onnx::ModelProto graph_groups = base;
    nested_groups(*graph_groups.mutable_graph(), levels);
    onnx::ModelProto initializer_groups = base;
    nested_groups(*initializer_groups.mutable_graph()->mutable_initializer(0), levels);
    onnx::ModelProto nested_types = base;  // an input typed sequence(sequence(...(float)))
    onnx::TypeProto* type = nested_types.mutable_graph()->mutable_input(0)->mutable_type();
    for (int level = 0; level < levels / 2; ++level) type = type->mutable_sequence_type()->mutable_elem_type();
    type->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    for (const auto& [name, model] :
         {std::pair{"graph_groups", &graph_groups}, std::pair{"initializer_groups", &initializer_groups},
          std::pair{"nested_types", &nested_types}}) {
      const fs::path path = dir_ / name;
      std::ofstream(path, std::ios::binary | std::ios::trunc) << model->SerializeAsString();
      const absl::Status loaded = LoadModel(path).status();
      const absl::Status mapped = MappedModel::Open(path).status();
      EXPECT_EQ(mapped, loaded) << name << " nested " << levels;
      if (levels == 94) {  // the range spans the limit
        EXPECT_TRUE(loaded.ok()) << loaded;
      } else if (levels == 101) {
        EXPECT_FALSE(loaded.ok()) << name;
      }
    }
  }
}

TEST_F(TempDir, FilesOverProtobufsTwoGibLimitAreRefusedBeforeReading) {
  const fs::path big = dir_ / "big.onnx";
  std::ofstream(big).close();
  fs::resize_file(big, (uint64_t{1} << 31) + 1);  // sparse: costs no disk space
  for (const absl::Status& status : {LoadModel(big).status(), MappedModel::Open(big).status()}) {
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("over protobuf's 2 GiB limit for one message"));
  }
}

TEST(CheckModel, AcceptsValidModels) {
  for (const char* file : {"torch_cnn.onnx", "constant_weights.onnx", "dtypes.onnx"}) {
    EXPECT_TRUE(CheckModel(LoadTestdata(file)).ok()) << file;
  }
}

TEST(CheckModel, RejectsAnInvalidModelWithTheCheckersMessage) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  model.mutable_graph()->mutable_node(0)->set_op_type("NoSuchOp");
  const absl::Status status = CheckModel(model);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("NoSuchOp"));
}

TEST(CheckModel, NewerIrVersionIsUnimplementedNotInvalid) {
  onnx::ModelProto model = LoadTestdata("torch_cnn.onnx");
  model.set_ir_version(10);
  EXPECT_EQ(CheckModel(model).code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace onnx_reinit
