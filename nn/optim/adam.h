#pragma once
// Adam (and AdamW), computed as torch.optim.Adam / AdamW do (non-AMSGrad). At step t of
// parameter p with gradient g:
//   Adam:  g ← g + wd·p                 AdamW: p ← p·(1 − lr·wd)   (decoupled decay)
//   m ← β1·m + (1 − β1)·g               (as lerp(m, g, 1 − β1): with β1 = 0, m = g exactly)
//   v ← β2·v + (1 − β2)·g²
//   step_size = lr / (1 − β1^t)
//   denom = sqrt(v) / sqrt(1 − β2^t) + eps
//   p ← p − step_size · m / denom
// One fused pass over p, g, m, v per parameter (ops/inplace.h adam_update_). State per
// parameter: "adam.step.<name>" (int64), "adam.exp_avg.<name>", "adam.exp_avg_sq.<name>".
// The EBM recipe uses betas (0, 0.99): the first moment is then just the current gradient.
#include "nn/optim/optimizer.h"

namespace atebm::nn {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  /// AdamW: decay the weights directly instead of adding wd·p to the gradient.
  bool decoupled_weight_decay = false;
};

class Adam final : public Optimizer {
 public:
  Adam(NamedTensors params, AdamOptions opt);
  Adam(std::vector<ParamGroup> groups, AdamOptions opt);
  std::string kind() const override { return "adam"; }
  const AdamOptions& options() const { return opt_; }

 protected:
  std::vector<std::string> buffer_slots() const override { return {"exp_avg", "exp_avg_sq"}; }
  bool counts_steps() const override { return true; }
  void update(const StepContext& ctx, const Tensor& p, const Tensor& g, ParamState& st) override;

 private:
  AdamOptions opt_;
};

}  // namespace atebm::nn
