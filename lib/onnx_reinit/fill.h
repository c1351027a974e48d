// Writes fresh values into tensors, in parallel, reproducibly.
//
// Element i of a tensor is a pure function of (seed, the tensor's stream id, i): see rng.h. It does
// not depend on the thread count, the chunking, nor the CPU's SIMD instruction set. Float32,
// float16 and bfloat16 tensors draw 4 values from each Philox block, float64 tensors 2 (52-bit
// uniforms). Uniform values are low + u * (high - low); normal values are mean + std * z, z from
// Box-Muller on the block's pairs of uniforms. For the float-grade types both are computed in float
// arithmetic, z by BoxMullerWords (rng.h: this library's own log and sin/cos, in SIMD kernels that
// give the same bits on every CPU), then rounded to float16 / bfloat16 for those types; for float64
// in double (Box-Muller with the C library's log, sin and cos).
// Truncated normal values use one uniform each, like uniform ones, through the inverse CDF:
//   x = mean + std * Phi^-1(Phi(a) + u * (Phi(b) - Phi(a))),  a = (low - mean) / std, b = (high - mean) / std
// (computed in double for every type; mirrored when the cut lies above the mean, for accuracy).
// Values are rounded to the tensor's type (nearest, ties to even), and a uniform or truncated
// normal value that rounding pushes outside [low, high] is moved to the nearest representable
// value inside.
//
// Structured distributions need the region's shape (FillJob::shape):
//   ORTHOGONAL  the N(0, 1) values the normal scheme would draw for the region's elements (element
//               begin + r * cols + c is entry (r, c)), made orthogonal by MakeOrthogonal
//               (orthogonal.h) and scaled by gain. One QR per job: such a job is one task.
//   IDENTITY    gain where r == c, else 0 (2-D shape).
//   DIRAC       gain at the centre taps, else 0 (shape [out, in/groups, k...], FillJob::groups).
#ifndef ONNX_REINIT_FILL_H_
#define ONNX_REINIT_FILL_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
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
  int64_t end = -1;  // -1: the end of the tensor
  // The shape of the region [begin, end), row-major, for ORTHOGONAL, IDENTITY and DIRAC (ignored
  // by the other kinds); its product must be end - begin. E.g. a whole Conv W: its dims
  // {16, 4, 3, 3}; gate block k of an LSTM R [1, 4H, H]: begin = k*H*H, end = (k+1)*H*H, {H, H};
  // LSTM R [4H, H] as one matrix (Keras "whole"): {4H, H}. Orthogonal views it as
  // rows = shape[0] x cols = the product of the rest (torch's flattening); for Keras's
  // (leading dims flattened) pass {product of all but the last, last}.
  std::vector<int64_t> shape = {};  // (an initializer, so that FillJob{values, d, stream} does not warn)
  int64_t groups = 1;               // DIRAC: the consuming Conv's `group` attribute

  int64_t region_end() const { return end < 0 ? values.size() : end; }
};

// OK when `job` can be filled: 0 <= begin <= end <= size, and for the structured kinds a shape
// that covers the region and suits the kind (CheckShapeForScheme's rules and messages).
// InvalidArgument otherwise. Fill requires every job to pass.
absl::Status CheckFillJob(const FillJob& job);

// Computes elements [begin, end) of `job`'s tensor into out[0 .. end - begin), already rounded to
// the tensor's type. Pure: the same arguments always give the same values. For ORTHOGONAL it
// computes the whole region's matrix whatever [begin, end) is, so call it once per job there.
void SampleRange(const FillJob& job, uint64_t seed, int64_t begin, int64_t end, double* out);

// Computes elements [begin, end) of `job`'s tensor like SampleRange and stores them at `out` (any
// alignment) in the tensor's encoding (TensorValues::Encode), without writing the tensor itself: for
// writers that stream new values to a file. Produces exactly the bytes Fill would store there. An
// ORTHOGONAL job's matrix is computed whole at each call: give such a job in one piece.
void EncodeRange(const FillJob& job, uint64_t seed, int64_t begin, int64_t end, char* out);

// Fills every job. Big tensors are split into chunks and small ones batched, and chunks run on
// `threads` threads; each ORTHOGONAL job is one task (started first: they are the longest). The
// result does not depend on `threads`. Jobs must write disjoint elements, and each must pass
// CheckFillJob: Fill aborts, printing the error, on one that does not (a programming error).
void Fill(const std::vector<FillJob>& jobs, uint64_t seed, int threads);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_FILL_H_
