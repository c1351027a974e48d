// Which stored element each element of a view is: the exact bookkeeping behind weights that reach
// their op as pieces (Slice, Split, Concat, Gather with constant indices) or re-viewed (Transpose,
// Reshape, ...).
//
// A view is the tensor an op reads, of shape `shape`; every element of it is one element of one
// stored constant (a "source"). The map is a list of pieces, each a box of the view whose elements
// are a strided block of one source:
//
//   view element  start + (i_0, ..., i_{r-1}),  0 <= i_d < extent[d]
//   is element    origin + sum_d i_d * stride[d]   (flat, row-major) of source `source`
//
// Strides may be negative (a Slice with a negative step) and are 0 along axes of extent 1. This is
// numpy's strided-array model, per piece: a chain of re-viewing ops on one tensor stays one piece
// whatever the tensor's size, a Concat of k pieces is k pieces, and a Gather of runs of consecutive
// indices a piece per run. Every operation below is exact; where the result would not be (a
// Reshape that would cut the pieces into more than kMaxPieces), it fails with the reason.
//
// The operations follow the ONNX definitions of the ops they model (Operators.md): Slice's
// negative and out-of-range starts/ends (clamped per the sign of the step), Split's sizes, Gather's
// negative indices and output shape, Concat's axis.
#ifndef ONNX_REINIT_ELEMENT_MAP_H_
#define ONNX_REINIT_ELEMENT_MAP_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace onnx_reinit {

struct Piece {
  int source = 0;               // index into ElementMap::sources
  std::vector<int64_t> start;   // the box's first view coordinate, per view axis
  std::vector<int64_t> extent;  // the box's size per view axis (each >= 1)
  int64_t origin = 0;           // the source element at `start`
  std::vector<int64_t> stride;  // source elements per step along each view axis

  int64_t count() const;
};

// A stored constant a view reads, and the ops on the way from it to the reader.
struct MappedSource {
  std::string name;
  std::vector<int64_t> dims;      // the source's own shape
  std::vector<std::string> path;  // op types from the source towards the reader, e.g. Slice, Concat
};

struct ElementMap {
  std::vector<int64_t> shape;  // the view's shape
  std::vector<MappedSource> sources;
  std::vector<Piece> pieces;  // disjoint boxes that together cover the view exactly

  // The map of a stored tensor read as it is: one piece, row-major strides.
  static ElementMap Whole(std::string name, std::vector<int64_t> dims);
};

// An upper bound on the pieces of one map; an operation that would exceed it fails.
inline constexpr int64_t kMaxPieces = int64_t{1} << 20;

// The view with its axes permuted: output axis j is input axis perm[j] (a permutation of the rank).
absl::StatusOr<ElementMap> TransposeMap(const ElementMap& map, const std::vector<int64_t>& perm);

// The same elements in row-major order under a new shape of the same element count (Reshape,
// Flatten, Squeeze, Unsqueeze).
absl::StatusOr<ElementMap> ReshapeMap(const ElementMap& map, const std::vector<int64_t>& shape);

// One axis of a Slice: the elements start, start + step, ... (`count` of them) along `axis`; the
// ONNX starts/ends/steps already resolved by ResolveSliceAxis.
struct AxisSelection {
  int64_t axis = 0;
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};

// ONNX Slice on one axis of size `dim`: negative start/end count from the end, then both are
// clamped to [0, dim] for a positive step and to [0, dim - 1] / [-1, dim - 1] for a negative one;
// the result holds max(0, ceil((end - start) / step)) elements. InvalidArgument for step 0.
absl::StatusOr<AxisSelection> ResolveSliceAxis(int64_t axis, int64_t dim, int64_t start, int64_t end, int64_t step);

// Selects along each listed axis (axes distinct, in range).
absl::StatusOr<ElementMap> SliceMap(const ElementMap& map, const std::vector<AxisSelection>& axes);

// The views concatenated along `axis` (negative counts from the end); their shapes must agree on
// every other axis. Sources are merged by name; a source keeps the path of its first view.
absl::StatusOr<ElementMap> ConcatMaps(const std::vector<ElementMap>& maps, int64_t axis);

// ONNX Gather: output shape shape[:axis] + indices_shape + shape[axis+1:], picking the slices at
// `indices` (flat, row-major over indices_shape; negative ones count from the end).
absl::StatusOr<ElementMap> GatherMap(const ElementMap& map, int64_t axis, const std::vector<int64_t>& indices,
                                     const std::vector<int64_t>& indices_shape);

// The parts of `map`'s pieces inside the view box [start, start + extent): clipped pieces, with
// view coordinates unchanged.
std::vector<Piece> PiecesInBox(const ElementMap& map, const std::vector<int64_t>& start,
                               const std::vector<int64_t>& extent);

// The view box that the row-major element range [begin, end) of `shape` is, as (start, extent), or
// false when that range is not a box (it wraps around an axis).
bool RangeAsBox(const std::vector<int64_t>& shape, int64_t begin, int64_t end, std::vector<int64_t>& start,
                std::vector<int64_t>& extent);

// The source elements a piece covers, as sorted, merged ranges [begin, end).
std::vector<std::pair<int64_t, int64_t>> SourceRanges(const Piece& piece);

// How a piece lies in its source when it is one contiguous block that holds, in row-major order,
// the matrix of shape `block_shape` (the piece's count of elements) that the view sees: sets the
// block's first source element and the shape to write it with, `block_shape` itself. With
// `allow_transposed`, a 2-D block stored transposed is accepted too (then the shape is the
// transposed one: a matrix is orthogonal, or an identity, exactly when its transpose is). False
// when the piece's elements are not such a block.
bool ContiguousBlock(const Piece& piece, const std::vector<int64_t>& block_shape, bool allow_transposed, int64_t& begin,
                     std::vector<int64_t>& shape);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_ELEMENT_MAP_H_
