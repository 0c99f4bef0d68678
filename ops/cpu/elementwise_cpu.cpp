#include "ops/cpu/elementwise_cpu.h"

#include <cmath>

#include "engine/cpu/strided_loop.h"
#include "engine/factories.h"

namespace atebm::cpu {
namespace {

// The inner runs are written three ways so that the compiler vectorises the common ones:
// all operands unit-stride, a broadcast scalar operand (stride 0), or anything else.
template <typename T, typename F>
void unary_loop(const Tensor& out, const Tensor& x, F f) {
  T* o = out.data<T>();
  const T* p = x.data<T>();
  strided_loop<2>(out.shape(), {out.strides().data(), x.strides().data()},
                  [&](int64_t n, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st) {
                    // A local copy of the functor: its captured scalars become loop invariants
                    // the compiler can prove safe to load, so conditional lambdas vectorise.
                    const F fn = f;
                    T* __restrict oo = o + off[0];
                    const T* __restrict xx = p + off[1];
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
inline T sigmoid_of(T v) {
  // Stable for any v: exp of a non-positive number only.
  if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
  const T e = std::exp(v);
  return e / (T(1) + e);
}

template <typename T>
inline T softplus_of(T v) {
  // log(1 + e^v) = max(v, 0) + log1p(e^-|v|)
  return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v)));
}

template <typename T>
void unary_typed(UnaryOp op, const Tensor& out, const Tensor& x, T a, T b) {
  switch (op) {
    case UnaryOp::Neg: return unary_loop<T>(out, x, [](T v) { return -v; });
    case UnaryOp::Exp: return unary_loop<T>(out, x, [](T v) { return std::exp(v); });
    case UnaryOp::Log: return unary_loop<T>(out, x, [](T v) { return std::log(v); });
    case UnaryOp::Log1p: return unary_loop<T>(out, x, [](T v) { return std::log1p(v); });
    case UnaryOp::Sqrt: return unary_loop<T>(out, x, [](T v) { return std::sqrt(v); });
    case UnaryOp::Rsqrt: return unary_loop<T>(out, x, [](T v) { return T(1) / std::sqrt(v); });
    case UnaryOp::Abs: return unary_loop<T>(out, x, [](T v) { return std::abs(v); });
    case UnaryOp::Sign: return unary_loop<T>(out, x, [](T v) { return T((v > T(0)) - (v < T(0))); });
    case UnaryOp::Relu: return unary_loop<T>(out, x, [](T v) { return v > T(0) ? v : T(0); });
    case UnaryOp::LeakyRelu: return unary_loop<T>(out, x, [a](T v) { return v > T(0) ? v : v * a; });
    case UnaryOp::Sigmoid: return unary_loop<T>(out, x, [](T v) { return sigmoid_of(v); });
    case UnaryOp::Softplus: return unary_loop<T>(out, x, [](T v) { return softplus_of(v); });
    case UnaryOp::Tanh: return unary_loop<T>(out, x, [](T v) { return std::tanh(v); });
    case UnaryOp::Silu: return unary_loop<T>(out, x, [](T v) { return v * sigmoid_of(v); });
    case UnaryOp::Clamp: return unary_loop<T>(out, x, [a, b](T v) { return std::min(std::max(v, a), b); });
    case UnaryOp::PowScalar:
      if (a == T(2)) return unary_loop<T>(out, x, [](T v) { return v * v; });
      return unary_loop<T>(out, x, [a](T v) { return std::pow(v, a); });
    case UnaryOp::AddScalar: return unary_loop<T>(out, x, [a](T v) { return v + a; });
    case UnaryOp::MulScalar: return unary_loop<T>(out, x, [a](T v) { return v * a; });
    case UnaryOp::RsubScalar: return unary_loop<T>(out, x, [a](T v) { return a - v; });
    case UnaryOp::Reciprocal: return unary_loop<T>(out, x, [](T v) { return T(1) / v; });
    case UnaryOp::Square: return unary_loop<T>(out, x, [](T v) { return v * v; });
    case UnaryOp::ReluMask: return unary_loop<T>(out, x, [](T v) { return v > T(0) ? T(1) : T(0); });
    case UnaryOp::LeakyMask: return unary_loop<T>(out, x, [a](T v) { return v > T(0) ? T(1) : a; });
    case UnaryOp::ClampMask:
      return unary_loop<T>(out, x, [a, b](T v) { return (v >= a && v <= b) ? T(1) : T(0); });
  }
}

template <typename T>
void binary_typed(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  switch (op) {
    case BinaryOp::Add: return binary_loop<T, T, T>(out, a, b, [](T x, T y) { return x + y; });
    case BinaryOp::Sub: return binary_loop<T, T, T>(out, a, b, [](T x, T y) { return x - y; });
    case BinaryOp::Mul: return binary_loop<T, T, T>(out, a, b, [](T x, T y) { return x * y; });
    case BinaryOp::Div: return binary_loop<T, T, T>(out, a, b, [](T x, T y) { return x / y; });
    case BinaryOp::Maximum: return binary_loop<T, T, T>(out, a, b, [](T x, T y) { return x > y ? x : y; });
    case BinaryOp::Minimum: return binary_loop<T, T, T>(out, a, b, [](T x, T y) { return x < y ? x : y; });
  }
}

template <typename T>
void compare_typed(CompareOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  switch (op) {
    case CompareOp::Eq: return binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x == y; });
    case CompareOp::Ne: return binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x != y; });
    case CompareOp::Lt: return binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x < y; });
    case CompareOp::Le: return binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x <= y; });
    case CompareOp::Gt: return binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x > y; });
    case CompareOp::Ge: return binary_loop<bool, T, T>(out, a, b, [](T x, T y) { return x >= y; });
  }
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
    Tensor st = empty({}, {.dtype = x.dtype()});
    *st.data<scalar_t>() = static_cast<scalar_t>(s);
    compare_typed<scalar_t>(op, out, x, st);
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
    auto run = [&](auto* pm) {
      strided_loop<4>(out.shape(), {out.strides().data(), sm.data(), sa.data(), sb.data()},
                      [&](int64_t n, const std::array<int64_t, 4>& off, const std::array<int64_t, 4>& st) {
                        for (int64_t i = 0; i < n; ++i)
                          o[off[0] + i * st[0]] = pm[off[1] + i * st[1]] != 0 ? pa[off[2] + i * st[2]]
                                                                                : pb[off[3] + i * st[3]];
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
    switch (mask_op) {
      case UnaryOp::ReluMask:
        return binary_loop<T, T, T>(out, g, x, [](T gv, T xv) { return xv > T(0) ? gv : T(0); });
      case UnaryOp::LeakyMask:
        return binary_loop<T, T, T>(out, g, x, [ta](T gv, T xv) { return xv > T(0) ? gv : gv * ta; });
      case UnaryOp::ClampMask:
        return binary_loop<T, T, T>(out, g, x,
                                    [ta, tb](T gv, T xv) { return (xv >= ta && xv <= tb) ? gv : T(0); });
      default: ATEBM_FAIL("masked_grad: unsupported mask op");
    }
  });
}

}  // namespace atebm::cpu
