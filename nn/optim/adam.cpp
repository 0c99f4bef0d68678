#include "nn/optim/adam.h"

#include <cmath>

#include "engine/factories.h"
#include "ops/inplace.h"

namespace atebm::nn {
namespace {

const AdamOptions& checked(const AdamOptions& o) {
  ATEBM_CHECK(o.beta1 >= 0 && o.beta1 < 1, "Adam: beta1 must be in [0, 1), got {}", o.beta1);
  ATEBM_CHECK(o.beta2 >= 0 && o.beta2 < 1, "Adam: beta2 must be in [0, 1), got {}", o.beta2);
  ATEBM_CHECK(std::isfinite(o.eps) && o.eps >= 0, "Adam: eps must be >= 0, got {}", o.eps);
  return o;
}

}  // namespace

Adam::Adam(NamedTensors params, AdamOptions opt)
    : Adam(std::vector<ParamGroup>{{.params = std::move(params)}}, opt) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions opt)
    : Optimizer(std::move(groups), opt.lr, opt.weight_decay, opt.decoupled_weight_decay ? "AdamW" : "Adam"),
      opt_(checked(opt)) {}

void Adam::update(const StepContext& ctx, const Tensor& p, const Tensor& g, ParamState& st) {
  if (!st.initialized) {
    st.buffers = {zeros_like(p), zeros_like(p)};
    st.step = 0;
    st.initialized = true;
  }
  st.step += 1;
  const auto t = static_cast<double>(st.step);
  // Bias corrections in double, as PyTorch computes them (Python floats).
  const double bias_correction1 = 1.0 - std::pow(opt_.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(opt_.beta2, t);
  cpu::AdamScalars s;
  s.beta1 = opt_.beta1;
  s.beta2 = opt_.beta2;
  s.eps = opt_.eps;
  s.step_size = ctx.lr / bias_correction1;
  s.bias_correction2_sqrt = std::sqrt(bias_correction2);
  if (opt_.decoupled_weight_decay) {
    s.param_scale = 1.0 - ctx.lr * ctx.weight_decay;
  } else {
    s.weight_decay = ctx.weight_decay;
  }
  adam_update_(p, g, st.buffers[0], st.buffers[1], s);
}

}  // namespace atebm::nn
