#include "onnx_reinit/element_map.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace onnx_reinit {
namespace {

using Shape = std::vector<int64_t>;

std::string ShapeText(const Shape& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

// The product of `dims`, or false on overflow or a negative dim.
bool CheckedProduct(const Shape& dims, int64_t& product) {
  product = 1;
  for (int64_t dim : dims) {
    if (dim < 0 || __builtin_mul_overflow(product, dim, &product)) return false;
  }
  return true;
}

Shape RowMajorStrides(const Shape& shape) {
  Shape strides(shape.size(), 0);
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = shape[d] == 1 ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

void ZeroUnitStrides(Piece& piece) {
  for (size_t d = 0; d < piece.extent.size(); ++d) {
    if (piece.extent[d] == 1) piece.stride[d] = 0;
  }
}

int64_t FloorDiv(int64_t a, int64_t b) {  // b > 0
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}
int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }  // b > 0

// Whether a piece's source elements run row-major over its box (ignoring axes of extent 1).
bool IsRowMajor(const Piece& piece) {
  int64_t expected = 1;
  for (size_t d = piece.extent.size(); d-- > 0;) {
    if (piece.extent[d] == 1) continue;
    if (piece.stride[d] != expected) return false;
    expected *= piece.extent[d];
  }
  return true;
}

bool CoversWholeView(const ElementMap& map) {
  if (map.pieces.size() != 1) return false;
  const Piece& piece = map.pieces[0];
  for (size_t d = 0; d < map.shape.size(); ++d) {
    if (piece.start[d] != 0 || piece.extent[d] != map.shape[d]) return false;
  }
  return true;
}

Shape NonUnit(const Shape& shape) {
  Shape out;
  for (int64_t dim : shape) {
    if (dim != 1) out.push_back(dim);
  }
  return out;
}

// Pieces that are neighbours along `axis` with compatible strides become one.
bool MergeAlong(std::vector<Piece>& pieces, size_t axis) {
  auto key = [axis](const Piece& p) {
    Shape start = p.start, extent = p.extent, stride = p.stride;
    start[axis] = extent[axis] = stride[axis] = 0;
    return std::make_tuple(p.source, start, extent, stride);
  };
  std::sort(pieces.begin(), pieces.end(), [&](const Piece& a, const Piece& b) {
    const auto ka = key(a), kb = key(b);
    if (ka != kb) return ka < kb;
    return a.start[axis] < b.start[axis];
  });
  std::vector<Piece> merged;
  bool changed = false;
  for (Piece& piece : pieces) {
    if (!merged.empty()) {
      Piece& last = merged.back();
      if (key(last) == key(piece) && last.start[axis] + last.extent[axis] == piece.start[axis]) {
        const int64_t step = last.extent[axis] > 1    ? last.stride[axis]
                             : piece.extent[axis] > 1 ? piece.stride[axis]
                                                      : piece.origin - last.origin;
        const bool strides_fit = (last.extent[axis] == 1 || last.stride[axis] == step) &&
                                 (piece.extent[axis] == 1 || piece.stride[axis] == step);
        if (strides_fit && step != 0 && piece.origin == last.origin + last.extent[axis] * step) {
          last.extent[axis] += piece.extent[axis];
          last.stride[axis] = step;
          changed = true;
          continue;
        }
      }
    }
    merged.push_back(std::move(piece));
  }
  pieces = std::move(merged);
  return changed;
}

void MergePieces(ElementMap& map) {
  if (map.pieces.size() < 2) return;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t axis = map.shape.size(); axis-- > 0;) changed |= MergeAlong(map.pieces, axis);
  }
}

absl::Status TooFragmented(absl::string_view what) {
  return absl::OutOfRangeError(absl::StrFormat("%s would cut the view into more than %d pieces", what, kMaxPieces));
}

}  // namespace

int64_t Piece::count() const {
  int64_t n = 1;
  for (int64_t e : extent) n *= e;
  return n;
}

ElementMap ElementMap::Whole(std::string name, std::vector<int64_t> dims) {
  ElementMap map;
  map.shape = dims;
  int64_t count;
  if (CheckedProduct(dims, count) && count > 0) {
    Piece piece;
    piece.start.assign(dims.size(), 0);
    piece.extent = dims;
    piece.stride = RowMajorStrides(dims);
    map.pieces.push_back(std::move(piece));
  }
  map.sources.push_back(MappedSource{std::move(name), std::move(dims), {}});
  return map;
}

absl::StatusOr<ElementMap> TransposeMap(const ElementMap& map, const std::vector<int64_t>& perm) {
  const size_t rank = map.shape.size();
  std::vector<bool> seen(rank, false);
  if (perm.size() != rank) return absl::InvalidArgumentError("Transpose perm does not fit the tensor's rank");
  for (int64_t axis : perm) {
    if (axis < 0 || axis >= static_cast<int64_t>(rank) || seen[axis]) {
      return absl::InvalidArgumentError("Transpose perm is not a permutation of the axes");
    }
    seen[axis] = true;
  }
  auto permute = [&](const Shape& v) {
    Shape out(rank);
    for (size_t j = 0; j < rank; ++j) out[j] = v[perm[j]];
    return out;
  };
  ElementMap out;
  out.shape = permute(map.shape);
  out.sources = map.sources;
  for (const Piece& piece : map.pieces) {
    out.pieces.push_back(
        Piece{piece.source, permute(piece.start), permute(piece.extent), piece.origin, permute(piece.stride)});
  }
  return out;
}

absl::StatusOr<ElementMap> ReshapeMap(const ElementMap& map, const std::vector<int64_t>& shape) {
  int64_t old_count, new_count;
  if (!CheckedProduct(map.shape, old_count) || !CheckedProduct(shape, new_count) || old_count != new_count) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot reshape %s to %s", ShapeText(map.shape), ShapeText(shape)));
  }
  ElementMap out;
  out.shape = shape;
  out.sources = map.sources;
  if (NonUnit(map.shape) == NonUnit(shape)) {  // only axes of size 1 come or go
    for (const Piece& piece : map.pieces) {
      Piece moved{piece.source, {}, {}, piece.origin, {}};
      size_t from = 0;
      for (int64_t dim : shape) {
        while (from < map.shape.size() && map.shape[from] == 1) ++from;
        if (dim == 1) {
          moved.start.push_back(0);
          moved.extent.push_back(1);
          moved.stride.push_back(0);
        } else {
          moved.start.push_back(piece.start[from]);
          moved.extent.push_back(piece.extent[from]);
          moved.stride.push_back(piece.stride[from]);
          ++from;
        }
      }
      out.pieces.push_back(std::move(moved));
    }
    return out;
  }
  if (CoversWholeView(map) && IsRowMajor(map.pieces[0])) {
    out.pieces.push_back(
        Piece{map.pieces[0].source, Shape(shape.size(), 0), shape, map.pieces[0].origin, RowMajorStrides(shape)});
    return out;
  }
  // In general: cut every piece into its rows (runs along its last axis), cut the runs where the
  // new shape's rows end, and merge the results back into boxes.
  const Shape old_strides = RowMajorStrides(map.shape);
  const int64_t new_row = shape.empty() ? 1 : shape.back();
  int64_t budget = kMaxPieces;
  for (const Piece& piece : map.pieces) {
    const size_t rank = piece.extent.size();
    const int64_t run = rank == 0 ? 1 : piece.extent.back();
    const int64_t run_stride = rank == 0 ? 0 : piece.stride.back();
    const int64_t rows = piece.count() / run;
    if ((budget -= rows) < 0) return TooFragmented("this Reshape");
    Shape index(rank, 0);  // over all axes but the last
    for (int64_t row = 0; row < rows; ++row) {
      int64_t flat = 0, origin = piece.origin;
      for (size_t d = 0; d < rank; ++d) {
        flat += (piece.start[d] + index[d]) * (map.shape[d] == 1 ? 0 : old_strides[d]);
        origin += index[d] * piece.stride[d];
      }
      for (int64_t at = flat; at < flat + run;) {
        const int64_t end = std::min(flat + run, (at / new_row + 1) * new_row);
        Piece cut{piece.source, Shape(shape.size(), 0), Shape(shape.size(), 1), origin + (at - flat) * run_stride,
                  Shape(shape.size(), 0)};
        for (int64_t rest = at, d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
          cut.start[d] = rest % shape[d];
          rest /= shape[d];
        }
        if (!shape.empty()) {
          cut.extent.back() = end - at;
          cut.stride.back() = end - at > 1 ? run_stride : 0;
        }
        if (--budget < 0) return TooFragmented("this Reshape");
        out.pieces.push_back(std::move(cut));
        at = end;
      }
      for (size_t d = rank > 0 ? rank - 1 : 0; d-- > 0;) {  // next row: odometer over the axes before the last
        if (++index[d] < piece.extent[d]) break;
        index[d] = 0;
      }
    }
  }
  MergePieces(out);
  return out;
}

absl::StatusOr<AxisSelection> ResolveSliceAxis(int64_t axis, int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (step == 0) return absl::InvalidArgumentError("Slice step is 0");
  AxisSelection selection{axis, 0, step, 0};
  if (dim <= 0) return selection;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    selection.count = end > start ? CeilDiv(end - start, step) : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    selection.count = start > end ? CeilDiv(start - end, -step) : 0;
  }
  selection.start = start;
  return selection;
}

absl::StatusOr<ElementMap> SliceMap(const ElementMap& map, const std::vector<AxisSelection>& axes) {
  ElementMap out = map;
  std::vector<bool> seen(map.shape.size(), false);
  for (const AxisSelection& selection : axes) {
    const int64_t axis = selection.axis;
    if (axis < 0 || axis >= static_cast<int64_t>(map.shape.size()) || seen[axis]) {
      return absl::InvalidArgumentError("Slice axes repeat or fall outside the rank");
    }
    seen[axis] = true;
    const int64_t a = selection.start, t = selection.step, c = selection.count;
    if (c < 0 || t == 0) return absl::InvalidArgumentError("bad Slice selection");
    out.shape[axis] = c;
    std::vector<Piece> kept;
    for (Piece& piece : out.pieces) {
      const int64_t s = piece.start[axis], e = piece.extent[axis];
      int64_t lo, hi;  // the selection's k with a + k*t inside [s, s + e)
      if (t > 0) {
        lo = CeilDiv(s - a, t);
        hi = FloorDiv(s + e - 1 - a, t);
      } else {
        lo = CeilDiv(a - (s + e - 1), -t);
        hi = FloorDiv(a - s, -t);
      }
      lo = std::max<int64_t>(lo, 0);
      hi = std::min<int64_t>(hi, c - 1);
      if (lo > hi) continue;
      piece.origin += (a + lo * t - s) * piece.stride[axis];
      piece.start[axis] = lo;
      piece.extent[axis] = hi - lo + 1;
      piece.stride[axis] *= t;
      ZeroUnitStrides(piece);
      kept.push_back(std::move(piece));
    }
    out.pieces = std::move(kept);
  }
  return out;
}

absl::StatusOr<ElementMap> ConcatMaps(const std::vector<ElementMap>& maps, int64_t axis) {
  if (maps.empty()) return absl::InvalidArgumentError("Concat has no inputs");
  const int64_t rank = static_cast<int64_t>(maps[0].shape.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return absl::InvalidArgumentError("Concat axis is out of range");
  ElementMap out;
  out.shape = maps[0].shape;
  out.shape[axis] = 0;
  for (const ElementMap& map : maps) {
    Shape expected = out.shape, got = map.shape;
    if (static_cast<int64_t>(got.size()) != rank) {
      return absl::InvalidArgumentError("Concat inputs differ in rank");
    }
    expected[axis] = got[axis] = 0;
    if (expected != got) {
      return absl::InvalidArgumentError(absl::StrFormat("Concat inputs %s and %s differ off the axis",
                                                        ShapeText(maps[0].shape), ShapeText(map.shape)));
    }
    std::vector<int> index;
    for (const MappedSource& source : map.sources) {
      auto it = std::find_if(out.sources.begin(), out.sources.end(),
                             [&](const MappedSource& s) { return s.name == source.name; });
      index.push_back(static_cast<int>(it - out.sources.begin()));
      if (it == out.sources.end()) out.sources.push_back(source);
    }
    for (Piece piece : map.pieces) {
      piece.source = index[piece.source];
      piece.start[axis] += out.shape[axis];
      out.pieces.push_back(std::move(piece));
    }
    if (__builtin_add_overflow(out.shape[axis], map.shape[axis], &out.shape[axis])) {
      return absl::InvalidArgumentError("Concat output is too large");
    }
  }
  if (static_cast<int64_t>(out.pieces.size()) > kMaxPieces) return TooFragmented("this Concat");
  MergePieces(out);
  return out;
}

absl::StatusOr<ElementMap> GatherMap(const ElementMap& map, int64_t axis, const std::vector<int64_t>& indices,
                                     const std::vector<int64_t>& indices_shape) {
  const int64_t rank = static_cast<int64_t>(map.shape.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return absl::InvalidArgumentError("Gather axis is out of range");
  int64_t count;
  if (!CheckedProduct(indices_shape, count) || count != static_cast<int64_t>(indices.size())) {
    return absl::InvalidArgumentError("Gather indices do not fit their shape");
  }
  const int64_t dim = map.shape[axis];
  if (static_cast<double>(indices.size()) * static_cast<double>(map.pieces.size()) > double(kMaxPieces) * 16) {
    return TooFragmented("this Gather");
  }
  ElementMap out;
  out.sources = map.sources;
  out.shape.assign(map.shape.begin(), map.shape.begin() + axis);
  out.shape.insert(out.shape.end(), indices_shape.begin(), indices_shape.end());
  out.shape.insert(out.shape.end(), map.shape.begin() + axis + 1, map.shape.end());
  Shape position(indices_shape.size(), 0);
  for (int64_t index : indices) {
    const int64_t k = index < 0 ? index + dim : index;
    if (k < 0 || k >= dim) {
      return absl::InvalidArgumentError(absl::StrFormat("Gather index %d is out of range for %d", index, dim));
    }
    for (const Piece& piece : map.pieces) {
      if (k < piece.start[axis] || k >= piece.start[axis] + piece.extent[axis]) continue;
      Piece picked{piece.source, {}, {}, piece.origin + (k - piece.start[axis]) * piece.stride[axis], {}};
      for (int64_t d = 0; d < rank; ++d) {
        if (d == axis) {
          picked.start.insert(picked.start.end(), position.begin(), position.end());
          picked.extent.insert(picked.extent.end(), position.size(), 1);
          picked.stride.insert(picked.stride.end(), position.size(), 0);
          continue;
        }
        picked.start.push_back(piece.start[d]);
        picked.extent.push_back(piece.extent[d]);
        picked.stride.push_back(piece.stride[d]);
      }
      out.pieces.push_back(std::move(picked));
    }
    if (static_cast<int64_t>(out.pieces.size()) > kMaxPieces) return TooFragmented("this Gather");
    for (size_t d = position.size(); d-- > 0;) {
      if (++position[d] < indices_shape[d]) break;
      position[d] = 0;
    }
  }
  MergePieces(out);
  return out;
}

std::vector<Piece> PiecesInBox(const ElementMap& map, const std::vector<int64_t>& start,
                               const std::vector<int64_t>& extent) {
  std::vector<Piece> inside;
  for (const Piece& piece : map.pieces) {
    Piece clipped = piece;
    bool empty = false;
    for (size_t d = 0; d < start.size() && !empty; ++d) {
      const int64_t lo = std::max(piece.start[d], start[d]);
      const int64_t hi = std::min(piece.start[d] + piece.extent[d], start[d] + extent[d]);
      empty = lo >= hi;
      clipped.origin += (lo - piece.start[d]) * piece.stride[d];
      clipped.start[d] = lo;
      clipped.extent[d] = hi - lo;
    }
    if (empty) continue;
    ZeroUnitStrides(clipped);
    inside.push_back(std::move(clipped));
  }
  return inside;
}

bool RangeAsBox(const std::vector<int64_t>& shape, int64_t begin, int64_t end, std::vector<int64_t>& start,
                std::vector<int64_t>& extent) {
  if (shape.empty()) {
    start.clear();
    extent.clear();
    return begin == 0 && end == 1;
  }
  int64_t inner = 1;  // the elements after axis k
  Shape inner_of(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    inner_of[d] = inner;
    inner *= shape[d];
  }
  for (size_t k = 0; k < shape.size(); ++k) {
    const int64_t step = inner_of[k];
    if (step == 0 || begin % step != 0 || (end - begin) % step != 0) continue;
    const int64_t at = (begin / step) % shape[k], n = (end - begin) / step;
    if (n <= 0 || at + n > shape[k]) continue;
    start.assign(shape.size(), 0);
    extent = shape;
    for (int64_t rest = begin, d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      start[d] = rest % shape[d];
      rest /= shape[d];
    }
    for (size_t d = 0; d < k; ++d) extent[d] = 1;
    extent[k] = n;
    return true;
  }
  return false;
}

std::vector<std::pair<int64_t, int64_t>> SourceRanges(const Piece& piece) {
  // Walk the piece in increasing source order: flip negative strides, then take axes by stride.
  int64_t origin = piece.origin;
  std::vector<std::pair<int64_t, int64_t>> axes;  // (stride, extent), extent > 1
  for (size_t d = 0; d < piece.extent.size(); ++d) {
    if (piece.extent[d] == 1) continue;
    int64_t stride = piece.stride[d];
    if (stride < 0) {
      origin += (piece.extent[d] - 1) * stride;
      stride = -stride;
    }
    axes.emplace_back(stride, piece.extent[d]);
  }
  std::sort(axes.begin(), axes.end());
  int64_t run = 1;
  size_t merged = 0;
  while (merged < axes.size() && axes[merged].first == run) run *= axes[merged++].second;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  Shape index(axes.size(), 0);
  for (bool more = true; more;) {
    int64_t at = origin;
    for (size_t a = merged; a < axes.size(); ++a) at += index[a] * axes[a].first;
    ranges.emplace_back(at, at + run);
    more = false;
    for (size_t a = merged; a < axes.size(); ++a) {
      if (++index[a] < axes[a].second) {
        more = true;
        break;
      }
      index[a] = 0;
    }
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<int64_t, int64_t>> joined;
  for (const auto& range : ranges) {
    if (!joined.empty() && joined.back().second == range.first) {
      joined.back().second = range.second;
    } else {
      joined.push_back(range);
    }
  }
  return joined;
}

bool ContiguousBlock(const Piece& piece, const std::vector<int64_t>& block_shape, bool allow_transposed, int64_t& begin,
                     std::vector<int64_t>& shape) {
  int64_t block_count;
  if (!CheckedProduct(block_shape, block_count) || block_count != piece.count()) return false;
  begin = piece.origin;
  if (IsRowMajor(piece)) {
    shape = block_shape;
    return true;
  }
  if (!allow_transposed || block_shape.size() != 2) return false;
  std::vector<std::pair<int64_t, int64_t>> axes;  // (extent, stride) of the axes of extent > 1
  for (size_t d = 0; d < piece.extent.size(); ++d) {
    if (piece.extent[d] > 1) axes.emplace_back(piece.extent[d], piece.stride[d]);
  }
  if (axes.size() != 2 || axes[0].first != block_shape[0] || axes[1].first != block_shape[1]) return false;
  if (axes[0].second != 1 || axes[1].second != block_shape[0]) return false;
  shape = {block_shape[1], block_shape[0]};
  return true;
}

}  // namespace onnx_reinit
