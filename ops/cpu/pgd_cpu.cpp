#include "ops/cpu/pgd_cpu.h"

#include <algorithm>

#include "engine/cpu/strided_loop.h"
#include "engine/parallel.h"
#include "ops/kernels/pgd_math.h"

namespace atebm::cpu {
namespace {

// The formulas are those of ops/kernels/pgd_math.h (shared with CUDA); the loops and the serial
// per-sample sums in double are this file's.
using kernels::pgd::fixed;
using kernels::pgd::l2_delta;
using kernels::pgd::l2_element;
using kernels::pgd::linf_element;
using kernels::pgd::masked;

template <typename T>
void pgd_sample_l2(T* x, const T* g, const T* x0, const T* m, int64_t d, const PgdStep& s) {
  double gg = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double v = masked(g, m, j);
    gg += v * v;
  }
  const double scale = kernels::pgd::step_scale(gg, s.step_size);

  // Projection factor over the pixels that may move (δ = 0 elsewhere in use).
  double factor = 1.0;
  if (kernels::pgd::projects(s)) {
    double dd = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      if (fixed(m, j)) continue;
      const double delta = l2_delta(x[j], x0[j], masked(g, m, j), scale);
      dd += delta * delta;
    }
    factor = kernels::pgd::projection_factor(dd, s.eps);
  }

  for (int64_t j = 0; j < d; ++j) {
    if (fixed(m, j)) continue;
    x[j] = l2_element(x[j], x0[j], masked(g, m, j), scale, factor, s);
  }
}

template <typename T>
void pgd_sample_linf(T* x, const T* g, const T* x0, const T* m, int64_t d, const PgdStep& s) {
  const bool project = kernels::pgd::projects(s);
  for (int64_t j = 0; j < d; ++j) {
    if (fixed(m, j)) continue;
    x[j] = linf_element(x[j], x0[j], masked(g, m, j), project, s);
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
