// In memory: the input is parsed as a ModelProto and re-initialized with Reinitialize under the
// scheme and policy its first bytes choose; then stats, verify and diff (the result against the
// input) read the result.
//
// Input: [flags] [scheme] [serialized ModelProto]
//   flags bit 0  --bias torch            bit 4  two fill threads instead of one
//         bit 1  --embedding scheme      bit 5  with statistics
//         bit 2  --rnn-recurrence scheme bit 6  --dry-run
//         bit 3  --lstm-forget-bias 1    bit 7  --convtranspose-fan input_channels
//   scheme       SchemeFromByte (every scheme, orthogonal, identity and dirac included)
//
// Every tensor's work is bounded by its payload, which the input holds: no size bound is needed
// here (a structured scheme on a tensor of n values costs at most n^1.5).
//
// Promises checked besides "no crash": on error (and on a dry run) the model is unchanged; a
// model compared with an identical copy of itself has no differences.
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "onnx_reinit/diff.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace onnx_reinit;
  using namespace onnx_reinit::fuzz;
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  onnx::ModelProto model;
  if (!model.ParseFromArray(data + 2, static_cast<int>(size - 2))) return 0;
  const std::string before = model.SerializeAsString();

  ReinitOptions options;
  options.policy.scheme = SchemeFromByte(data[1]);
  if (flags & 1) options.policy.bias = BiasInit::kTorch;
  if (flags & 2) options.policy.embedding = EmbeddingInit::kScheme;
  if (flags & 4) options.policy.recurrence = RecurrenceInit::kScheme;
  if (flags & 8) options.policy.lstm_forget_bias = 1;
  options.threads = flags & 16 ? 2 : 1;
  options.with_statistics = flags & 32;
  options.dry_run = flags & 64;
  options.analysis.convtranspose_input_channel_fans = flags & 128;

  auto report = Reinitialize(model, options);
  if ((!report.ok() || options.dry_run) && model.SerializeAsString() != before) {
    PromiseBroken("model unchanged on error or dry run", report.status().ToString());
  }

  StatsOptions stats;
  stats.threads = options.threads;
  stats.scheme = options.policy.scheme;
  stats.histogram_bins = 16;
  (void)ComputeModelStats(model, stats);

  VerifyOptions verify;
  verify.scheme = options.policy.scheme;
  verify.threads = options.threads;
  (void)VerifyModel(model, verify);

  onnx::ModelProto input;
  input.ParseFromString(before);
  (void)DiffModels(input, DetachedPayloads(), model, DetachedPayloads(), options.threads);
  onnx::ModelProto copy = model;
  auto same = DiffModels(copy, DetachedPayloads(), model, DetachedPayloads(), options.threads);
  if (same.ok() && same->differing() != 0) PromiseBroken("a model equals its copy", same->DebugString());
  return 0;
}
