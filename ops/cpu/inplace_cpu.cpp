#include "ops/cpu/inplace_cpu.h"

#include <cmath>

#include "engine/cpu/strided_loop.h"
#include "ops/cpu/elementwise_cpu.h"

namespace atebm::cpu {
namespace {

// t[i] = f(t[i], a[i]) (a broadcast to t). Contiguous operands coalesce to one unit-stride run,
// which takes the vectorised branch; a broadcast scalar operand takes the second.
template <typename T, typename F>
void update1(const Tensor& t, const Tensor& a, F f) {
  T* pt = t.data<T>();
  const T* pa = a.data<T>();
  const Shape sa = broadcast_strides(a, t.shape());
  strided_loop<2>(t.shape(), {t.strides().data(), sa.data()},
                  [&](int64_t n, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st) {
                    T* __restrict tt = pt + off[0];
                    const T* __restrict aa = pa + off[1];
                    if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) tt[i] = f(tt[i], aa[i]);
                    } else if (st[0] == 1 && st[1] == 0) {
                      const T s = aa[0];
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) tt[i] = f(tt[i], s);
                    } else {
                      for (int64_t i = 0; i < n; ++i) tt[i * st[0]] = f(tt[i * st[0]], aa[i * st[1]]);
                    }
                  });
}

// t[i] = f(t[i], a[i], b[i]) (a, b broadcast to t).
template <typename T, typename F>
void update2(const Tensor& t, const Tensor& a, const Tensor& b, F f) {
  T* pt = t.data<T>();
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  const Shape sa = broadcast_strides(a, t.shape()), sb = broadcast_strides(b, t.shape());
  strided_loop<3>(t.shape(), {t.strides().data(), sa.data(), sb.data()},
                  [&](int64_t n, const std::array<int64_t, 3>& off, const std::array<int64_t, 3>& st) {
                    T* __restrict tt = pt + off[0];
                    const T* __restrict aa = pa + off[1];
                    const T* __restrict bb = pb + off[2];
                    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) tt[i] = f(tt[i], aa[i], bb[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i)
                        tt[i * st[0]] = f(tt[i * st[0]], aa[i * st[1]], bb[i * st[2]]);
                    }
                  });
}

// t[i] = f(t[i]) for the scalar-only updates.
template <typename T, typename F>
void update0(const Tensor& t, F f) {
  T* pt = t.data<T>();
  strided_loop<1>(t.shape(), {t.strides().data()},
                  [&](int64_t n, const std::array<int64_t, 1>& off, const std::array<int64_t, 1>& st) {
                    T* __restrict tt = pt + off[0];
                    if (st[0] == 1) {
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) tt[i] = f(tt[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) tt[i * st[0]] = f(tt[i * st[0]]);
                    }
                  });
}

}  // namespace

void add_scaled_inplace(const Tensor& t, const Tensor& other, double alpha) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "add_", [&] {
    using T = scalar_t;
    const T a = static_cast<T>(alpha);
    if (alpha == 1.0) return update1<T>(t, other, [](T x, T o) { return x + o; });
    update1<T>(t, other, [a](T x, T o) { return x + a * o; });
  });
}

void mul_scalar_inplace(const Tensor& t, double s) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "mul_", [&] {
    using T = scalar_t;
    const T k = static_cast<T>(s);
    update0<T>(t, [k](T x) { return x * k; });
  });
}

void lerp_inplace(const Tensor& t, const Tensor& other, double w) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "lerp_", [&] {
    using T = scalar_t;
    const T wt = static_cast<T>(w);
    const T one_minus = T(1) - wt;
    // Two branches chosen once, outside the loop: the one that is exact at its end point.
    if (w < 0.5) {
      update1<T>(t, other, [wt](T x, T o) { return x + wt * (o - x); });
    } else {
      update1<T>(t, other, [one_minus](T x, T o) { return o - (o - x) * one_minus; });
    }
  });
}

void addcmul_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "addcmul_", [&] {
    using T = scalar_t;
    const T k = static_cast<T>(value);
    update2<T>(t, a, b, [k](T x, T u, T v) { return x + k * u * v; });
  });
}

void addcdiv_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "addcdiv_", [&] {
    using T = scalar_t;
    const T k = static_cast<T>(value);
    update2<T>(t, a, b, [k](T x, T u, T v) { return x + k * u / v; });
  });
}

template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamScalars& s) {
  const T beta2 = static_cast<T>(s.beta2);
  const T one_minus_beta2 = static_cast<T>(1.0 - s.beta2);
  const T w1 = static_cast<T>(1.0 - s.beta1);  // lerp weight of m toward g
  const T one_minus_w1 = T(1) - w1;
  const bool w1_low = 1.0 - s.beta1 < 0.5;
  const T eps = static_cast<T>(s.eps);
  const T neg_step = static_cast<T>(-s.step_size);
  const T bc2 = static_cast<T>(s.bias_correction2_sqrt);
  const T wd = static_cast<T>(s.weight_decay);
  const T scale = static_cast<T>(s.param_scale);
  const bool has_wd = s.weight_decay != 0.0, has_scale = s.param_scale != 1.0;
  parallel_for(0, n, kElementwiseGrain / 4, [&](int64_t b, int64_t e) {
    T* __restrict pp = p;
    const T* __restrict gg = g;
    T* __restrict mm = m;
    T* __restrict vv = v;
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      T pi = pp[i];
      if (has_scale) pi = pi * scale;
      T gi = gg[i];
      if (has_wd) gi = gi + wd * pi;
      const T mi = w1_low ? mm[i] + w1 * (gi - mm[i]) : gi - (gi - mm[i]) * one_minus_w1;
      const T vi = vv[i] * beta2 + one_minus_beta2 * gi * gi;
      const T denom = std::sqrt(vi) / bc2 + eps;
      mm[i] = mi;
      vv[i] = vi;
      pp[i] = pi + neg_step * mi / denom;
    }
  });
}

template void adam_update<float>(float*, const float*, float*, float*, int64_t, const AdamScalars&);
template void adam_update<double>(double*, const double*, double*, double*, int64_t, const AdamScalars&);

}  // namespace atebm::cpu
