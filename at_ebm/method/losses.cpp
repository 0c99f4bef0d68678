#include "at_ebm/method/losses.h"

#include <cmath>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

// f's output for a batch of n samples must be [n] (one logit each).
void check_logits(const Tensor& y, int64_t n, const char* what) {
  ATEBM_CHECK(y.defined() && y.dim() == 1 && y.size(0) == n,
              "adversarial loss: the score function must return shape [{}] for the {} batch, got {}", n, what,
              y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
}

void check_batch(const Tensor& x, const char* what) {
  ATEBM_CHECK(x.defined(), "adversarial loss: the {} batch is an undefined tensor", what);
  ATEBM_CHECK(is_floating(x.dtype()), "adversarial loss: the {} batch must be float32 or float64, got {}", what,
              x.dtype());
  ATEBM_CHECK(x.dim() >= 1 && x.size(0) > 0, "adversarial loss: the {} batch must be [N, ...] with N > 0, got {}",
              what, shape_str(x.shape()));
}

}  // namespace

Tensor r1_penalty(const ScoreFn& f, const Tensor& x, Tensor* logits) {
  check_batch(x, "R1");
  ATEBM_CHECK(!x.requires_grad(),
              "r1_penalty: the batch (shape {}) requires grad; pass a tensor without history (detach it)",
              shape_str(x.shape()));
  // Grad mode on whatever the caller's mode: R1 is only useful with its graph.
  GradModeGuard grad_on(true);
  const Tensor xg = detach(x).set_requires_grad(true);
  const Tensor y = f(xg);
  check_logits(y, x.size(0), "R1");
  // create_graph: the input gradient is itself a graph of f's parameters (double backward).
  // It also retains y's graph, so the caller may reuse the logits in the BCE term.
  const Tensor gx = grad({sum(y)}, {xg}, {}, {.create_graph = true})[0];
  const Tensor r1 = mul(sum(square(gx)), 0.5 / static_cast<double>(x.size(0)));
  if (logits) *logits = y;
  return r1;
}

LossTerms adversarial_loss(const ScoreFn& f, const Tensor& x_real, const Tensor& x_fake, double r1_weight,
                           bool compute_r1) {
  check_batch(x_real, "real");
  check_batch(x_fake, "fake");
  ATEBM_CHECK(std::isfinite(r1_weight) && r1_weight >= 0.0, "adversarial loss: R1 weight must be finite and >= 0, got {}",
              r1_weight);
  LossTerms out;
  if (compute_r1) {
    out.r1 = r1_penalty(f, x_real, &out.logits_real);
  } else {
    out.logits_real = f(x_real);
    check_logits(out.logits_real, x_real.size(0), "real");
  }
  out.logits_fake = f(x_fake);
  check_logits(out.logits_fake, x_fake.size(0), "fake");

  const TensorOptions o{.dtype = out.logits_real.dtype(), .device = out.logits_real.device()};
  const Tensor target = cat({ones({x_real.size(0)}, o), zeros({x_fake.size(0)}, o)});
  out.bce = binary_cross_entropy_with_logits(cat({out.logits_real, out.logits_fake}), target);
  out.loss = compute_r1 ? add(out.bce, mul(out.r1, r1_weight)) : out.bce;
  return out;
}

}  // namespace atebm::at_ebm
