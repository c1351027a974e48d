#include "fuzz/fuzz_support.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "absl/strings/str_cat.h"

namespace onnx_reinit::fuzz {

namespace fs = std::filesystem;

const std::string& ScratchFolder() {
  static const std::string* const folder = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/onnx_reinit_fuzz.XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) PromiseBroken("scratch folder", pattern);
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(ScratchFolder(), ignored);
    });
    return new std::string(pattern);
  }();
  return *folder;
}

void EmptyFolder(const std::string& folder) {
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) fs::remove_all(entry.path());
}

std::vector<std::string> FolderEntries(const std::string& folder) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    names.push_back(entry.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void WriteFile(const std::string& path, absl::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) PromiseBroken("scratch file written", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

SchemeOptions SchemeFromByte(uint8_t selector) {
  static const std::vector<std::string> names = SchemeNames();
  SchemeOptions scheme;
  scheme.kind = *ParseScheme(names[selector % names.size()]);
  if (scheme.kind == SchemeKind::kConstant) scheme.value = 0.5;
  return scheme;
}

int64_t DeclaredElements(const onnx::ModelProto& model) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  for (const onnx::TensorProto& tensor : model.graph().initializer()) {
    int64_t count = 1;
    for (const int64_t dim : tensor.dims()) {
      if (dim <= 0) {
        count = 0;
        break;
      }
      count = count > kMax / dim ? kMax : count * dim;
    }
    total = total > kMax - count ? kMax : total + count;
  }
  return total;
}

void PromiseBroken(absl::string_view promise, absl::string_view detail) {
  std::fprintf(stderr, "fuzz: %.*s broken: %.*s\n", static_cast<int>(promise.size()), promise.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace onnx_reinit::fuzz
