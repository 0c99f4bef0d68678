#include "ops/cpu/elementwise_cpu.h"

#include "engine/cpu/strided_loop.h"
#include "ops/kernels/elementwise_math.h"

namespace atebm::cpu {
namespace {

// The per-element math is the functors of ops/kernels/elementwise_math.h, shared with CUDA.
// The inner runs are written three ways so that the compiler vectorises the common ones:
// all operands unit-stride, a broadcast scalar operand (stride 0), or anything else.
template <typename TO, typename TI, typename F>
void unary_loop(const Tensor& out, const Tensor& x, F f) {
  TO* o = static_cast<TO*>(out.raw_data());
  const TI* p = static_cast<const TI*>(x.raw_data());
  strided_loop<2>(out.shape(), {out.strides().data(), x.strides().data()},
                  [&](int64_t n, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st) {
                    // A local copy of the functor: its scalars become loop invariants the
                    // compiler can prove safe to load, so conditional functors vectorise.
                    const F fn = f;
                    TO* __restrict oo = o + off[0];
                    const TI* __restrict xx = p + off[1];
                    if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) oo[i] = fn(xx[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) oo[i * st[0]] = fn(xx[i * st[1]]);
                    }
                  });
}

template <typename TO, typename TA, typename TB, typename F>
void binary_loop(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  TO* o = static_cast<TO*>(out.raw_data());
  const TA* pa = static_cast<const TA*>(a.raw_data());
  const TB* pb = static_cast<const TB*>(b.raw_data());
  const Shape sa = broadcast_strides(a, out.shape()), sb = broadcast_strides(b, out.shape());
  strided_loop<3>(out.shape(), {out.strides().data(), sa.data(), sb.data()},
                  [&](int64_t n, const std::array<int64_t, 3>& off, const std::array<int64_t, 3>& st) {
                    const F fn = f;
                    TO* __restrict oo = o + off[0];
                    const TA* __restrict aa = pa + off[1];
                    const TB* __restrict bb = pb + off[2];
                    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) oo[i] = fn(aa[i], bb[i]);
                    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
                      const TB s = bb[0];
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) oo[i] = fn(aa[i], s);
                    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
                      const TA s = aa[0];
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) oo[i] = fn(s, bb[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) oo[i * st[0]] = fn(aa[i * st[1]], bb[i * st[2]]);
                    }
                  });
}

template <typename T>
void unary_typed(UnaryOp op, const Tensor& out, const Tensor& x, T a, T b) {
  kernels::visit_op(kernels::unary_op_for(op, a), [&](auto k) {
    unary_loop<T, T>(out, x, kernels::UnaryFn<decltype(k)::value, T>{a, b});
  });
}

template <typename T>
void binary_typed(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  kernels::visit_op(op, [&](auto k) {
    binary_loop<T, T, T>(out, a, b, kernels::BinaryFn<decltype(k)::value, T>{});
  });
}

template <typename T>
void compare_typed(CompareOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  kernels::visit_op(op, [&](auto k) {
    binary_loop<bool, T, T>(out, a, b, kernels::CompareFn<decltype(k)::value, T>{});
  });
}

template <typename T>
void compare_scalar_typed(CompareOp op, const Tensor& out, const Tensor& x, T s) {
  kernels::visit_op(op, [&](auto k) {
    unary_loop<bool, T>(out, x, kernels::CompareScalarFn<decltype(k)::value, T>{s});
  });
}

}  // namespace

Shape broadcast_strides(const Tensor& t, const Shape& out) {
  Shape st(out.size(), 0);
  const size_t lead = out.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i)
    st[lead + i] = t.shape()[i] == 1 && out[lead + i] != 1 ? 0 : t.strides()[i];
  return st;
}

void unary(UnaryOp op, const Tensor& out, const Tensor& x, double a, double b) {
  ATEBM_DISPATCH_FLOATING(x.dtype(), "unary", [&] {
    unary_typed<scalar_t>(op, out, x, static_cast<scalar_t>(a), static_cast<scalar_t>(b));
  });
}

void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  ATEBM_DISPATCH_FLOATING(out.dtype(), "binary", [&] { binary_typed<scalar_t>(op, out, a, b); });
}

void compare(CompareOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  ATEBM_DISPATCH_ALL(a.dtype(), "compare", [&] { compare_typed<scalar_t>(op, out, a, b); });
}

void compare_scalar(CompareOp op, const Tensor& out, const Tensor& x, double s) {
  ATEBM_DISPATCH_ALL(x.dtype(), "compare", [&] {
    compare_scalar_typed<scalar_t>(op, out, x, static_cast<scalar_t>(s));
  });
}

void where(const Tensor& out, const Tensor& mask, const Tensor& a, const Tensor& b) {
  ATEBM_DISPATCH_FLOATING(out.dtype(), "where", [&] {
    using T = scalar_t;
    // Broadcast a and b first into out-shaped strided views, then do a 3-operand loop with mask.
    T* o = out.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const Shape sm = broadcast_strides(mask, out.shape()), sa = broadcast_strides(a, out.shape()),
                sb = broadcast_strides(b, out.shape());
    auto run = [&]<typename M>(const M* pm) {
      const kernels::WhereFn<T, M> fn{};
      strided_loop<4>(out.shape(), {out.strides().data(), sm.data(), sa.data(), sb.data()},
                      [&](int64_t n, const std::array<int64_t, 4>& off, const std::array<int64_t, 4>& st) {
                        for (int64_t i = 0; i < n; ++i)
                          o[off[0] + i * st[0]] =
                              fn(pm[off[1] + i * st[1]], pa[off[2] + i * st[2]], pb[off[3] + i * st[3]]);
                      });
    };
    if (mask.dtype() == DType::Bool) {
      run(mask.data<bool>());
    } else {
      run(mask.data<T>());
    }
  });
}

void masked_grad(UnaryOp mask_op, const Tensor& out, const Tensor& g, const Tensor& x, double a, double b) {
  ATEBM_DISPATCH_FLOATING(out.dtype(), "masked_grad", [&] {
    using T = scalar_t;
    const T ta = static_cast<T>(a), tb = static_cast<T>(b);
    kernels::visit_mask_op(mask_op, [&](auto k) {
      binary_loop<T, T, T>(out, g, x, kernels::MaskedGradFn<decltype(k)::value, T>{ta, tb});
    });
  });
}

}  // namespace atebm::cpu
