// The parsing path of ReinitializeFile (rewrite.h), open to flows that prepare the model first and
// check the output before it is committed (materializing a stripped model: strip.h).
#ifndef ONNX_REINIT_INIT_REWRITE_PARSED_H_
#define ONNX_REINIT_INIT_REWRITE_PARSED_H_

#include <functional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/external_data.h"
#include "onnx_reinit/model/stripped.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/report.pb.h"
#include "onnx_reinit/rewrite.h"

namespace onnx_reinit {

struct ParsedInput {
  onnx::ModelProto model;  // parsed from the input file, and prepared
  // Embedded tensors the output keeps in its data file whatever their size (and whatever the layout
  // but kEmbed): tensors that were external before being embedded.
  std::set<std::string> moved_out;
  // Called once the input's external data is open, before the output's tensors are laid out.
  std::function<absl::Status(onnx::ModelProto&, ExternalData&)> prepare;
  // Called with the output's tensors written (their values in `payloads`, or in the model for
  // embedded ones) before anything is committed: an error leaves no output.
  std::function<absl::Status(onnx::ModelProto&, const DetachedPayloads&)> check;
};

// Re-initializes `parsed.model`, read from `input`, into `output` (and its data file): the parsing
// path of ReinitializeFile, with its guarantees.
absl::StatusOr<proto::ReinitReport> RewriteParsedModel(const std::string& input, const std::string& output,
                                                       const RewriteOptions& options, ParsedInput parsed);

// The values of the tensors whose every element `plan` rewrites (identified by TensorValues::data()).
std::set<const void*> WhollyRewritten(const ReinitPlan& plan);

// Materializes the model stripped by StripFile (strip.h) that `input` holds (parsed as `model`,
// with `manifest`) into `output`, with the stored recipe in `options`: the parsing path with the
// stripped tensors given their places, and every regenerated tensor checked against its hash before
// anything is committed. Defined in strip.cc.
absl::StatusOr<proto::ReinitReport> MaterializeStripped(const std::string& input, const std::string& output,
                                                        const RewriteOptions& options, onnx::ModelProto model,
                                                        const StripManifest& manifest);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_INIT_REWRITE_PARSED_H_
