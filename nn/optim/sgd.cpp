#include "nn/optim/sgd.h"

#include <cmath>

#include "ops/inplace.h"

namespace atebm::nn {
namespace {

const SgdOptions& checked(const SgdOptions& o) {
  ATEBM_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, "SGD: momentum must be >= 0, got {}", o.momentum);
  ATEBM_CHECK(std::isfinite(o.dampening), "SGD: dampening must be finite, got {}", o.dampening);
  ATEBM_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
              "SGD: Nesterov momentum needs momentum > 0 and dampening = 0 (got momentum {}, dampening {})",
              o.momentum, o.dampening);
  return o;
}

}  // namespace

Sgd::Sgd(NamedTensors params, SgdOptions opt) : Sgd(std::vector<ParamGroup>{{.params = std::move(params)}}, opt) {}

Sgd::Sgd(std::vector<ParamGroup> groups, SgdOptions opt)
    : Optimizer(std::move(groups), opt.lr, opt.weight_decay, "SGD"), opt_(checked(opt)) {}

std::vector<std::string> Sgd::buffer_slots() const {
  if (opt_.momentum == 0) return {};
  return {"momentum_buffer"};
}

void Sgd::update(const StepContext& ctx, const Tensor& p, const Tensor& g, ParamState& st) {
  // d is the step direction; it may alias g only while nothing writes into it.
  Tensor d = g;
  if (ctx.weight_decay != 0) {
    d = clone_data(g);
    add_(d, p, ctx.weight_decay);  // g + wd·p
  }
  if (opt_.momentum != 0) {
    if (!st.initialized) {
      st.buffers = {clone_data(d)};  // the first gradient, undamped
      st.initialized = true;
    } else {
      mul_(st.buffers[0], opt_.momentum);
      add_(st.buffers[0], d, 1.0 - opt_.dampening);
    }
    const Tensor& buf = st.buffers[0];
    if (opt_.nesterov) {
      if (d.is_same(g)) d = clone_data(g);
      add_(d, buf, opt_.momentum);  // g + μ·buf
    } else {
      d = buf;
    }
  }
  add_(p, d, -ctx.lr);
}

}  // namespace atebm::nn
