#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twins of ops/cpu/elementwise_cpu.cpp. Every op is one functor (the per-element math,
// written exactly as the CPU lambda: same comparisons, same NaN behaviour, float math in float)
// run by one of two grid-stride kernels:
//   map_vec_kernel      every operand contiguous, of out's shape, aligned to its vector width:
//                       each thread loads and stores 16-byte packets (float4 / double2; fewer
//                       bytes for a bool output), the last n % V elements one by one;
//   map_strided_kernel  anything else: operand offsets from a Geometry (broadcast dims have
//                       stride 0, as cpu::broadcast_strides gives them).
// All launches go to the engine's compute stream, as in engine/cuda/basic_kernels.cu.
#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "engine/cuda/launch.cuh"
#include "engine/cuda/stream.h"
#include "ops/cuda/elementwise_cuda.h"

namespace atebm::cuda {
namespace {

using cpu::BinaryOp;
using cpu::CompareOp;
using cpu::UnaryOp;

// ---- device math ------------------------------------------------------------------------------
// Float overloads by name, so float math stays in float as std:: does on the CPU.
__device__ __forceinline__ float dev_exp(float v) { return expf(v); }
__device__ __forceinline__ double dev_exp(double v) { return exp(v); }
__device__ __forceinline__ float dev_log(float v) { return logf(v); }
__device__ __forceinline__ double dev_log(double v) { return log(v); }
__device__ __forceinline__ float dev_log1p(float v) { return log1pf(v); }
__device__ __forceinline__ double dev_log1p(double v) { return log1p(v); }
__device__ __forceinline__ float dev_sqrt(float v) { return sqrtf(v); }
__device__ __forceinline__ double dev_sqrt(double v) { return sqrt(v); }
__device__ __forceinline__ float dev_abs(float v) { return fabsf(v); }
__device__ __forceinline__ double dev_abs(double v) { return fabs(v); }
__device__ __forceinline__ float dev_tanh(float v) { return tanhf(v); }
__device__ __forceinline__ double dev_tanh(double v) { return tanh(v); }
__device__ __forceinline__ float dev_pow(float v, float e) { return powf(v, e); }
__device__ __forceinline__ double dev_pow(double v, double e) { return pow(v, e); }

// std::max / std::min exactly: the first argument wins ties and a NaN first argument passes
// through (fmax/fmin would drop the NaN).
template <typename T>
__device__ __forceinline__ T max_of(T x, T y) { return x < y ? y : x; }
template <typename T>
__device__ __forceinline__ T min_of(T x, T y) { return y < x ? y : x; }

// Stable for any v: exp of a non-positive number only (as cpu's sigmoid_of).
template <typename T>
__device__ __forceinline__ T sigmoid_of(T v) {
  if (v >= T(0)) return T(1) / (T(1) + dev_exp(-v));
  const T e = dev_exp(v);
  return e / (T(1) + e);
}

// log(1 + e^v) = max(v, 0) + log1p(e^-|v|)
template <typename T>
__device__ __forceinline__ T softplus_of(T v) { return max_of(v, T(0)) + dev_log1p(dev_exp(-dev_abs(v))); }

// ---- per-element functors -----------------------------------------------------------------------
// a, b: the op's scalars already rounded to T on the host (as the CPU rounds them once).
template <UnaryOp OP, typename T>
struct UnaryFn {
  T a, b;
  __device__ __forceinline__ T operator()(T v) const {
    if constexpr (OP == UnaryOp::Neg) return -v;
    else if constexpr (OP == UnaryOp::Exp) return dev_exp(v);
    else if constexpr (OP == UnaryOp::Log) return dev_log(v);
    else if constexpr (OP == UnaryOp::Log1p) return dev_log1p(v);
    else if constexpr (OP == UnaryOp::Sqrt) return dev_sqrt(v);
    else if constexpr (OP == UnaryOp::Rsqrt) return T(1) / dev_sqrt(v);  // not rsqrt(): round like the CPU
    else if constexpr (OP == UnaryOp::Abs) return dev_abs(v);
    else if constexpr (OP == UnaryOp::Sign) return T((v > T(0)) - (v < T(0)));  // NaN → 0
    else if constexpr (OP == UnaryOp::Relu) return v > T(0) ? v : T(0);
    else if constexpr (OP == UnaryOp::LeakyRelu) return v > T(0) ? v : v * a;
    else if constexpr (OP == UnaryOp::Sigmoid) return sigmoid_of(v);
    else if constexpr (OP == UnaryOp::Softplus) return softplus_of(v);
    else if constexpr (OP == UnaryOp::Tanh) return dev_tanh(v);
    else if constexpr (OP == UnaryOp::Silu) return v * sigmoid_of(v);
    else if constexpr (OP == UnaryOp::Clamp) return min_of(max_of(v, a), b);
    else if constexpr (OP == UnaryOp::PowScalar) return dev_pow(v, a);
    else if constexpr (OP == UnaryOp::AddScalar) return v + a;
    else if constexpr (OP == UnaryOp::MulScalar) return v * a;
    else if constexpr (OP == UnaryOp::RsubScalar) return a - v;
    else if constexpr (OP == UnaryOp::Reciprocal) return T(1) / v;
    else if constexpr (OP == UnaryOp::Square) return v * v;
    else if constexpr (OP == UnaryOp::ReluMask) return v > T(0) ? T(1) : T(0);
    else if constexpr (OP == UnaryOp::LeakyMask) return v > T(0) ? T(1) : a;
    else return (v >= a && v <= b) ? T(1) : T(0);  // ClampMask
  }
};

template <BinaryOp OP, typename T>
struct BinaryFn {
  __device__ __forceinline__ T operator()(T x, T y) const {
    if constexpr (OP == BinaryOp::Add) return x + y;
    else if constexpr (OP == BinaryOp::Sub) return x - y;
    else if constexpr (OP == BinaryOp::Mul) return x * y;
    else if constexpr (OP == BinaryOp::Div) return x / y;
    else if constexpr (OP == BinaryOp::Maximum) return x > y ? x : y;  // the CPU's NaN rule: y unless x > y
    else return x < y ? x : y;                                         // Minimum
  }
};

template <CompareOp OP, typename T>
__device__ __forceinline__ bool compare_of(T x, T y) {
  if constexpr (OP == CompareOp::Eq) return x == y;
  else if constexpr (OP == CompareOp::Ne) return x != y;
  else if constexpr (OP == CompareOp::Lt) return x < y;
  else if constexpr (OP == CompareOp::Le) return x <= y;
  else if constexpr (OP == CompareOp::Gt) return x > y;
  else return x >= y;  // Ge
}

template <CompareOp OP, typename T>
struct CompareFn {
  __device__ __forceinline__ bool operator()(T x, T y) const { return compare_of<OP>(x, y); }
};

// x op s with s rounded to T on the host (the CPU compares against a 0-dim tensor holding T(s)).
template <CompareOp OP, typename T>
struct CompareScalarFn {
  T s;
  __device__ __forceinline__ bool operator()(T x) const { return compare_of<OP>(x, s); }
};

// M: bool or T; any non-zero mask value (NaN included) selects a, as on the CPU.
template <typename T, typename M>
struct WhereFn {
  __device__ __forceinline__ T operator()(M m, T x, T y) const { return m != M(0) ? x : y; }
};

// g · mask(x) for the three piecewise-linear activations.
template <UnaryOp OP, typename T>
struct MaskedGradFn {
  T a, b;
  __device__ __forceinline__ T operator()(T gv, T xv) const {
    if constexpr (OP == UnaryOp::ReluMask) return xv > T(0) ? gv : T(0);
    else if constexpr (OP == UnaryOp::LeakyMask) return xv > T(0) ? gv : gv * a;
    else return (xv >= a && xv <= b) ? gv : T(0);  // ClampMask
  }
};

// ---- kernels ----------------------------------------------------------------------------------
// V values of T moved by one 16-byte (or narrower, for bool) load/store.
template <typename T, int V>
struct alignas(sizeof(T) * V) Packet {
  T v[V];
};

// Vector width: 16 bytes of the widest operand.
template <typename... Ts>
constexpr int kVec = static_cast<int>(16 / std::max({sizeof(Ts)...}));

// The packets arrive by value: each is one aligned vector load at the call site.
template <int V, typename TO, typename F, typename... TI>
__device__ __forceinline__ void map_packet(const F& f, Packet<TO, V>* out, Packet<TI, V>... in) {
  Packet<TO, V> o;
#pragma unroll
  for (int k = 0; k < V; ++k) o.v[k] = f(in.v[k]...);
  *out = o;
}

// out[i] = f(in[i]...) over n contiguous elements; every pointer aligned to its packet.
template <int V, typename TO, typename F, typename... TI>
__global__ void map_vec_kernel(F f, int64_t n, TO* out, const TI*... in) {
  const int64_t first = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  const int64_t nvec = n / V;
  for (int64_t i = first; i < nvec; i += step)
    map_packet<V>(f, reinterpret_cast<Packet<TO, V>*>(out) + i, reinterpret_cast<const Packet<TI, V>*>(in)[i]...);
  for (int64_t i = nvec * V + first; i < n; i += step) out[i] = f(in[i]...);
}

template <int N, typename TO, typename F, typename... TI, size_t... K>
__device__ __forceinline__ void map_at(const F& f, const int64_t (&off)[N], std::index_sequence<K...>, TO* out,
                                       const TI*... in) {
  out[off[0]] = f(in[off[K + 1]]...);
}

// out[off0(i)] = f(in_k[off_k(i)]...) for logical index i; geometry row 0 is out, row k+1 in_k.
template <int N, typename TO, typename F, typename... TI>
__global__ void map_strided_kernel(F f, Geometry<N> g, int64_t n, TO* out, const TI*... in) {
  static_assert(N == 1 + sizeof...(TI), "one geometry row per operand");
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[N];
    offsets_of(g, i, off);
    map_at(f, off, std::index_sequence_for<TI...>{}, out, in...);
  }
}

// ---- host side --------------------------------------------------------------------------------
bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

void check_input(const char* op, const Tensor& out, const Tensor& t, DType expected) {
  ATEBM_CHECK(t.defined(), "{} (cuda): an input is an undefined tensor", op);
  ATEBM_CHECK(t.device() == out.device(), "{} (cuda): an input of shape {} is on {} but the output is on {}", op,
              shape_str(t.shape()), t.device(), out.device());
  ATEBM_CHECK(t.dtype() == expected, "{} (cuda): an input of shape {} has dtype {}, expected {}", op,
              shape_str(t.shape()), t.dtype(), expected);
}

// A contiguous operand of out's shape whose data starts on a packet boundary.
bool packet_ready(const Tensor& t, const Tensor& out, size_t packet_bytes) {
  return t.is_contiguous() && t.shape() == out.shape() && aligned(t.raw_data(), packet_bytes);
}

// out = f(ins...) with TO, TI... the element types of out and of each input (checked), inputs
// broadcast to out's shape; out contiguous.
template <typename TO, typename... TI, typename F, typename... Ts>
void map(const char* op, const F& f, const Tensor& out, const Ts&... ins) {
  static_assert(sizeof...(TI) == sizeof...(Ts), "one element type per input");
  constexpr int N = 1 + sizeof...(TI);
  constexpr int V = kVec<TO, TI...>;
  check_contiguous_out(out, op);
  ATEBM_CHECK(out.dtype() == dtype_of<TO>::value, "{} (cuda): output has dtype {}, expected {}", op, out.dtype(),
              dtype_of<TO>::value);
  (check_input(op, out, ins, dtype_of<TI>::value), ...);
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(out.device());
  TO* po = out.data<TO>();
  const bool vec = aligned(po, sizeof(TO) * V) && (packet_ready(ins, out, sizeof(TI) * V) && ...);
  if (vec) {
    map_vec_kernel<V><<<grid_for((n + V - 1) / V), kThreads, 0, current_stream()>>>(
        f, n, po, static_cast<const TI*>(ins.raw_data())...);
  } else {
    const std::array<Shape, N - 1> st = {cpu::broadcast_strides(ins, out.shape())...};
    std::array<const Shape*, N> rows;
    rows[0] = &out.strides();
    for (int k = 0; k + 1 < N; ++k) rows[k + 1] = &st[k];
    const Geometry<N> g = make_geometry<N>(out.shape(), rows, op);
    map_strided_kernel<<<grid_for(n), kThreads, 0, current_stream()>>>(f, g, n, po,
                                                                        static_cast<const TI*>(ins.raw_data())...);
  }
  ATEBM_CUDA_CHECK_LAUNCH();
}

template <UnaryOp OP, typename T>
void run_unary(const Tensor& out, const Tensor& x, T a, T b) {
  map<T, T>("unary", UnaryFn<OP, T>{a, b}, out, x);
}

template <typename T>
void unary_typed(UnaryOp op, const Tensor& out, const Tensor& x, T a, T b) {
  switch (op) {
    case UnaryOp::Neg: return run_unary<UnaryOp::Neg>(out, x, a, b);
    case UnaryOp::Exp: return run_unary<UnaryOp::Exp>(out, x, a, b);
    case UnaryOp::Log: return run_unary<UnaryOp::Log>(out, x, a, b);
    case UnaryOp::Log1p: return run_unary<UnaryOp::Log1p>(out, x, a, b);
    case UnaryOp::Sqrt: return run_unary<UnaryOp::Sqrt>(out, x, a, b);
    case UnaryOp::Rsqrt: return run_unary<UnaryOp::Rsqrt>(out, x, a, b);
    case UnaryOp::Abs: return run_unary<UnaryOp::Abs>(out, x, a, b);
    case UnaryOp::Sign: return run_unary<UnaryOp::Sign>(out, x, a, b);
    case UnaryOp::Relu: return run_unary<UnaryOp::Relu>(out, x, a, b);
    case UnaryOp::LeakyRelu: return run_unary<UnaryOp::LeakyRelu>(out, x, a, b);
    case UnaryOp::Sigmoid: return run_unary<UnaryOp::Sigmoid>(out, x, a, b);
    case UnaryOp::Softplus: return run_unary<UnaryOp::Softplus>(out, x, a, b);
    case UnaryOp::Tanh: return run_unary<UnaryOp::Tanh>(out, x, a, b);
    case UnaryOp::Silu: return run_unary<UnaryOp::Silu>(out, x, a, b);
    case UnaryOp::Clamp: return run_unary<UnaryOp::Clamp>(out, x, a, b);
    case UnaryOp::PowScalar:
      // The CPU squares exactly when the exponent rounds to 2 in T (pow(v, 2) may differ by an ulp).
      if (a == T(2)) return run_unary<UnaryOp::Square>(out, x, a, b);
      return run_unary<UnaryOp::PowScalar>(out, x, a, b);
    case UnaryOp::AddScalar: return run_unary<UnaryOp::AddScalar>(out, x, a, b);
    case UnaryOp::MulScalar: return run_unary<UnaryOp::MulScalar>(out, x, a, b);
    case UnaryOp::RsubScalar: return run_unary<UnaryOp::RsubScalar>(out, x, a, b);
    case UnaryOp::Reciprocal: return run_unary<UnaryOp::Reciprocal>(out, x, a, b);
    case UnaryOp::Square: return run_unary<UnaryOp::Square>(out, x, a, b);
    case UnaryOp::ReluMask: return run_unary<UnaryOp::ReluMask>(out, x, a, b);
    case UnaryOp::LeakyMask: return run_unary<UnaryOp::LeakyMask>(out, x, a, b);
    case UnaryOp::ClampMask: return run_unary<UnaryOp::ClampMask>(out, x, a, b);
  }
  ATEBM_FAIL("unary (cuda): unknown op {}", static_cast<int>(op));
}

template <typename T>
void binary_typed(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  switch (op) {
    case BinaryOp::Add: return map<T, T, T>("binary", BinaryFn<BinaryOp::Add, T>{}, out, a, b);
    case BinaryOp::Sub: return map<T, T, T>("binary", BinaryFn<BinaryOp::Sub, T>{}, out, a, b);
    case BinaryOp::Mul: return map<T, T, T>("binary", BinaryFn<BinaryOp::Mul, T>{}, out, a, b);
    case BinaryOp::Div: return map<T, T, T>("binary", BinaryFn<BinaryOp::Div, T>{}, out, a, b);
    case BinaryOp::Maximum: return map<T, T, T>("binary", BinaryFn<BinaryOp::Maximum, T>{}, out, a, b);
    case BinaryOp::Minimum: return map<T, T, T>("binary", BinaryFn<BinaryOp::Minimum, T>{}, out, a, b);
  }
  ATEBM_FAIL("binary (cuda): unknown op {}", static_cast<int>(op));
}

template <typename T>
void compare_typed(CompareOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  switch (op) {
    case CompareOp::Eq: return map<bool, T, T>("compare", CompareFn<CompareOp::Eq, T>{}, out, a, b);
    case CompareOp::Ne: return map<bool, T, T>("compare", CompareFn<CompareOp::Ne, T>{}, out, a, b);
    case CompareOp::Lt: return map<bool, T, T>("compare", CompareFn<CompareOp::Lt, T>{}, out, a, b);
    case CompareOp::Le: return map<bool, T, T>("compare", CompareFn<CompareOp::Le, T>{}, out, a, b);
    case CompareOp::Gt: return map<bool, T, T>("compare", CompareFn<CompareOp::Gt, T>{}, out, a, b);
    case CompareOp::Ge: return map<bool, T, T>("compare", CompareFn<CompareOp::Ge, T>{}, out, a, b);
  }
  ATEBM_FAIL("compare (cuda): unknown op {}", static_cast<int>(op));
}

template <typename T>
void compare_scalar_typed(CompareOp op, const Tensor& out, const Tensor& x, T s) {
  switch (op) {
    case CompareOp::Eq: return map<bool, T>("compare", CompareScalarFn<CompareOp::Eq, T>{s}, out, x);
    case CompareOp::Ne: return map<bool, T>("compare", CompareScalarFn<CompareOp::Ne, T>{s}, out, x);
    case CompareOp::Lt: return map<bool, T>("compare", CompareScalarFn<CompareOp::Lt, T>{s}, out, x);
    case CompareOp::Le: return map<bool, T>("compare", CompareScalarFn<CompareOp::Le, T>{s}, out, x);
    case CompareOp::Gt: return map<bool, T>("compare", CompareScalarFn<CompareOp::Gt, T>{s}, out, x);
    case CompareOp::Ge: return map<bool, T>("compare", CompareScalarFn<CompareOp::Ge, T>{s}, out, x);
  }
  ATEBM_FAIL("compare (cuda): unknown op {}", static_cast<int>(op));
}

}  // namespace

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
    if (mask.dtype() == DType::Bool) {
      map<T, bool, T, T>("where", WhereFn<T, bool>{}, out, mask, a, b);
    } else {
      map<T, T, T, T>("where", WhereFn<T, T>{}, out, mask, a, b);
    }
  });
}

void masked_grad(UnaryOp mask_op, const Tensor& out, const Tensor& g, const Tensor& x, double a, double b) {
  ATEBM_DISPATCH_FLOATING(out.dtype(), "masked_grad", [&] {
    using T = scalar_t;
    const T ta = static_cast<T>(a), tb = static_cast<T>(b);
    switch (mask_op) {
      case UnaryOp::ReluMask:
        return map<T, T, T>("masked_grad", MaskedGradFn<UnaryOp::ReluMask, T>{ta, tb}, out, g, x);
      case UnaryOp::LeakyMask:
        return map<T, T, T>("masked_grad", MaskedGradFn<UnaryOp::LeakyMask, T>{ta, tb}, out, g, x);
      case UnaryOp::ClampMask:
        return map<T, T, T>("masked_grad", MaskedGradFn<UnaryOp::ClampMask, T>{ta, tb}, out, g, x);
      default: ATEBM_FAIL("masked_grad: unsupported mask op");
    }
  });
}

}  // namespace atebm::cuda
