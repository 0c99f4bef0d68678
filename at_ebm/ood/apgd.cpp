#include "at_ebm/ood/apgd.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

void check_start(const Tensor& start) {
  ATEBM_CHECK(start.defined() && start.dim() >= 1 && start.size(0) >= 1,
              "apgd: expected a start batch [N, ...] with N >= 1, got {}",
              start.defined() ? shape_str(start.shape()) : std::string("an undefined tensor"));
  ATEBM_CHECK(is_floating(start.dtype()), "apgd: expected a float32 or float64 start batch, got {}", start.dtype());
}

// Per-sample values as a [N, 1, ..., 1] tensor of x's rank, dtype and device (to scale or
// select whole samples by broadcasting).
Tensor column(const std::vector<double>& v, const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[0] = static_cast<int64_t>(v.size());
  return from_vector<double>(v, s, {.dtype = x.dtype(), .device = x.device()});
}

Tensor column_mask(const std::vector<bool>& m, const Tensor& x) {
  std::vector<double> v(m.size());
  for (size_t i = 0; i < m.size(); ++i) v[i] = m[i] ? 1.0 : 0.0;
  return column(v, x);
}

// [N] → [N, 1, ..., 1] of x's rank.
Tensor per_sample(const Tensor& v, const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[0] = x.size(0);
  return reshape(v, s);
}

struct ValueGrad {
  std::vector<double> value;  // f(x) per sample
  Tensor grad;                // ∇x Σ f(x), no history
};

ValueGrad value_and_grad(const ScoreFn& f, const Tensor& x) {
  GradModeGuard grad_on(true);
  const Tensor xg = detach(x).set_requires_grad(true);
  const Tensor y = f(xg);
  ATEBM_CHECK(y.defined() && y.dim() == 1 && y.size(0) == x.size(0),
              "apgd: the score function must return shape [{}] (one score per sample), got {}", x.size(0),
              y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
  Tensor g = grad({sum(y)}, {xg})[0];
  return {detach(y).to_vector<double>(), detach(g)};
}

std::vector<double> value_only(const ScoreFn& f, const Tensor& x) {
  NoGradGuard no_grad;
  const Tensor y = f(x);
  ATEBM_CHECK(y.defined() && y.dim() == 1 && y.size(0) == x.size(0),
              "apgd: the score function must return shape [{}] (one score per sample), got {}", x.size(0),
              y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
  return y.to_vector<double>();
}

// The geometry of one attack: the ball around x0 and the steepest-ascent direction of its norm.
// Every function runs without grad mode on tensors without history.
struct Ball {
  Tensor x0;
  double eps;
  PgdNorm norm;
  double lo, hi;

  // Projection onto the ball, then the clamp (AutoAttack's order; not the exact projection
  // onto the intersection, but the result lies in both).
  Tensor project(const Tensor& y) const {
    Tensor d = sub(y, x0);
    if (norm == PgdNorm::L2) {
      const Tensor dn = l2_norm_per_sample(d);
      d = mul(d, per_sample(where(gt(dn, eps), rdiv(eps, dn), 1.0), d));
    } else {
      d = clamp(d, -eps, eps);
    }
    return clamp(add(x0, d), lo, hi);
  }

  // g/||g||₂ (the floor 1e-12 makes a zero gradient a zero step) or sign(g).
  Tensor direction(const Tensor& g) const {
    if (norm == PgdNorm::Linf) return sign(g);
    return div(g, per_sample(add(l2_norm_per_sample(g), 1e-12), g));
  }

  // A random point on the ε-sphere of the norm around x0, clamped.
  Tensor random_start(Generator& gen) const {
    const TensorOptions o{.dtype = x0.dtype(), .device = x0.device()};
    Tensor t;
    if (norm == PgdNorm::L2) {
      t = randn(x0.shape(), o, &gen);
      t = div(t, per_sample(add(l2_norm_per_sample(t), 1e-12), t));
    } else {
      t = uniform(x0.shape(), -1.0, 1.0, o, &gen);
      Tensor flat = reshape(abs(t), {t.size(0), -1});
      t = div(t, per_sample(add(max(flat, 1).values, 1e-12), t));
    }
    return contiguous(clamp(add(x0, mul(t, eps)), lo, hi));
  }
};

// One restart of APGD (see the header). Returns the best point and value of this restart.
AttackResult apgd_run(const ScoreFn& f, const Ball& ball, const ApgdOptions& opt, const std::vector<int64_t>& checks,
                      Generator& gen) {
  const auto n = static_cast<size_t>(ball.x0.size(0));
  Tensor x;
  {
    NoGradGuard no_grad;
    x = ball.random_start(gen);
  }
  ValueGrad vg = value_and_grad(f, x);
  Tensor grad = vg.grad;
  Tensor best_x = x, best_g = grad;
  std::vector<double> best_f = vg.value, last_f = vg.value;

  std::vector<double> eta(n, 2.0 * opt.eps);
  std::vector<int64_t> successes(n, 0);          // f(x^{k+1}) > f(x^k) since the last checkpoint
  std::vector<bool> halved_last(n, true);        // the reference code's start value
  std::vector<double> best_at_last_check = best_f;
  size_t next_check = 1;
  Tensor x_prev = x;

  for (int64_t k = 0; k < opt.iterations; ++k) {
    {
      NoGradGuard no_grad;
      const double a = k == 0 ? 1.0 : opt.momentum;
      const Tensor z = ball.project(add(x, mul(ball.direction(grad), column(eta, x))));
      const Tensor y = add(add(x, mul(sub(z, x), a)), mul(sub(x, x_prev), 1.0 - a));
      x_prev = x;
      x = contiguous(ball.project(y));
    }
    vg = value_and_grad(f, x);
    grad = vg.grad;

    std::vector<bool> improved(n, false);
    bool any_improved = false;
    for (size_t i = 0; i < n; ++i) {
      if (vg.value[i] > last_f[i]) ++successes[i];
      last_f[i] = vg.value[i];
      if (vg.value[i] > best_f[i]) {
        best_f[i] = vg.value[i];
        improved[i] = any_improved = true;
      }
    }
    if (any_improved) {
      NoGradGuard no_grad;
      const Tensor m = column_mask(improved, x);
      best_x = where(m, x, best_x);
      best_g = where(m, grad, best_g);
    }

    if (next_check >= checks.size() || k + 1 != checks[next_check]) continue;
    // Checkpoint w_j: halve η and restart from the best point where progress stalled.
    const int64_t h = checks[next_check] - checks[next_check - 1];
    ++next_check;
    std::vector<bool> reduce(n, false);
    bool any_reduce = false;
    for (size_t i = 0; i < n; ++i) {
      const bool oscillating = static_cast<double>(successes[i]) <= opt.rho * static_cast<double>(h);
      const bool stalled = !halved_last[i] && best_at_last_check[i] >= best_f[i];
      reduce[i] = oscillating || stalled;
      any_reduce = any_reduce || reduce[i];
      if (reduce[i]) eta[i] /= 2.0;
      halved_last[i] = reduce[i];
      best_at_last_check[i] = best_f[i];
      successes[i] = 0;
    }
    if (any_reduce) {
      NoGradGuard no_grad;
      const Tensor m = column_mask(reduce, x);
      x = contiguous(where(m, best_x, x));
      grad = where(m, best_g, grad);
    }
  }
  return {best_x, best_f};
}

}  // namespace

void check_apgd_options(const ApgdOptions& opt) {
  ATEBM_CHECK(opt.iterations >= 1, "apgd: iterations must be >= 1, got {}", opt.iterations);
  ATEBM_CHECK(opt.restarts >= 1, "apgd: restarts must be >= 1, got {}", opt.restarts);
  ATEBM_CHECK(std::isfinite(opt.eps) && opt.eps >= 0.0, "apgd: eps must be finite and >= 0, got {}", opt.eps);
  ATEBM_CHECK(opt.rho >= 0.0 && opt.rho <= 1.0, "apgd: rho must lie in [0, 1], got {}", opt.rho);
  ATEBM_CHECK(opt.momentum >= 0.0 && opt.momentum <= 1.0, "apgd: momentum must lie in [0, 1], got {}",
              opt.momentum);
  ATEBM_CHECK(opt.lo <= opt.hi, "apgd: clamp bounds must satisfy lo <= hi, got lo = {}, hi = {}", opt.lo, opt.hi);
}

std::vector<int64_t> apgd_checkpoints(int64_t iterations) {
  ATEBM_CHECK(iterations >= 1, "apgd_checkpoints: iterations must be >= 1, got {}", iterations);
  // Python's int() of the same double products, as the reference code computes them.
  const double n = static_cast<double>(iterations);
  const int64_t first = std::max<int64_t>(static_cast<int64_t>(0.22 * n), 1);
  const int64_t shrink = std::max<int64_t>(static_cast<int64_t>(0.03 * n), 1);
  const int64_t shortest = std::max<int64_t>(static_cast<int64_t>(0.06 * n), 1);
  std::vector<int64_t> w = {0};
  for (int64_t h = first; w.back() + h <= iterations; h = std::max(h - shrink, shortest)) w.push_back(w.back() + h);
  return w;
}

AttackResult apgd(const ScoreFn& f, const Tensor& start, const ApgdOptions& opt, const nn::NamedTensors& params,
                  Generator& gen) {
  check_start(start);
  check_apgd_options(opt);
  FreezeParameters frozen(params);
  const Ball ball{copy_to(start, start.device(), start.dtype()), opt.eps, opt.norm, opt.lo, opt.hi};
  const std::vector<int64_t> checks = apgd_checkpoints(opt.iterations);

  // The centre of the ball is a candidate too: no attack ends below the clean score.
  AttackResult best{ball.x0, value_only(f, ball.x0)};
  for (int64_t r = 0; r < opt.restarts; ++r) {
    AttackResult run = apgd_run(f, ball, opt, checks, gen);
    std::vector<bool> better(best.score.size(), false);
    bool any = false;
    for (size_t i = 0; i < better.size(); ++i) {
      if (run.score[i] > best.score[i]) {
        best.score[i] = run.score[i];
        better[i] = any = true;
      }
    }
    if (!any) continue;
    NoGradGuard no_grad;
    best.x = where(column_mask(better, best.x), run.x, best.x);
  }
  NoGradGuard no_grad;
  best.x = contiguous(best.x);
  return best;
}

}  // namespace atebm::at_ebm
