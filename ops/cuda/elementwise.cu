#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twins of ops/cpu/elementwise_cpu.cpp. Every op is one functor of
// ops/kernels/elementwise_math.h (the per-element math the CPU loops run too) run by one of two
// grid-stride kernels:
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
#include "ops/kernels/elementwise_math.h"

namespace atebm::cuda {
namespace {

using cpu::BinaryOp;
using cpu::CompareOp;
using cpu::UnaryOp;
using kernels::BinaryFn;
using kernels::CompareFn;
using kernels::CompareScalarFn;
using kernels::MaskedGradFn;
using kernels::UnaryFn;
using kernels::WhereFn;

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
    ATEBM_LAUNCH(grid_for((n + V - 1) / V), kThreads, 0, current_stream(), map_vec_kernel<V>)
        (f, n, po, static_cast<const TI*>(ins.raw_data())...);
  } else {
    const std::array<Shape, N - 1> st = {cpu::broadcast_strides(ins, out.shape())...};
    std::array<const Shape*, N> rows;
    rows[0] = &out.strides();
    for (int k = 0; k + 1 < N; ++k) rows[k + 1] = &st[k];
    const Geometry<N> g = make_geometry<N>(out.shape(), rows, op);
    ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), map_strided_kernel)
        (f, g, n, po, static_cast<const TI*>(ins.raw_data())...);
  }
  ATEBM_CUDA_CHECK_LAUNCH();
}

template <typename T>
void unary_typed(UnaryOp op, const Tensor& out, const Tensor& x, T a, T b) {
  kernels::visit_op(kernels::unary_op_for(op, a), [&](auto k) {
    map<T, T>("unary", UnaryFn<decltype(k)::value, T>{a, b}, out, x);
  });
}

template <typename T>
void binary_typed(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  kernels::visit_op(op, [&](auto k) { map<T, T, T>("binary", BinaryFn<decltype(k)::value, T>{}, out, a, b); });
}

template <typename T>
void compare_typed(CompareOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  kernels::visit_op(op, [&](auto k) { map<bool, T, T>("compare", CompareFn<decltype(k)::value, T>{}, out, a, b); });
}

template <typename T>
void compare_scalar_typed(CompareOp op, const Tensor& out, const Tensor& x, T s) {
  kernels::visit_op(op, [&](auto k) { map<bool, T>("compare", CompareScalarFn<decltype(k)::value, T>{s}, out, x); });
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
    kernels::visit_mask_op(mask_op, [&](auto k) {
      map<T, T, T>("masked_grad", MaskedGradFn<decltype(k)::value, T>{ta, tb}, out, g, x);
    });
  });
}

}  // namespace atebm::cuda
