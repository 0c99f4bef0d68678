#pragma once
// The per-element math of the elementwise ops, written once for both backends: the CPU loops of
// ops/cpu/elementwise_cpu.cpp and the CUDA kernels of ops/cuda/elementwise.cu instantiate these
// same functors, so the CPU tests run exactly the per-element code the GPU runs. The NaN and
// tie rules are stated at each functor; the loops (strides, broadcasting, threads) stay in the
// backends.
//
// Plain C++ that also compiles under nvcc: everything a kernel calls is ATEBM_HD. Math goes
// through the C library names (::expf for float, ::exp for double, ...), so float math stays
// in float. On the host these are the very functions std::exp(float) & co. call in libstdc++
// (std::exp(float) is __builtin_expf → expf); on the device they are CUDA's math library.
//
// Scalars (a, b, s) arrive already rounded to T, once, by the caller.
#include <cmath>
#include <type_traits>

#include "engine/error.h"
#include "engine/host_device.h"
#include "ops/cpu/elementwise_cpu.h"

namespace atebm::kernels {

using cpu::BinaryOp;
using cpu::CompareOp;
using cpu::UnaryOp;

// ---- math by type -------------------------------------------------------------------------------
ATEBM_HD float exp_of(float v) { return ::expf(v); }
ATEBM_HD double exp_of(double v) { return ::exp(v); }
ATEBM_HD float log_of(float v) { return ::logf(v); }
ATEBM_HD double log_of(double v) { return ::log(v); }
ATEBM_HD float log1p_of(float v) { return ::log1pf(v); }
ATEBM_HD double log1p_of(double v) { return ::log1p(v); }
ATEBM_HD float sqrt_of(float v) { return ::sqrtf(v); }
ATEBM_HD double sqrt_of(double v) { return ::sqrt(v); }
ATEBM_HD float abs_of(float v) { return ::fabsf(v); }
ATEBM_HD double abs_of(double v) { return ::fabs(v); }
ATEBM_HD float tanh_of(float v) { return ::tanhf(v); }
ATEBM_HD double tanh_of(double v) { return ::tanh(v); }
ATEBM_HD float pow_of(float v, float e) { return ::powf(v, e); }
ATEBM_HD double pow_of(double v, double e) { return ::pow(v, e); }

// std::max / std::min exactly: the first argument wins ties and a NaN first argument passes
// through (fmax/fmin would drop the NaN).
template <typename T>
ATEBM_HD T max_of(T x, T y) {
  return x < y ? y : x;
}
template <typename T>
ATEBM_HD T min_of(T x, T y) {
  return y < x ? y : x;
}

// Stable for any v: exp of a non-positive number only.
template <typename T>
ATEBM_HD T sigmoid_of(T v) {
  if (v >= T(0)) return T(1) / (T(1) + exp_of(-v));
  const T e = exp_of(v);
  return e / (T(1) + e);
}

// log(1 + e^v) = max(v, 0) + log1p(e^-|v|)
template <typename T>
ATEBM_HD T softplus_of(T v) {
  return max_of(v, T(0)) + log1p_of(exp_of(-abs_of(v)));
}

// ---- per-element functors -----------------------------------------------------------------------
// out = op(v); a, b: the op's scalars (see UnaryOp).
template <UnaryOp OP, typename T>
struct UnaryFn {
  T a, b;
  ATEBM_HD T operator()(T v) const {
    if constexpr (OP == UnaryOp::Neg) return -v;
    else if constexpr (OP == UnaryOp::Exp) return exp_of(v);
    else if constexpr (OP == UnaryOp::Log) return log_of(v);
    else if constexpr (OP == UnaryOp::Log1p) return log1p_of(v);
    else if constexpr (OP == UnaryOp::Sqrt) return sqrt_of(v);
    else if constexpr (OP == UnaryOp::Rsqrt) return T(1) / sqrt_of(v);  // not CUDA's rsqrt(): one rounding rule
    else if constexpr (OP == UnaryOp::Abs) return abs_of(v);
    else if constexpr (OP == UnaryOp::Sign) return T((v > T(0)) - (v < T(0)));  // NaN → 0
    else if constexpr (OP == UnaryOp::Relu) return v > T(0) ? v : T(0);          // NaN → 0
    else if constexpr (OP == UnaryOp::LeakyRelu) return v > T(0) ? v : v * a;    // NaN → NaN
    else if constexpr (OP == UnaryOp::Sigmoid) return sigmoid_of(v);
    else if constexpr (OP == UnaryOp::Softplus) return softplus_of(v);
    else if constexpr (OP == UnaryOp::Tanh) return tanh_of(v);
    else if constexpr (OP == UnaryOp::Silu) return v * sigmoid_of(v);
    else if constexpr (OP == UnaryOp::Clamp) return min_of(max_of(v, a), b);  // NaN → NaN
    else if constexpr (OP == UnaryOp::PowScalar) return pow_of(v, a);         // see unary_op_for
    else if constexpr (OP == UnaryOp::AddScalar) return v + a;
    else if constexpr (OP == UnaryOp::MulScalar) return v * a;
    else if constexpr (OP == UnaryOp::RsubScalar) return a - v;
    else if constexpr (OP == UnaryOp::Reciprocal) return T(1) / v;
    else if constexpr (OP == UnaryOp::Square) return v * v;
    else if constexpr (OP == UnaryOp::ReluMask) return v > T(0) ? T(1) : T(0);
    else if constexpr (OP == UnaryOp::LeakyMask) return v > T(0) ? T(1) : a;
    else {
      static_assert(OP == UnaryOp::ClampMask, "UnaryFn: an op without a formula");
      return (v >= a && v <= b) ? T(1) : T(0);
    }
  }
};

// The op a backend runs for (op, a): pow(v, 2) may differ from v·v by an ulp, so an exponent
// that rounds to exactly 2 in T squares instead.
template <typename T>
UnaryOp unary_op_for(UnaryOp op, T a) {
  return op == UnaryOp::PowScalar && a == T(2) ? UnaryOp::Square : op;
}

// Maximum / Minimum: y unless x wins strictly, so a NaN y always passes and a NaN x never does.
template <BinaryOp OP, typename T>
struct BinaryFn {
  ATEBM_HD T operator()(T x, T y) const {
    if constexpr (OP == BinaryOp::Add) return x + y;
    else if constexpr (OP == BinaryOp::Sub) return x - y;
    else if constexpr (OP == BinaryOp::Mul) return x * y;
    else if constexpr (OP == BinaryOp::Div) return x / y;
    else if constexpr (OP == BinaryOp::Maximum) return x > y ? x : y;
    else {
      static_assert(OP == BinaryOp::Minimum, "BinaryFn: an op without a formula");
      return x < y ? x : y;
    }
  }
};

// IEEE comparisons: anything against NaN is false, except Ne.
template <CompareOp OP, typename T>
ATEBM_HD bool compare_of(T x, T y) {
  if constexpr (OP == CompareOp::Eq) return x == y;
  else if constexpr (OP == CompareOp::Ne) return x != y;
  else if constexpr (OP == CompareOp::Lt) return x < y;
  else if constexpr (OP == CompareOp::Le) return x <= y;
  else if constexpr (OP == CompareOp::Gt) return x > y;
  else {
    static_assert(OP == CompareOp::Ge, "compare_of: an op without a formula");
    return x >= y;
  }
}

template <CompareOp OP, typename T>
struct CompareFn {
  ATEBM_HD bool operator()(T x, T y) const { return compare_of<OP>(x, y); }
};

// x op s, s rounded to x's type T.
template <CompareOp OP, typename T>
struct CompareScalarFn {
  T s;
  ATEBM_HD bool operator()(T x) const { return compare_of<OP>(x, s); }
};

// mask ? x : y with M bool or T: any non-zero mask value (NaN included) selects x.
template <typename T, typename M>
struct WhereFn {
  ATEBM_HD T operator()(M m, T x, T y) const { return m != M(0) ? x : y; }
};

// g · mask(x) for the three piecewise-linear activations (the UnaryFn masks, fused with g).
template <UnaryOp OP, typename T>
struct MaskedGradFn {
  T a, b;
  ATEBM_HD T operator()(T gv, T xv) const {
    if constexpr (OP == UnaryOp::ReluMask) return xv > T(0) ? gv : T(0);
    else if constexpr (OP == UnaryOp::LeakyMask) return xv > T(0) ? gv : gv * a;
    else {
      static_assert(OP == UnaryOp::ClampMask, "MaskedGradFn: ReluMask, LeakyMask or ClampMask only");
      return (xv >= a && xv <= b) ? gv : T(0);
    }
  }
};

// ---- runtime op → template parameter (host only) ------------------------------------------------
// f(Op<OP>{}) for the runtime `op`, so each backend instantiates its loop from this one list:
//   visit_op(op, [&](auto k) { run(UnaryFn<decltype(k)::value, T>{a, b}); });
template <auto OP>
using Op = std::integral_constant<decltype(OP), OP>;

template <typename F>
void visit_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::Neg: return f(Op<UnaryOp::Neg>{});
    case UnaryOp::Exp: return f(Op<UnaryOp::Exp>{});
    case UnaryOp::Log: return f(Op<UnaryOp::Log>{});
    case UnaryOp::Log1p: return f(Op<UnaryOp::Log1p>{});
    case UnaryOp::Sqrt: return f(Op<UnaryOp::Sqrt>{});
    case UnaryOp::Rsqrt: return f(Op<UnaryOp::Rsqrt>{});
    case UnaryOp::Abs: return f(Op<UnaryOp::Abs>{});
    case UnaryOp::Sign: return f(Op<UnaryOp::Sign>{});
    case UnaryOp::Relu: return f(Op<UnaryOp::Relu>{});
    case UnaryOp::LeakyRelu: return f(Op<UnaryOp::LeakyRelu>{});
    case UnaryOp::Sigmoid: return f(Op<UnaryOp::Sigmoid>{});
    case UnaryOp::Softplus: return f(Op<UnaryOp::Softplus>{});
    case UnaryOp::Tanh: return f(Op<UnaryOp::Tanh>{});
    case UnaryOp::Silu: return f(Op<UnaryOp::Silu>{});
    case UnaryOp::Clamp: return f(Op<UnaryOp::Clamp>{});
    case UnaryOp::PowScalar: return f(Op<UnaryOp::PowScalar>{});
    case UnaryOp::AddScalar: return f(Op<UnaryOp::AddScalar>{});
    case UnaryOp::MulScalar: return f(Op<UnaryOp::MulScalar>{});
    case UnaryOp::RsubScalar: return f(Op<UnaryOp::RsubScalar>{});
    case UnaryOp::Reciprocal: return f(Op<UnaryOp::Reciprocal>{});
    case UnaryOp::Square: return f(Op<UnaryOp::Square>{});
    case UnaryOp::ReluMask: return f(Op<UnaryOp::ReluMask>{});
    case UnaryOp::LeakyMask: return f(Op<UnaryOp::LeakyMask>{});
    case UnaryOp::ClampMask: return f(Op<UnaryOp::ClampMask>{});
  }
  ATEBM_FAIL("unary: unknown op {}", static_cast<int>(op));
}

template <typename F>
void visit_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add: return f(Op<BinaryOp::Add>{});
    case BinaryOp::Sub: return f(Op<BinaryOp::Sub>{});
    case BinaryOp::Mul: return f(Op<BinaryOp::Mul>{});
    case BinaryOp::Div: return f(Op<BinaryOp::Div>{});
    case BinaryOp::Maximum: return f(Op<BinaryOp::Maximum>{});
    case BinaryOp::Minimum: return f(Op<BinaryOp::Minimum>{});
  }
  ATEBM_FAIL("binary: unknown op {}", static_cast<int>(op));
}

template <typename F>
void visit_op(CompareOp op, F&& f) {
  switch (op) {
    case CompareOp::Eq: return f(Op<CompareOp::Eq>{});
    case CompareOp::Ne: return f(Op<CompareOp::Ne>{});
    case CompareOp::Lt: return f(Op<CompareOp::Lt>{});
    case CompareOp::Le: return f(Op<CompareOp::Le>{});
    case CompareOp::Gt: return f(Op<CompareOp::Gt>{});
    case CompareOp::Ge: return f(Op<CompareOp::Ge>{});
  }
  ATEBM_FAIL("compare: unknown op {}", static_cast<int>(op));
}

// The three ops masked_grad fuses (MaskedGradFn); any other is an error.
template <typename F>
void visit_mask_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::ReluMask: return f(Op<UnaryOp::ReluMask>{});
    case UnaryOp::LeakyMask: return f(Op<UnaryOp::LeakyMask>{});
    case UnaryOp::ClampMask: return f(Op<UnaryOp::ClampMask>{});
    default: ATEBM_FAIL("masked_grad: unsupported mask op {}", static_cast<int>(op));
  }
}

}  // namespace atebm::kernels
