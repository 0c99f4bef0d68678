#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// computed as torch.optim.SGD does, for parameter p with gradient g:
//   g ← g + wd·p
//   momentum μ > 0:  buf ← g on the first step (no dampening), then buf ← μ·buf + (1 − dampening)·g
//                    g ← nesterov ? g + μ·buf : buf
//   p ← p − lr·g
// State per parameter (only with momentum): "sgd.momentum_buffer.<name>".
#include "nn/optim/optimizer.h"

namespace atebm::nn {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening = 0
};

class Sgd final : public Optimizer {
 public:
  Sgd(NamedTensors params, SgdOptions opt);
  Sgd(std::vector<ParamGroup> groups, SgdOptions opt);
  std::string kind() const override { return "sgd"; }
  const SgdOptions& options() const { return opt_; }

 protected:
  std::vector<std::string> buffer_slots() const override;
  bool counts_steps() const override { return false; }
  void update(const StepContext& ctx, const Tensor& p, const Tensor& g, ParamState& st) override;

 private:
  SgdOptions opt_;
};

}  // namespace atebm::nn
