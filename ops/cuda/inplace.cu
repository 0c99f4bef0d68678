#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twins of ops/cpu/inplace_cpu.cpp. Each update is a functor f(t, operands...) of
// ops/kernels/inplace_math.h (the per-element math the CPU loops run too) run by one of two
// grid-stride kernels:
//   update_vec_kernel      t and every operand contiguous, of t's shape and 16-byte aligned:
//                          packets of 16 bytes (float4 / double2), the tail one by one;
//   update_strided_kernel  anything else: a strided t and broadcast (stride 0) operands.
// An operand may be t itself (same view): each element is read before it is written, by the
// same thread. The fused Adam step reads p, g, m, v and writes p, m, v in one pass.
#include <array>
#include <cstdint>
#include <utility>

#include "engine/cuda/launch.cuh"
#include "engine/cuda/stream.h"
#include "ops/cpu/elementwise_cpu.h"
#include "ops/cuda/inplace_cuda.h"
#include "ops/kernels/inplace_math.h"

namespace atebm::cuda {
namespace {

using kernels::AdamConsts;
using kernels::AddcdivFn;
using kernels::AddcmulFn;
using kernels::AddFn;
using kernels::AddScaledFn;
using kernels::LerpHighFn;
using kernels::LerpLowFn;
using kernels::MulScalarFn;

// ---- kernels ----------------------------------------------------------------------------------
template <typename T, int V>
struct alignas(sizeof(T) * V) Packet {
  T v[V];
};

// The packets arrive by value: each is one aligned vector load at the call site.
template <int V, typename T, typename F, typename... TI>
__device__ __forceinline__ void update_packet(const F& f, Packet<T, V>* t, Packet<T, V> cur, Packet<TI, V>... in) {
#pragma unroll
  for (int k = 0; k < V; ++k) cur.v[k] = f(cur.v[k], in.v[k]...);
  *t = cur;
}

// t[i] = f(t[i], in[i]...) over n contiguous elements; every pointer aligned to its packet.
template <int V, typename T, typename F, typename... TI>
__global__ void update_vec_kernel(F f, int64_t n, T* t, const TI*... in) {
  const int64_t first = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  const int64_t nvec = n / V;
  auto* tp = reinterpret_cast<Packet<T, V>*>(t);
  for (int64_t i = first; i < nvec; i += step)
    update_packet<V>(f, tp + i, tp[i], reinterpret_cast<const Packet<TI, V>*>(in)[i]...);
  for (int64_t i = nvec * V + first; i < n; i += step) t[i] = f(t[i], in[i]...);
}

template <int N, typename T, typename F, typename... TI, size_t... K>
__device__ __forceinline__ void update_at(const F& f, const int64_t (&off)[N], std::index_sequence<K...>, T* t,
                                          const TI*... in) {
  t[off[0]] = f(t[off[0]], in[off[K + 1]]...);
}

// t[off0(i)] = f(t[off0(i)], in_k[off_k(i)]...); geometry row 0 is t, row k+1 operand k.
template <int N, typename T, typename F, typename... TI>
__global__ void update_strided_kernel(F f, Geometry<N> g, int64_t n, T* t, const TI*... in) {
  static_assert(N == 1 + sizeof...(TI), "one geometry row per operand");
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[N];
    offsets_of(g, i, off);
    update_at(f, off, std::index_sequence_for<TI...>{}, t, in...);
  }
}

// ---- host side --------------------------------------------------------------------------------
bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

void check_operand(const char* op, const Tensor& t, const Tensor& o) {
  ATEBM_CHECK(o.defined(), "{} (cuda): an operand is an undefined tensor", op);
  ATEBM_CHECK(o.device() == t.device() && o.dtype() == t.dtype(),
              "{} (cuda): an operand ({} of shape {} on {}) must match the written tensor ({} on {})", op, o.dtype(),
              shape_str(o.shape()), o.device(), t.dtype(), t.device());
}

// A contiguous operand of t's shape whose data starts on a 16-byte boundary.
bool packet_ready(const Tensor& o, const Tensor& t, size_t packet_bytes) {
  return o.is_contiguous() && o.shape() == t.shape() && aligned(o.raw_data(), packet_bytes);
}

// t = f(t, ops...) elementwise, the operands (all of t's dtype T) broadcast to t's shape.
template <typename T, typename F, typename... Ts>
void update(const char* op, const F& f, const Tensor& t, const Ts&... ops) {
  constexpr int N = 1 + sizeof...(Ts);
  constexpr int V = static_cast<int>(16 / sizeof(T));
  check_cuda_tensor(t, op);
  (check_operand(op, t, ops), ...);
  const int64_t n = t.numel();
  if (n == 0) return;
  DeviceGuard guard(t.device());
  T* pt = t.data<T>();
  const bool vec = t.is_contiguous() && aligned(pt, sizeof(T) * V) && (packet_ready(ops, t, sizeof(T) * V) && ...);
  if (vec) {
    ATEBM_LAUNCH(grid_for((n + V - 1) / V), kThreads, 0, current_stream(), update_vec_kernel<V>)
        (f, n, pt, static_cast<const T*>(ops.raw_data())...);
  } else {
    const std::array<Shape, N - 1> st = {cpu::broadcast_strides(ops, t.shape())...};
    std::array<const Shape*, N> rows;
    rows[0] = &t.strides();
    for (int k = 0; k + 1 < N; ++k) rows[k + 1] = &st[k];
    const Geometry<N> g = make_geometry<N>(t.shape(), rows, op);
    ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), update_strided_kernel)
        (f, g, n, pt, static_cast<const T*>(ops.raw_data())...);
  }
  ATEBM_CUDA_CHECK_LAUNCH();
}

// ---- Adam ---------------------------------------------------------------------------------------
// V = 16 / sizeof(T) when all four pointers are 16-byte aligned, else V = 1 (plain loads).
template <int V, typename T>
__global__ void adam_kernel(AdamConsts<T> c, int64_t n, T* p, const T* g, T* m, T* v) {
  using P = Packet<T, V>;
  const int64_t first = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  const int64_t nvec = n / V;
  for (int64_t i = first; i < nvec; i += step) {
    P pp = reinterpret_cast<const P*>(p)[i], mm = reinterpret_cast<const P*>(m)[i];
    P vv = reinterpret_cast<const P*>(v)[i];
    const P gg = reinterpret_cast<const P*>(g)[i];
#pragma unroll
    for (int k = 0; k < V; ++k) kernels::adam_element(c, pp.v[k], gg.v[k], mm.v[k], vv.v[k]);
    reinterpret_cast<P*>(p)[i] = pp;
    reinterpret_cast<P*>(m)[i] = mm;
    reinterpret_cast<P*>(v)[i] = vv;
  }
  for (int64_t i = nvec * V + first; i < n; i += step) kernels::adam_element(c, p[i], g[i], m[i], v[i]);
}

// The CUDA device that holds `p` (raw-pointer kernels have no tensor to ask).
int device_of(const void* p, const char* op) {
  cudaPointerAttributes attr{};
  ATEBM_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  ATEBM_CHECK(attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged,
              "{} (cuda): expected a pointer to CUDA device memory", op);
  return attr.device;
}

}  // namespace

void add_scaled_inplace(const Tensor& t, const Tensor& other, double alpha) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "add_", [&] {
    using T = scalar_t;
    if (alpha == 1.0) return update<T>("add_", AddFn<T>{}, t, other);
    update<T>("add_", AddScaledFn<T>{static_cast<T>(alpha)}, t, other);
  });
}

void mul_scalar_inplace(const Tensor& t, double s) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "mul_", [&] {
    using T = scalar_t;
    update<T>("mul_", MulScalarFn<T>{static_cast<T>(s)}, t);
  });
}

void lerp_inplace(const Tensor& t, const Tensor& other, double w) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "lerp_", [&] {
    using T = scalar_t;
    const T wt = static_cast<T>(w);
    // The branch is chosen once, in double, as on the CPU: the one exact at its end point.
    if (w < 0.5) {
      update<T>("lerp_", LerpLowFn<T>{wt}, t, other);
    } else {
      update<T>("lerp_", LerpHighFn<T>{T(1) - wt}, t, other);
    }
  });
}

void addcmul_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "addcmul_", [&] {
    using T = scalar_t;
    update<T>("addcmul_", AddcmulFn<T>{static_cast<T>(value)}, t, a, b);
  });
}

void addcdiv_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value) {
  ATEBM_DISPATCH_FLOATING(t.dtype(), "addcdiv_", [&] {
    using T = scalar_t;
    update<T>("addcdiv_", AddcdivFn<T>{static_cast<T>(value)}, t, a, b);
  });
}

template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, const cpu::AdamScalars& s) {
  if (n == 0) return;
  DeviceGuard guard(Device::cuda(device_of(p, "adam_update_")));
  const AdamConsts<T> c = kernels::adam_consts<T>(s);
  constexpr int V = static_cast<int>(16 / sizeof(T));
  constexpr size_t kBytes = sizeof(T) * V;
  if (aligned(p, kBytes) && aligned(g, kBytes) && aligned(m, kBytes) && aligned(v, kBytes)) {
    ATEBM_LAUNCH(grid_for((n + V - 1) / V), kThreads, 0, current_stream(), adam_kernel<V>)(c, n, p, g, m, v);
  } else {
    ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), adam_kernel<1>)(c, n, p, g, m, v);
  }
  ATEBM_CUDA_CHECK_LAUNCH();
}

template void adam_update<float>(float*, const float*, float*, float*, int64_t, const cpu::AdamScalars&);
template void adam_update<double>(double*, const double*, double*, double*, int64_t, const cpu::AdamScalars&);

}  // namespace atebm::cuda
