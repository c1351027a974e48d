// Seeded weightless models: how a model stripped by `onnx-reinit strip` records what it lost.
//
// A stripped tensor keeps its name, dims, data type and everything else; its values are gone the
// way Polygraphy's `surgeon weight-strip` removes them (present but empty raw_data, no external
// data, doc_string "TRT_WEIGHTLESS/", and "TRT_WEIGHTLESS" appended to the model's doc_string), so
// Polygraphy's `weight-reconstruct` and TensorRT's refit by name recognise them. What regenerates
// them is stored in the model's metadata_props, all keys under "onnx_reinit.strip.":
//   onnx_reinit.strip.fill_contract   the fill contract the hashes were made under
//   onnx_reinit.strip.recipe          the recipe (recipe.proto, text format)
//   onnx_reinit.strip.tensor.NAME     "sha256=HEX;bytes=N;external=0|1": the SHA-256 and length of
//                                     the bytes a direct run writes for NAME, and whether the
//                                     input kept NAME in external data (then so does the output)
//   onnx_reinit.strip.doc_string.NAME the stripped tensor's own doc_string, when it had one
// Tensors that keep their values but were in external data are embedded, with a tensor key
// without sha256.
#ifndef ONNX_REINIT_MODEL_STRIPPED_H_
#define ONNX_REINIT_MODEL_STRIPPED_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"

namespace onnx_reinit {

struct StrippedTensor {
  std::string name;
  std::string sha256;  // hex; empty for a tensor that keeps its values (moved in from external data)
  int64_t bytes = 0;   // the length of the values a direct run writes
  bool external = false;
  std::optional<std::string> doc_string;  // the tensor's own, when it had one (even empty)
};

struct StripManifest {
  int64_t fill_contract = 0;
  std::string recipe;  // text format
  std::vector<StrippedTensor> tensors;
};

// The model doc_string with Polygraphy's mark appended ("<doc>-TRT_WEIGHTLESS", or the mark alone),
// and without it.
std::string WithWeightlessMark(const std::string& doc);
std::string WithoutWeightlessMark(const std::string& doc);

// Replaces `tensor`'s values with `bytes` zero bytes of raw_data (to be re-initialized). The size
// comes from the file, so more than the machine's memory, or a failed allocation, is
// ResourceExhausted naming the tensor.
absl::Status GiveZeroedValues(onnx::TensorProto& tensor, int64_t bytes);

// Removes `tensor`'s values and marks it as Polygraphy's weight-strip does.
void StripValues(onnx::TensorProto& tensor);

// Records `manifest` in `model`'s metadata_props and appends the weightless mark to its doc_string.
// InvalidArgument when the model already holds a manifest (it is stripped already).
absl::Status AddStripManifest(const StripManifest& manifest, onnx::ModelProto& model);

// The manifest of a stripped model, or nullopt for a model without one. InvalidArgument, naming the
// key, for a malformed one.
absl::StatusOr<std::optional<StripManifest>> ReadStripManifest(const onnx::ModelProto& model);

// Takes the manifest out of `model`: its metadata_props, the weightless marks of the model and of
// the stripped tensors, whose doc_strings are restored. InvalidArgument naming the tensor when a
// stripped tensor is not a top-level initializer without values.
absl::Status RemoveStripManifest(const StripManifest& manifest, onnx::ModelProto& model);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_MODEL_STRIPPED_H_
