// Runs of Reinitialize and lookups in their report, for the tests of reinit and --requantize.
#ifndef ONNX_REINIT_TESTS_TESTING_REINIT_REPORT_H_
#define ONNX_REINIT_TESTS_TESTING_REINIT_REPORT_H_

#include <cstdint>
#include <string>

#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/reinit.h"

namespace onnx_reinit::testing {

// Reinitializes `model`; a test failure and an empty report when that fails.
inline proto::ReinitReport ReinitOk(onnx::ModelProto& model, const ReinitOptions& options) {
  auto report = Reinitialize(model, options);
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : proto::ReinitReport();
}

// Options that draw `scheme` with `threads` and `seed` and requantize the quantized tensors.
inline ReinitOptions Requantizing(int threads = 2, uint64_t seed = 7, SchemeKind scheme = SchemeKind::kHeNormal) {
  ReinitOptions options;
  options.policy.scheme.kind = scheme;
  options.threads = threads;
  options.seed = seed;
  options.requantize = true;
  return options;
}

// The report's record of the requantized tensor `name`; a test failure and null when there is none.
inline const proto::RequantizedTensor* FindRequantized(const proto::ReinitReport& report, const std::string& name) {
  for (const proto::RequantizedTensor& record : report.requantized()) {
    if (record.name() == name) return &record;
  }
  ADD_FAILURE() << "not requantized: " << name;
  return nullptr;
}

// The report's entry for the skipped tensor `name`; a test failure and null when there is none.
inline const proto::SkippedTensor* FindSkipped(const proto::ReinitReport& report, const std::string& name) {
  for (const proto::SkippedTensor& skipped : report.skipped()) {
    if (skipped.name() == name) return &skipped;
  }
  ADD_FAILURE() << "not skipped: " << name;
  return nullptr;
}

}  // namespace onnx_reinit::testing

#endif  // ONNX_REINIT_TESTS_TESTING_REINIT_REPORT_H_
