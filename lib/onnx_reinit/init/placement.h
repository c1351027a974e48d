// Places regions planned over the view a reader sees (RNN gate blocks, the LSTM forget block) in
// the elements of a tensor that reaches the reader as pieces or re-viewed (roles.h, element_map.h).
//
// PyTorch exports an LSTM's weight_hh [4H, H] in its gate order i, f, g, o, Slices it and Concats
// the slices in ONNX's order i, o, f, c: ONNX's gate block 1 (o) is rows [3H, 4H) of the stored
// tensor. A region the policy gives gate block 1 is written there, so that the block the LSTM sees
// gets it: an orthogonal block is orthogonal as the LSTM sees it, and the forget bias lands on the
// stored rows of torch's f gate.
//
// Regions of distributions that do not depend on the shape (constant, uniform, normal, truncated
// normal) are placed element by element, as whatever source ranges they cover. An orthogonal or
// identity block must be one contiguous block of the tensor, in the order the reader sees it or (a
// matrix) transposed; dirac blocks in the reader's order. When every region has the same
// shape-independent distribution, the whole tensor gets it (so elements no reader sees, and those
// a view repeats, are covered too). Otherwise the view must read every element of the tensor
// exactly once; when it does not, or a structured block is not such a block, the result is an
// error whose message says why: the tensor is then left unchanged, never guessed.
#ifndef ONNX_REINIT_INIT_PLACEMENT_H_
#define ONNX_REINIT_INIT_PLACEMENT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_reinit/policy.h"
#include "onnx_reinit/roles.h"

namespace onnx_reinit {

// Whether the distribution's values depend on the shape of the block it fills (orthogonal,
// identity, dirac): such a block must be one contiguous block of the tensor.
bool DependsOnShape(const proto::Distribution& distribution);

// `view_regions` cover the reader's view (row-major ranges of use.view_shape, with their shapes);
// `count` is the tensor's element count. The result is sorted by `begin`, disjoint, and covers
// the tensor; adjacent ranges with the same shape-independent distribution are joined.
absl::StatusOr<std::vector<PlannedRegion>> PlaceRegions(const TensorUse& use, int64_t count,
                                                        const std::vector<PlannedRegion>& view_regions);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_INIT_PLACEMENT_H_
