#include "at_ebm/method/pgd.h"

#include <cmath>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

void check_options(const Tensor& start, const PgdOptions& opt) {
  ATEBM_CHECK(start.defined(), "pgd: the start batch is an undefined tensor");
  ATEBM_CHECK(is_floating(start.dtype()), "pgd: expected a float32 or float64 start batch, got {}", start.dtype());
  ATEBM_CHECK(start.dim() >= 1, "pgd: expected a start batch of shape [N, ...], got a 0-dim tensor");
  ATEBM_CHECK(opt.steps >= 0, "pgd: steps must be >= 0, got {}", opt.steps);
  ATEBM_CHECK(opt.step_size >= 0.0 && std::isfinite(opt.step_size), "pgd: step size must be finite and >= 0, got {}",
              opt.step_size);
  ATEBM_CHECK(opt.eps >= 0.0, "pgd: eps must be >= 0 (infinity: unconstrained), got {}", opt.eps);
  ATEBM_CHECK(!opt.random_start || std::isfinite(opt.eps),
              "pgd: random start needs a finite eps (the radius of the ball to draw from), got eps = {}", opt.eps);
  ATEBM_CHECK(opt.lo <= opt.hi, "pgd: clamp bounds must satisfy lo <= hi, got lo = {}, hi = {}", opt.lo, opt.hi);
  if (opt.mask.defined()) {
    ATEBM_CHECK(broadcasts_to(opt.mask.shape(), start.shape()),
                "pgd: mask of shape {} does not broadcast to the batch shape {}", shape_str(opt.mask.shape()),
                shape_str(start.shape()));
  }
}

// [N] → [N, 1, ..., 1] with x's rank, to scale whole samples.
Tensor per_sample(const Tensor& v, const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[0] = x.size(0);
  return reshape(v, s);
}

// A uniform random point of the ε-ball around x0, restricted to the pixels the mask lets move
// (no grad mode). L∞: δ ~ U[−ε, ε] per element. L2: a direction uniform on the sphere (a
// normal vector, normalised) times the radius ε·u^(1/k), u ~ U[0, 1), k the number of movable
// elements of the sample: the density of that radius (∝ r^(k−1)) makes the point uniform in
// the k-dimensional ball. Then clamped to [lo, hi]; fixed pixels keep their start value.
// `mask`: undefined, or x0's shape and dtype.
Tensor random_start(const Tensor& x0, const Tensor& mask, const PgdOptions& opt, Generator& gen) {
  const TensorOptions o{.dtype = x0.dtype(), .device = x0.device()};
  const Tensor movable = mask.defined() ? ne(mask, 0.0) : Tensor();
  Tensor delta;
  if (opt.norm == PgdNorm::Linf) {
    delta = uniform(x0.shape(), -opt.eps, opt.eps, o, &gen);
    if (movable.defined()) delta = where(movable, delta, 0.0);
  } else {
    Tensor z = randn(x0.shape(), o, &gen);
    if (movable.defined()) z = where(movable, z, 0.0);
    const Tensor u = rand({x0.size(0)}, o, &gen);
    Tensor k = full({x0.size(0)}, static_cast<double>(x0.numel() / x0.size(0)), o);
    if (movable.defined()) {
      std::vector<int64_t> rest;
      for (int64_t d = 1; d < x0.dim(); ++d) rest.push_back(d);
      k = sum(where(movable, ones_like(x0), 0.0), rest);
    }
    // u^(1/k) as exp(log(u) / k): u = 0 or k = 0 give radius 0, never NaN.
    const Tensor radius = mul(exp(div(log(u), k)), opt.eps);
    const Tensor zn = clamp(l2_norm_per_sample(z), 1e-30, std::numeric_limits<double>::infinity());
    delta = mul(z, per_sample(div(radius, zn), z));
  }
  Tensor x = clamp(add(x0, delta), opt.lo, opt.hi);
  if (movable.defined()) x = where(movable, x, x0);
  return contiguous(x);
}

// f(x) and ∇x Σ_i f(x)_i at the current iterate, with grad mode on whatever the caller's mode
// is. The scores come back without history.
struct ScoresAndGradient {
  Tensor scores, gradient;
};
ScoresAndGradient input_gradient(const ScoreFn& f, const Tensor& x) {
  GradModeGuard grad_on(true);
  const Tensor xg = detach(x).set_requires_grad(true);
  const Tensor y = f(xg);
  ATEBM_CHECK(y.defined() && y.dim() == 1 && y.size(0) == x.size(0),
              "pgd: the score function must return shape [{}] (one logit per sample), got {}", x.size(0),
              y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
  Tensor g = grad({sum(y)}, {xg})[0];
  return {detach(y), std::move(g)};
}

}  // namespace

FreezeParameters::FreezeParameters(const nn::NamedTensors& params) {
  saved_.reserve(params.size());
  for (const auto& [name, t] : params) {
    if (!t.defined() || !t.is_leaf()) continue;
    saved_.emplace_back(t, t.requires_grad());
    Tensor(t).set_requires_grad(false);
  }
}

FreezeParameters::~FreezeParameters() {
  for (auto& [t, flag] : saved_) t.set_requires_grad(flag);
}

Tensor pgd(const ScoreFn& f, const Tensor& start, const PgdOptions& opt, const nn::NamedTensors& params,
           Generator& gen, const PgdObserver& observer) {
  return pgd_scored(f, start, opt, params, gen, observer).x;
}

PgdResult pgd_scored(const ScoreFn& f, const Tensor& start, const PgdOptions& opt, const nn::NamedTensors& params,
                     Generator& gen, const PgdObserver& observer) {
  check_options(start, opt);
  FreezeParameters frozen(params);
  const Tensor x0 = copy_to(start, start.device(), start.dtype());  // contiguous, no history
  Tensor mask, x;
  {
    NoGradGuard no_grad;
    // The mask expanded once to the batch's shape, dtype and device: no step expands it again.
    if (opt.mask.defined()) mask = copy_to(expand(detach(opt.mask), x0.shape()), x0.device(), x0.dtype());
    x = opt.random_start ? random_start(x0, mask, opt, gen) : copy_to(x0, x0.device(), x0.dtype());
  }
  PgdResult r;
  for (int64_t k = 1; k <= opt.steps; ++k) {
    Tensor scores = pgd_step_(f, x, x0, opt, mask);
    if (k == 1) r.first_scores = std::move(scores);
    if (observer) observer(k, x);
  }
  r.x = std::move(x);
  return r;
}

Tensor pgd_step_(const ScoreFn& f, const Tensor& x, const Tensor& x0, const PgdOptions& opt, const Tensor& mask) {
  const PgdStep step{.step_size = opt.step_size, .eps = opt.eps, .norm = opt.norm, .lo = opt.lo, .hi = opt.hi};
  auto [scores, g] = input_gradient(f, x);
  NoGradGuard no_grad;
  // An f that returns a view of its input (a test's f(x) = x[:, 0]) would see the update below.
  if (scores.storage() == x.storage()) scores = clone(scores);
  if (opt.descent) g = neg(g);  // out of place: the engine may return a view (e.g. an expanded 1)
  pgd_update_(x, g, x0, step, mask);
  return scores;
}

}  // namespace atebm::at_ebm
