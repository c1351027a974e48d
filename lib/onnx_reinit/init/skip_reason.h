// Why a tensor is left unchanged: the cause, which code tests, and the text the report shows
// (proto::SkippedTensor::reason). Code never compares the text.
#ifndef ONNX_REINIT_INIT_SKIP_REASON_H_
#define ONNX_REINIT_INIT_SKIP_REASON_H_

#include <string>
#include <utility>

#include "onnx_reinit/policy.h"

namespace onnx_reinit {

struct SkipReason {
  enum class Cause {
    kNotSelected,  // --only/--exclude left it out
    kKeptByRule,   // a --rule PATTERN=keep took it
    kOther,        // its role keeps it, or it cannot be rewritten as it is (the text says which)
  };
  Cause cause = Cause::kOther;
  std::string text;

  static SkipReason NotSelected() { return {Cause::kNotSelected, "not selected (--only/--exclude)"}; }
  // Why `plan` (without regions) leaves its tensor unchanged under `policy`, which made it.
  static SkipReason Of(const TensorPlan& plan, const Policy& policy) {
    const bool keep_rule = plan.rule_index >= 0 && policy.rules[plan.rule_index].keep;
    return {keep_rule ? Cause::kKeptByRule : Cause::kOther, plan.rule};
  }
  // Whether the user chose to leave the tensor unchanged (rather than the tool).
  bool Chosen() const { return cause != Cause::kOther; }
};

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_INIT_SKIP_REASON_H_
