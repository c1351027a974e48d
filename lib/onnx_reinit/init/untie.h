// Exporter-merged tensors given back one copy per use: --untie.
//
// PyTorch's exporter merges constants of equal value. One all-zero initializer can be a Conv bias
// and, through Identity nodes, every LayerNorm bias of a ViT at once; re-initialized as one tensor
// (roles.h: one role by priority), every reader gets the values of the role that wins, e.g. the
// Conv bias's random values under --bias torch.
//
// UntieTensors groups the readers of each constant by the values the policy would give them (the
// same plan: role, fans, rule and distribution; a reader without a role keeps the old values).
// When there are several groups and the constant holds one value in every element - what an
// exporter merges - the group of the winning role keeps the tensor and every other group gets its
// own copy:
// - named after the original and the group's role ("conv_proj.bias.norm_bias"; ".2", ".3", ...
//   when that name is taken anywhere in the model), so names and values are deterministic;
// - an initializer beside the original (in the same graph; listed as a graph input too when the
//   original is one, as IR < 4 requires), or a Constant node right after the original one;
// - the group's readers rewired to it: the node inputs that name the tensor (the reader's own, or
//   those of the Identity/Transpose/Slice/... it is read through).
// Nothing else changes. Readers that need the same values stay on one tensor, so with the default
// policy (zeros for biases and norm biases alike) nothing is copied. A tensor whose elements differ
// is one learned tensor shared on purpose (an embedding tied to the output projection): it stays
// tied, with a warning. So does a tensor whose groups meet in one node input (one Identity read
// by a bias and a norm), which cannot be split there.
#ifndef ONNX_REINIT_INIT_UNTIE_H_
#define ONNX_REINIT_INIT_UNTIE_H_

#include <string>
#include <vector>

#include "onnx/onnx_pb.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/report.pb.h"
#include "onnx_reinit/roles.h"

namespace onnx_reinit {

struct UntieResult {
  std::vector<proto::UntiedCopy> copies;  // in graph order of the originals
  std::vector<std::string> warnings;      // tensors that stay tied, and why
};

// Unties the tensors of `model` whose readers need different values under `options` (its policy
// and analysis options; the selection is applied afterwards, to each copy on its own). The model
// must hold its tensors' values in memory (not detached payloads); a tensor in external data stays
// tied.
UntieResult UntieTensors(onnx::ModelProto& model, const ReinitOptions& options);

// The readings of `use` (its entries in GraphAnalysis::readings, in graph order) grouped by the
// values `policy` gives each reader: role, fans, rule and distribution. The group of `use`'s own
// reader comes first. One group: every reader gets the same values, whatever their roles and fans.
std::vector<std::vector<const TensorUse*>> GroupByValues(const TensorUse& use,
                                                         const std::vector<const TensorUse*>& readings,
                                                         const Policy& policy);

// One warning per tensor of `analysis` whose readers need different values under `policy` (an
// exporter-merged zero bias read as a Conv bias and as a norm bias is no such tensor while both
// get zeros), with the reader counts and the role it is initialized as; those that --untie would
// split (every element one value, read from `payloads` where it holds them) say so.
std::vector<std::string> DisagreeingReaderWarnings(const GraphAnalysis& analysis, const Policy& policy,
                                                   const DetachedPayloads& payloads);

// Records the copies and warnings in `report`.
void AddUntied(const UntieResult& untied, proto::ReinitReport& report);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_INIT_UNTIE_H_
