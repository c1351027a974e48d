// Bounds on a model's structure, so that a malformed or hostile file costs bounded time and stack.
// Real exporters stay far below them (a few levels of If/Loop/Scan, view chains of one to three ops).
#ifndef ONNX_REINIT_BASE_LIMITS_H_
#define ONNX_REINIT_BASE_LIMITS_H_

namespace onnx_reinit {

// Subgraphs (If/Loop/Scan bodies) nested deeper than this are refused (validate.h). Parsing already
// stops at protobuf's 100 message levels, about 33 subgraph levels.
inline constexpr int kMaxSubgraphDepth = 16;

// A constant more than this many re-viewing ops (Identity, Transpose, Reshape, ...) away from its
// reader is not followed to that reader (roles.h).
inline constexpr int kMaxViewChainDepth = 64;
// Calls of model-local functions nested deeper than this are not inlined (graph_index.h), nor
// calls once the inlined bodies hold this many nodes: nested calls can multiply a small file into
// any number of nodes.
inline constexpr int kMaxFunctionNesting = 16;
inline constexpr int kMaxInlinedNodes = 1 << 20;

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_BASE_LIMITS_H_
