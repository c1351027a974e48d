// Bounds on a model's structure, so that a malformed or hostile file costs bounded time and stack.
// Real exporters stay far below them (a few levels of If/Loop/Scan, view chains of one to three ops).
#ifndef ONNX_REINIT_LIMITS_H_
#define ONNX_REINIT_LIMITS_H_

namespace onnx_reinit {

// Subgraphs (If/Loop/Scan bodies) nested deeper than this are refused (validate.h). Parsing already
// stops at protobuf's 100 message levels, about 33 subgraph levels.
inline constexpr int kMaxSubgraphDepth = 16;

// A constant more than this many re-viewing ops (Identity, Transpose, Reshape, ...) away from its
// reader is not followed to that reader (roles.h).
inline constexpr int kMaxViewChainDepth = 64;

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_LIMITS_H_
