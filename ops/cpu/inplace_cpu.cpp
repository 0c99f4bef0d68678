#include "ops/cpu/inplace_cpu.h"

#include "engine/cpu/strided_loop.h"
#include "ops/cpu/elementwise_cpu.h"
#include "ops/kernels/inplace_math.h"

namespace atebm::cpu {
namespace {

// The per-element math is the functors of ops/kernels/inplace_math.h, shared with CUDA.
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
    if (alpha == 1.0) return update1<T>(t, other, kernels::AddFn<T>{});
    update1<T>(t, other, kernels::AddScaledFn<T>{static_cast<T>(alpha)});
  });
}

void mul_scalar_inplace(const Tensor& t, double s) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "mul_", [&] {
    using T = scalar_t;
    update0<T>(t, kernels::MulScalarFn<T>{static_cast<T>(s)});
  });
}

void lerp_inplace(const Tensor& t, const Tensor& other, double w) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "lerp_", [&] {
    using T = scalar_t;
    const T wt = static_cast<T>(w);
    // Two branches chosen once, outside the loop: the one that is exact at its end point.
    if (w < 0.5) {
      update1<T>(t, other, kernels::LerpLowFn<T>{wt});
    } else {
      update1<T>(t, other, kernels::LerpHighFn<T>{T(1) - wt});
    }
  });
}

void addcmul_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "addcmul_", [&] {
    using T = scalar_t;
    update2<T>(t, a, b, kernels::AddcmulFn<T>{static_cast<T>(value)});
  });
}

void addcdiv_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "addcdiv_", [&] {
    using T = scalar_t;
    update2<T>(t, a, b, kernels::AddcdivFn<T>{static_cast<T>(value)});
  });
}

template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamScalars& s) {
  const kernels::AdamConsts<T> c = kernels::adam_consts<T>(s);
  parallel_for(0, n, kElementwiseGrain / 4, [&](int64_t b, int64_t e) {
    const kernels::AdamConsts<T> cc = c;  // a local copy: its fields are loop invariants
    T* __restrict pp = p;
    const T* __restrict gg = g;
    T* __restrict mm = m;
    T* __restrict vv = v;
#pragma omp simd
    for (int64_t i = b; i < e; ++i) kernels::adam_element(cc, pp[i], gg[i], mm[i], vv[i]);
  });
}

template void adam_update<float>(float*, const float*, float*, float*, int64_t, const AdamScalars&);
template void adam_update<double>(double*, const double*, double*, double*, int64_t, const AdamScalars&);

}  // namespace atebm::cpu
