#include "ops/cpu/pgd_cpu.h"

#include <algorithm>
#include <cmath>

#include "engine/cpu/strided_loop.h"
#include "engine/parallel.h"

namespace atebm::cpu {
namespace {

// Added to the gradient norm so a zero gradient gives a zero step (the reference code's 1e-10).
constexpr double kNormFloor = 1e-10;

double sign_of(double v) { return static_cast<double>((v > 0.0) - (v < 0.0)); }

// The masked gradient m⊙g of element j (m = 1 without a mask).
template <typename T>
double masked(const T* g, const T* m, int64_t j) {
  return m ? static_cast<double>(m[j]) * static_cast<double>(g[j]) : static_cast<double>(g[j]);
}

template <typename T>
void pgd_sample_l2(T* x, const T* g, const T* x0, const T* m, int64_t d, const PgdStep& s) {
  double gg = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double v = masked(g, m, j);
    gg += v * v;
  }
  const double scale = s.step_size / (std::sqrt(gg) + kNormFloor);
  auto stepped = [&](int64_t j) { return static_cast<double>(x[j]) + scale * masked(g, m, j); };

  // Projection factor min(1, ε / ||δ||) over the pixels that may move (δ = 0 elsewhere in use).
  double factor = 1.0;
  if (std::isfinite(s.eps)) {
    double dd = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      if (m && m[j] == T(0)) continue;
      const double delta = stepped(j) - static_cast<double>(x0[j]);
      dd += delta * delta;
    }
    const double dn = std::sqrt(dd);
    if (dn > s.eps) factor = s.eps / dn;
  }

  for (int64_t j = 0; j < d; ++j) {
    if (m && m[j] == T(0)) continue;
    double v = stepped(j);
    if (factor != 1.0) v = static_cast<double>(x0[j]) + (v - static_cast<double>(x0[j])) * factor;
    x[j] = static_cast<T>(std::clamp(v, s.lo, s.hi));
  }
}

template <typename T>
void pgd_sample_linf(T* x, const T* g, const T* x0, const T* m, int64_t d, const PgdStep& s) {
  const bool project = std::isfinite(s.eps);
  for (int64_t j = 0; j < d; ++j) {
    if (m && m[j] == T(0)) continue;
    double v = static_cast<double>(x[j]) + s.step_size * sign_of(masked(g, m, j));
    if (project) {
      const double base = static_cast<double>(x0[j]);
      v = base + std::clamp(v - base, -s.eps, s.eps);
    }
    x[j] = static_cast<T>(std::clamp(v, s.lo, s.hi));
  }
}

}  // namespace

template <typename T>
void pgd_update(T* x, const T* g, const T* x0, const T* mask, int64_t n, int64_t d, const PgdStep& s) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(d, 1));
  parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t off = i * d;
      const T* m = mask ? mask + off : nullptr;
      if (s.norm == PgdNorm::L2) {
        pgd_sample_l2(x + off, g + off, x0 + off, m, d, s);
      } else {
        pgd_sample_linf(x + off, g + off, x0 + off, m, d, s);
      }
    }
  });
}

template void pgd_update<float>(float*, const float*, const float*, const float*, int64_t, int64_t, const PgdStep&);
template void pgd_update<double>(double*, const double*, const double*, const double*, int64_t, int64_t,
                                 const PgdStep&);

}  // namespace atebm::cpu
