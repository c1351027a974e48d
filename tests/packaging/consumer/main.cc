// consumer IN.onnx OUT.onnx: re-initializes IN with He and seed 7, as `onnx-reinit IN --scheme he
// --seed 7 -o OUT` does.
#include <iostream>

#include "onnx_reinit/options.h"
#include "onnx_reinit/rewrite.h"
#include "onnx_reinit/version.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  onnx_reinit::proto::Recipe recipe;
  recipe.set_scheme("he");
  recipe.set_seed(7);
  auto options = onnx_reinit::ToRewriteOptions(recipe);
  auto report = options.ok() ? onnx_reinit::ReinitializeFile(argv[1], argv[2], *options) : options.status();
  if (!report.ok()) {
    std::cerr << report.status().message() << "\n";
    return 1;
  }
  std::cout << "onnx_reinit " << onnx_reinit::kVersion << ": " << report->tensors_size() << " tensors\n";
}
