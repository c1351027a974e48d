#include "onnx_reinit/element_map.h"

#include <numeric>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Shape = std::vector<int64_t>;

// The reference: a dense array whose every element names its source element, moved around by
// plain index arithmetic, one element at a time.
struct Labelled {
  Shape shape;
  std::vector<std::pair<int, int64_t>> at;  // row-major: (source, source element)
};

int64_t Count(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

Shape Unravel(int64_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

int64_t Ravel(const Shape& index, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

Labelled Source(int source, const Shape& shape) {
  Labelled out{shape, {}};
  for (int64_t i = 0; i < Count(shape); ++i) out.at.emplace_back(source, i);
  return out;
}

Labelled RefTranspose(const Labelled& in, const Shape& perm) {
  Labelled out;
  for (int64_t axis : perm) out.shape.push_back(in.shape[axis]);
  out.at.resize(in.at.size());
  for (int64_t i = 0; i < Count(out.shape); ++i) {
    const Shape o = Unravel(i, out.shape);
    Shape src(in.shape.size());
    for (size_t j = 0; j < perm.size(); ++j) src[perm[j]] = o[j];
    out.at[i] = in.at[Ravel(src, in.shape)];
  }
  return out;
}

Labelled RefSlice(const Labelled& in, const std::vector<AxisSelection>& selections) {
  Labelled out{in.shape, {}};
  for (const AxisSelection& s : selections) out.shape[s.axis] = s.count;
  for (int64_t i = 0; i < Count(out.shape); ++i) {
    Shape index = Unravel(i, out.shape);
    for (const AxisSelection& s : selections) index[s.axis] = s.start + index[s.axis] * s.step;
    out.at.push_back(in.at[Ravel(index, in.shape)]);
  }
  return out;
}

Labelled RefConcat(const std::vector<Labelled>& parts, int64_t axis) {
  Labelled out{parts[0].shape, {}};
  out.shape[axis] = 0;
  for (const Labelled& part : parts) out.shape[axis] += part.shape[axis];
  for (int64_t i = 0; i < Count(out.shape); ++i) {
    Shape index = Unravel(i, out.shape);
    for (const Labelled& part : parts) {
      if (index[axis] < part.shape[axis]) {
        out.at.push_back(part.at[Ravel(index, part.shape)]);
        break;
      }
      index[axis] -= part.shape[axis];
    }
  }
  return out;
}

Labelled RefGather(const Labelled& in, int64_t axis, const Shape& indices, const Shape& indices_shape) {
  Labelled out;
  out.shape.assign(in.shape.begin(), in.shape.begin() + axis);
  out.shape.insert(out.shape.end(), indices_shape.begin(), indices_shape.end());
  out.shape.insert(out.shape.end(), in.shape.begin() + axis + 1, in.shape.end());
  for (int64_t i = 0; i < Count(out.shape); ++i) {
    const Shape o = Unravel(i, out.shape);
    Shape q(o.begin() + axis, o.begin() + axis + indices_shape.size());
    int64_t k = indices[Ravel(q, indices_shape)];
    if (k < 0) k += in.shape[axis];
    Shape src(o.begin(), o.begin() + axis);
    src.push_back(k);
    src.insert(src.end(), o.begin() + axis + indices_shape.size(), o.end());
    out.at.push_back(in.at[Ravel(src, in.shape)]);
  }
  return out;
}

// What `map` says each view element is, checking that the pieces cover the view exactly once.
Labelled Expand(const ElementMap& map) {
  Labelled out{map.shape, std::vector<std::pair<int, int64_t>>(Count(map.shape), {-1, -1})};
  for (const Piece& piece : map.pieces) {
    for (int64_t i = 0; i < piece.count(); ++i) {
      const Shape local = Unravel(i, piece.extent);
      Shape index(local.size());
      int64_t element = piece.origin;
      for (size_t d = 0; d < local.size(); ++d) {
        index[d] = piece.start[d] + local[d];
        element += local[d] * piece.stride[d];
      }
      auto& slot = out.at[Ravel(index, map.shape)];
      EXPECT_EQ(slot.first, -1) << "view element covered twice";
      slot = {piece.source, element};
    }
  }
  for (const auto& slot : out.at) EXPECT_NE(slot.first, -1) << "view element not covered";
  return out;
}

void ExpectSame(const ElementMap& map, const Labelled& expected) {
  const Labelled got = Expand(map);
  EXPECT_EQ(got.shape, expected.shape);
  EXPECT_EQ(got.at, expected.at);
}

TEST(ResolveSliceAxis, FollowsTheOnnxClampingRules) {
  auto resolve = [](int64_t start, int64_t end, int64_t step) {
    const AxisSelection s = *ResolveSliceAxis(0, 10, start, end, step);
    return std::vector<int64_t>{s.start, s.step, s.count};
  };
  EXPECT_THAT(resolve(0, 10, 1), ElementsAre(0, 1, 10));
  EXPECT_THAT(resolve(-3, 100, 1), ElementsAre(7, 1, 3));      // x[-3:100] = 7, 8, 9
  EXPECT_THAT(resolve(2, -2, 3), ElementsAre(2, 3, 2));        // x[2:-2:3] = 2, 5
  EXPECT_THAT(resolve(-1, -11, -1), ElementsAre(9, -1, 10));   // x[::-1]: end -11 -> -1
  EXPECT_THAT(resolve(100, -100, -2), ElementsAre(9, -2, 5));  // 9, 7, 5, 3, 1
  EXPECT_THAT(resolve(INT64_MIN, INT64_MAX, 1), ElementsAre(0, 1, 10));
  EXPECT_THAT(resolve(INT64_MAX, INT64_MIN, -1), ElementsAre(9, -1, 10));
  EXPECT_THAT(resolve(5, 5, 1), ElementsAre(5, 1, 0));
  EXPECT_THAT(resolve(3, 7, -1), ElementsAre(3, -1, 0));
  EXPECT_FALSE(ResolveSliceAxis(0, 10, 0, 10, 0).ok());
}

TEST(ElementMap, WholeIsOneRowMajorPiece) {
  const ElementMap map = ElementMap::Whole("w", {4, 1, 3});
  ASSERT_EQ(map.pieces.size(), 1u);
  EXPECT_THAT(map.pieces[0].stride, ElementsAre(3, 0, 1));
  ExpectSame(map, Source(0, {4, 1, 3}));
}

TEST(ElementMap, TorchLstmGateReorderIsThreePiecesOfOneSource) {
  // weight_ih [4H, I] in torch's gate order i, f, g, o, sliced and concatenated into ONNX's i, o, f, c.
  const int64_t H = 3, I = 2;
  const ElementMap w = ElementMap::Whole("w", {4 * H, I});
  auto rows = [&](int64_t from, int64_t to) { return *SliceMap(w, {*ResolveSliceAxis(0, 4 * H, from, to, 1)}); };
  const ElementMap onnx_order = *ConcatMaps({rows(0, H), rows(3 * H, 4 * H), rows(H, 3 * H)}, 0);
  const ElementMap lstm_w = *ReshapeMap(onnx_order, {1, 4 * H, I});
  EXPECT_EQ(lstm_w.pieces.size(), 3u);
  EXPECT_EQ(lstm_w.sources.size(), 1u);
  const Labelled source = Source(0, {4 * H, I});
  auto ref_rows = [&](int64_t from, int64_t to) { return RefSlice(source, {AxisSelection{0, from, 1, to - from}}); };
  Labelled expected = RefConcat({ref_rows(0, H), ref_rows(3 * H, 4 * H), ref_rows(H, 3 * H)}, 0);
  expected.shape = {1, 4 * H, I};
  ExpectSame(lstm_w, expected);
}

TEST(ElementMap, ConcatMergesSourcesByName) {
  const ElementMap a = ElementMap::Whole("a", {2, 3});
  const ElementMap b = ElementMap::Whole("b", {1, 3});
  const ElementMap map = *ConcatMaps({a, b, a}, -2);
  ASSERT_EQ(map.sources.size(), 2u);
  EXPECT_EQ(map.sources[0].name, "a");
  EXPECT_EQ(map.sources[1].name, "b");
  ExpectSame(map, RefConcat({Source(0, {2, 3}), Source(1, {1, 3}), Source(0, {2, 3})}, 0));
  EXPECT_FALSE(ConcatMaps({a, ElementMap::Whole("c", {2, 4})}, 0).ok());
}

TEST(ElementMap, GatherOfConsecutiveIndicesStaysOnePiece) {
  const ElementMap w = ElementMap::Whole("w", {6, 4});
  const ElementMap rows = *GatherMap(w, 0, {1, 2, 3}, {3});
  EXPECT_EQ(rows.pieces.size(), 1u);
  ExpectSame(rows, RefGather(Source(0, {6, 4}), 0, {1, 2, 3}, {3}));
  const ElementMap picked = *GatherMap(w, 1, {-1, 0, 2, 2}, {2, 2});
  ExpectSame(picked, RefGather(Source(0, {6, 4}), 1, {-1, 0, 2, 2}, {2, 2}));
  const ElementMap scalar = *GatherMap(w, 0, {5}, {});
  ExpectSame(scalar, RefGather(Source(0, {6, 4}), 0, {5}, {}));
  EXPECT_THAT(GatherMap(w, 0, {6}, {1}).status().message(), HasSubstr("out of range"));
}

TEST(ElementMap, ReshapeOfATransposeIsExact) {
  const ElementMap t = *TransposeMap(ElementMap::Whole("w", {3, 4}), {1, 0});
  const ElementMap flat = *ReshapeMap(t, {12});
  Labelled expected = RefTranspose(Source(0, {3, 4}), {1, 0});
  expected.shape = {12};
  ExpectSame(flat, expected);
  EXPECT_FALSE(ReshapeMap(t, {5}).ok());
}

TEST(ElementMap, UnitAxesComeAndGoWithoutCuttingPieces) {
  const ElementMap w = ElementMap::Whole("w", {8, 2});
  const ElementMap halves = *ConcatMaps(
      {*SliceMap(w, {*ResolveSliceAxis(0, 8, 4, 8, 1)}), *SliceMap(w, {*ResolveSliceAxis(0, 8, 0, 4, 1)})}, 0);
  const ElementMap unsqueezed = *ReshapeMap(halves, {1, 8, 1, 2});
  EXPECT_EQ(unsqueezed.pieces.size(), 2u);
  Labelled expected = RefConcat({RefSlice(Source(0, {8, 2}), {AxisSelection{0, 4, 1, 4}}),
                                 RefSlice(Source(0, {8, 2}), {AxisSelection{0, 0, 1, 4}})},
                                0);
  expected.shape = {1, 8, 1, 2};
  ExpectSame(unsqueezed, expected);
}

TEST(ElementMap, ReshapeRefusesToCutIntoTooManyPieces) {
  // Flattening a transposed [2, 2^20] makes every pair of elements its own piece.
  const ElementMap t = *TransposeMap(ElementMap::Whole("w", {2, int64_t{1} << 20}), {1, 0});
  const auto flat = ReshapeMap(t, {int64_t{1} << 21});
  EXPECT_THAT(flat.status().message(), HasSubstr("more than"));
}

// Random chains of every operation against the element-by-element reference.
TEST(ElementMap, RandomChainsMatchTheReference) {
  std::mt19937 rng(7);
  auto pick = [&](int64_t n) { return static_cast<int64_t>(rng() % n); };
  for (int trial = 0; trial < 400; ++trial) {
    Shape dims;
    for (int64_t rank = 1 + pick(3), d = 0; d < rank; ++d) dims.push_back(1 + pick(5));
    ElementMap map = ElementMap::Whole("a", dims);
    Labelled ref = Source(0, dims);
    for (int step = 0; step < 5; ++step) {
      const int64_t rank = static_cast<int64_t>(map.shape.size());
      switch (pick(5)) {
        case 0: {
          Shape perm(rank);
          std::iota(perm.begin(), perm.end(), 0);
          std::shuffle(perm.begin(), perm.end(), rng);
          map = *TransposeMap(map, perm);
          ref = RefTranspose(ref, perm);
          break;
        }
        case 1: {
          const int64_t axis = pick(rank), dim = map.shape[axis];
          const int64_t step_size = (1 + pick(3)) * (pick(2) ? 1 : -1);
          auto s = ResolveSliceAxis(axis, dim, pick(2 * dim + 1) - dim, pick(2 * dim + 3) - dim - 1, step_size);
          if (s->count == 0) break;
          map = *SliceMap(map, {*s});
          ref = RefSlice(ref, {*s});
          break;
        }
        case 2: {  // with itself, or with source "b" (always after "a": ids stay 0 and 1)
          const int64_t axis = pick(rank);
          if (pick(2)) {
            map = *ConcatMaps({map, map}, axis);
            ref = RefConcat({ref, ref}, axis);
            break;
          }
          Shape other = map.shape;
          other[axis] = 1 + pick(3);
          map = *ConcatMaps({map, ElementMap::Whole("b", other)}, axis);
          ref = RefConcat({ref, Source(1, other)}, axis);
          break;
        }
        case 3: {
          const int64_t axis = pick(rank), dim = map.shape[axis];
          Shape indices;
          for (int64_t k = 0, n = 1 + pick(4); k < n; ++k) indices.push_back(pick(2 * dim) - dim);
          const Shape indices_shape = pick(2) ? Shape{static_cast<int64_t>(indices.size())} : Shape{};
          if (indices_shape.empty()) indices.resize(1);
          map = *GatherMap(map, axis, indices, indices_shape);
          ref = RefGather(ref, axis, indices, indices_shape);
          break;
        }
        case 4: {
          Shape shape;
          int64_t rest = Count(map.shape);
          while (rest > 1 && shape.size() < 3) {
            int64_t f = 1 + pick(rest);
            while (rest % f != 0) --f;
            shape.push_back(f);
            rest /= f;
          }
          shape.push_back(rest);
          if (pick(2)) shape.insert(shape.begin() + pick(static_cast<int64_t>(shape.size()) + 1), 1);
          map = *ReshapeMap(map, shape);
          ref.shape = shape;
          break;
        }
      }
      if (map.shape.empty() || Count(map.shape) == 0) break;
    }
    ExpectSame(map, ref);
    if (::testing::Test::HasFailure()) FAIL() << "trial " << trial;
  }
}

TEST(SourceRanges, MergesContiguousElementsWhateverTheViewOrder) {
  const ElementMap t = *TransposeMap(ElementMap::Whole("w", {3, 4}), {1, 0});
  EXPECT_THAT(SourceRanges(t.pieces[0]), ElementsAre(std::make_pair(int64_t{0}, int64_t{12})));
  const ElementMap columns = *SliceMap(ElementMap::Whole("w", {3, 4}), {AxisSelection{1, 1, 1, 2}});
  EXPECT_THAT(SourceRanges(columns.pieces[0]),
              ElementsAre(std::make_pair(int64_t{1}, int64_t{3}), std::make_pair(int64_t{5}, int64_t{7}),
                          std::make_pair(int64_t{9}, int64_t{11})));
  const ElementMap reversed = *SliceMap(ElementMap::Whole("w", {6}), {*ResolveSliceAxis(0, 6, -1, -7, -1)});
  EXPECT_THAT(SourceRanges(reversed.pieces[0]), ElementsAre(std::make_pair(int64_t{0}, int64_t{6})));
}

TEST(RangeAsBox, FindsGateBlocksAndRefusesWrappingRanges) {
  Shape start, extent;
  ASSERT_TRUE(RangeAsBox({2, 12, 5}, 12 * 5 + 3 * 5, 12 * 5 + 6 * 5, start, extent));
  EXPECT_THAT(start, ElementsAre(1, 3, 0));
  EXPECT_THAT(extent, ElementsAre(1, 3, 5));
  ASSERT_TRUE(RangeAsBox({2, 12, 5}, 0, 120, start, extent));
  EXPECT_THAT(extent, ElementsAre(2, 12, 5));
  EXPECT_FALSE(RangeAsBox({2, 12, 5}, 55, 65, start, extent));
  ASSERT_TRUE(RangeAsBox({}, 0, 1, start, extent));
}

TEST(ContiguousBlock, AcceptsRowMajorBlocksAndTransposedMatrices) {
  const ElementMap w = ElementMap::Whole("w", {12, 3});
  const ElementMap block = *SliceMap(w, {AxisSelection{0, 6, 1, 3}});
  int64_t begin;
  Shape shape;
  ASSERT_TRUE(ContiguousBlock(block.pieces[0], {3, 3}, false, begin, shape));
  EXPECT_EQ(begin, 18);
  EXPECT_THAT(shape, ElementsAre(3, 3));
  const ElementMap t = *TransposeMap(block, {1, 0});
  EXPECT_FALSE(ContiguousBlock(t.pieces[0], {3, 3}, false, begin, shape));
  ASSERT_TRUE(ContiguousBlock(t.pieces[0], {3, 3}, true, begin, shape));
  EXPECT_EQ(begin, 18);
  const ElementMap columns = *SliceMap(w, {AxisSelection{1, 0, 1, 2}});
  EXPECT_FALSE(ContiguousBlock(columns.pieces[0], {12, 2}, true, begin, shape));
}

}  // namespace
}  // namespace onnx_reinit
