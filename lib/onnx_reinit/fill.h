// Writes fresh values into tensors, in parallel, reproducibly.
//
// Element i of a tensor is a pure function of (seed, the tensor's stream id, i): see rng.h. Float32,
// float16 and bfloat16 tensors draw 4 values from each Philox block, float64 tensors 2 (52-bit
// uniforms). Uniform values are low + u * (high - low); normal values come from Box-Muller pairs.
// Values are rounded to the tensor's type (nearest, ties to even), and a uniform value that rounding
// pushes outside [low, high] is moved to the nearest representable value inside.
#ifndef ONNX_REINIT_FILL_H_
#define ONNX_REINIT_FILL_H_

#include <cstdint>
#include <vector>

#include "onnx_reinit/report.pb.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit {

// Fills elements [begin, end) of a tensor - all of it by default, or a region such as one gate
// block of an RNN weight. Element indices (and so the random stream) are the tensor's own, so a
// region holds the same values as the same elements of a whole-tensor fill.
struct FillJob {
  TensorValues values;
  proto::Distribution distribution;
  uint64_t stream = 0;  // StreamIdForName(tensor name)
  int64_t begin = 0;
  int64_t end = -1;     // -1: the end of the tensor

  int64_t region_end() const { return end < 0 ? values.size() : end; }
};

// Computes elements [begin, end) of `job`'s tensor into out[0 .. end - begin), already rounded to
// the tensor's type. Pure: the same arguments always give the same values.
void SampleRange(const FillJob& job, uint64_t seed, int64_t begin, int64_t end, double* out);

// Fills every job. Big tensors are split into chunks and small ones batched, and chunks run on
// `threads` threads; the result does not depend on `threads`.
void Fill(const std::vector<FillJob>& jobs, uint64_t seed, int threads);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_FILL_H_
