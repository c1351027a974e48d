#include "onnx_reinit/init/placement.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/message_differencer.h"

namespace onnx_reinit {
namespace {

bool SameDistribution(const proto::Distribution& a, const proto::Distribution& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

// The view is the tensor itself, element for element (no ops, or ones that only add unit axes).
bool IsDirect(const TensorUse& use, int64_t count) {
  if (use.elements == nullptr) return true;
  const ElementMap& map = *use.elements;
  if (map.pieces.size() != 1 || map.pieces[0].source != use.map_source) return false;
  int64_t begin;
  std::vector<int64_t> shape;
  return ContiguousBlock(map.pieces[0], {count}, false, begin, shape) && begin == 0;
}

std::string Where(const TensorUse& use) {
  return absl::StrFormat("%s input %d (via %s)", use.reader->op_type(), use.input_index, use.via);
}

}  // namespace

bool DependsOnShape(const proto::Distribution& d) {
  return d.kind() == proto::Distribution::ORTHOGONAL || d.kind() == proto::Distribution::IDENTITY ||
         d.kind() == proto::Distribution::DIRAC;
}

absl::StatusOr<std::vector<PlannedRegion>> PlaceRegions(const TensorUse& use, int64_t count,
                                                        const std::vector<PlannedRegion>& view_regions) {
  if (IsDirect(use, count)) return view_regions;
  const std::vector<int64_t> dims(use.tensor->dims().begin(), use.tensor->dims().end());
  const bool uniform = std::all_of(view_regions.begin(), view_regions.end(), [&](const PlannedRegion& r) {
    return !DependsOnShape(r.distribution) && SameDistribution(r.distribution, view_regions[0].distribution);
  });
  if (uniform && !view_regions.empty()) {
    return std::vector<PlannedRegion>{PlannedRegion{0, count, dims, use.groups, view_regions[0].distribution}};
  }

  const ElementMap& map = *use.elements;
  std::vector<std::pair<int64_t, int64_t>> covered;
  for (const Piece& piece : map.pieces) {
    if (piece.source != use.map_source) continue;
    for (const auto& range : SourceRanges(piece)) covered.push_back(range);
  }
  std::sort(covered.begin(), covered.end());
  int64_t next = 0;
  for (const auto& [begin, end] : covered) {
    if (begin != next) break;
    next = end;
  }
  if (next != count || covered.empty() || covered.back().second != count) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s reads some of its elements more than once or not at all, so its per-block values "
                        "cannot be placed exactly",
                        Where(use)));
  }

  std::vector<PlannedRegion> placed;
  for (const PlannedRegion& region : view_regions) {
    std::vector<int64_t> start, extent;
    if (!RangeAsBox(map.shape, region.begin, region.end, start, extent)) {
      return absl::InternalError("a planned region is not a box of the view");
    }
    const std::vector<Piece> pieces = PiecesInBox(map, start, extent);
    if (!DependsOnShape(region.distribution)) {
      for (const Piece& piece : pieces) {
        if (piece.source != use.map_source) continue;
        for (const auto& [begin, end] : SourceRanges(piece)) {
          placed.push_back(PlannedRegion{begin, end, {end - begin}, use.groups, region.distribution});
        }
      }
      continue;
    }
    const bool any_here =
        std::any_of(pieces.begin(), pieces.end(), [&](const Piece& p) { return p.source == use.map_source; });
    if (!any_here) continue;  // a block made of other tensors
    const bool matrix = region.distribution.kind() != proto::Distribution::DIRAC;
    int64_t begin;
    std::vector<int64_t> shape;
    if (pieces.size() != 1 || !ContiguousBlock(pieces[0], region.shape, matrix, begin, shape)) {
      return absl::FailedPreconditionError(
          absl::StrFormat("the block of elements [%d, %d) that %s sees is not one contiguous block of this tensor, "
                          "so its %s values cannot be placed exactly",
                          region.begin, region.end, Where(use),
                          region.distribution.kind() == proto::Distribution::ORTHOGONAL ? "orthogonal" : "structured"));
    }
    placed.push_back(PlannedRegion{begin, begin + pieces[0].count(), shape, region.groups, region.distribution});
  }

  std::sort(placed.begin(), placed.end(),
            [](const PlannedRegion& a, const PlannedRegion& b) { return a.begin < b.begin; });
  std::vector<PlannedRegion> joined;
  for (PlannedRegion& region : placed) {
    if (!joined.empty() && joined.back().end == region.begin && !DependsOnShape(region.distribution) &&
        SameDistribution(joined.back().distribution, region.distribution)) {
      joined.back().end = region.end;
      joined.back().shape = {joined.back().end - joined.back().begin};
      continue;
    }
    joined.push_back(std::move(region));
  }
  return joined;
}

}  // namespace onnx_reinit
