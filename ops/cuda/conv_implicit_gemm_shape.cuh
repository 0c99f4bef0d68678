#pragma once
// What the implicit-GEMM conv kernels share (ops/cuda/conv_implicit_gemm.cu, the teaching
// kernel; conv_implicit_gemm_pipelined.cu and conv_implicit_gemm_nhwc.cu, the pipelined ones):
// the problem as a GEMM, checked to fit the kernels' int indices, the grid of output tiles, the
// decode of an output position, the NCHW store, the TF32 test; for the pipelined kernels the
// cp.async loop, the epilogue and split-K's workspace and sum.
// Device code: include from .cu files only, after engine/cuda/cuda_check.h.
#include <cuda_pipeline_primitives.h>
#include <mma.h>

#include <climits>
#include <cstdint>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"
#include "engine/factories.h"
#include "ops/cpu/conv_cpu.h"

namespace atebm::cuda::igemm {

// Y [M × K] = A [M × R] · B [R × K], M = N·Ho·Wo, R = C·kh·kw (conv_implicit_gemm.cu, 1.).
// Passed to the kernels by value. Sizes that index x, y and w per element are int64; the rest
// fit int (checked by make_shape).
struct ConvShape {
  int64_t M;  // N·Ho·Wo
  int R;      // C·kh·kw
  int K, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo;
};

inline ConvShape make_shape(const cpu::Conv2dGeometry& g) {
  ATEBM_CHECK(g.groups == 1, "conv2d (implicit gemm): groups = {} is not implemented (only groups = 1)", g.groups);
  ATEBM_CHECK(g.h_out() >= 1 && g.w_out() >= 1, "conv2d (implicit gemm): empty output {}x{}", g.h_out(), g.w_out());
  // Coordinates (oh·s − p + i·d) and offsets within a sample (up to (C + 1)·H·W: a tap walk
  // may run one channel past C before it stops; a window corner's ih0·W + iw0, within the padded
  // plane) are computed in int: keep every extent far from overflow. R and K index w in int64
  // but are ints themselves.
  const int64_t limit = int64_t{1} << 30;
  const bool fits = g.c_in * g.kh * g.kw < INT_MAX && (g.c_in + 1) * g.h * g.w < INT_MAX && g.c_out < INT_MAX &&
                    g.h + 2 * g.pad_h < limit && g.w + 2 * g.pad_w < limit &&
                    (g.h + 2 * g.pad_h + 1) * (g.w + 2 * g.pad_w + 1) < INT_MAX && g.dil_h * g.kh < limit && g.dil_w * g.kw < limit &&
                    g.stride_h < limit && g.stride_w < limit;
  ATEBM_CHECK(fits,
              "conv2d (implicit gemm): input [{}, {}, {}, {}] with weight [{}, {}, {}, {}] is too large for the "
              "kernel's 32-bit indices",
              g.n, g.c_in, g.h, g.w, g.c_out, g.c_in, g.kh, g.kw);
  auto i = [](int64_t v) { return static_cast<int>(v); };
  return {g.n * g.h_out() * g.w_out(), i(g.c_in * g.kh * g.kw), i(g.c_out), i(g.c_in), i(g.h), i(g.w), i(g.kh),
          i(g.kw), i(g.stride_h), i(g.stride_w), i(g.pad_h), i(g.pad_w), i(g.dil_h), i(g.dil_w), i(g.h_out()),
          i(g.w_out())};
}

// The grid of bm × bn output tiles: (ceil(M / bm), ceil(K / bn)), within CUDA's limits.
inline dim3 tile_grid(const ConvShape& s, int bm, int bn) {
  const int64_t m_tiles = (s.M + bm - 1) / bm, k_tiles = (int64_t{s.K} + bn - 1) / bn;
  ATEBM_CHECK(m_tiles <= INT_MAX && k_tiles <= 65535,
              "conv2d (implicit gemm): {} output positions × {} channels need a grid of {} × {} blocks, more than "
              "CUDA allows",
              s.M, s.K, m_tiles, k_tiles);
  return {static_cast<unsigned>(m_tiles), static_cast<unsigned>(k_tiles)};
}

// The output position a thread gathers A for, decoded once per block.
template <typename T>
struct GatherRow {
  const T* x_n;  // x + n·C·H·W
  int ih0, iw0;  // input coordinate of the receptive field's top-left tap (may be negative)
  bool valid;    // m < M
};

template <typename T>
__device__ __forceinline__ GatherRow<T> gather_row(const T* x, const ConvShape& s, int64_t m) {
  GatherRow<T> row{x, 0, 0, m < s.M};
  if (row.valid) {
    const int64_t plane = int64_t{s.Ho} * s.Wo;
    const int64_t n = m / plane;
    const int p = static_cast<int>(m - n * plane), oh = p / s.Wo, ow = p - oh * s.Wo;
    row.x_n = x + n * s.C * s.H * s.W;
    row.ih0 = oh * s.sh - s.ph;
    row.iw0 = ow * s.sw - s.pw;
  }
  return row;
}

// Y[m, k] (+ b[k]) → y[n, k, oh, ow]; nothing past M or K.
template <typename T>
__device__ __forceinline__ void store_y(T* y, const T* b, const ConvShape& s, int64_t m, int k, T v) {
  if (m >= s.M || k >= s.K) return;
  const int64_t plane = int64_t{s.Ho} * s.Wo, n = m / plane, p = m - n * plane;
  if (b != nullptr) v += b[k];  // v = Σ + b, as the CPU's GEMM onto a bias-filled y
  y[(n * s.K + k) * plane + p] = v;
}

// The cp.async pipeline of both pipelined kernels (conv_implicit_gemm_pipelined.cu, 1.): `count`
// reduction steps through kStages stage buffers. issue(q) queues step q's copies into buffer
// q % kStages (steps are issued in increasing order), multiply(q) consumes them:
//   prologue: issue steps 0 .. S − 2, one commit group each (empty or not, so that
//             wait_prior counts steps)
//   step q:   wait until step q's group has landed; __syncthreads() (everyone's copies are
//             visible, everyone is done with step q − 1); issue step q + S − 1 into the buffer
//             step q − 1 used; multiply step q.
// Every thread of the block calls it.
template <int kStages, class Issue, class Multiply>
__device__ __forceinline__ void run_pipeline(int count, Issue&& issue, Multiply&& multiply) {
  static_assert(kStages >= 2);
  for (int q = 0; q < kStages - 1; ++q) {
    if (q < count) issue(q);
    __pipeline_commit();
  }
  for (int q = 0; q < count; ++q) {
    __pipeline_wait_prior(kStages - 2);  // this thread's copies of step q have landed
    __syncthreads();
    if (q + kStages - 1 < count) issue(q + kStages - 1);
    __pipeline_commit();
    multiply(q);
  }
  __pipeline_wait_prior(0);  // only empty groups are left; drain them anyway
}

// The end of a pipelined kernel's block: its kBM × kBN tile of Y, held by the warps as kFragsM ×
// kFragsN WMMA accumulators of 16 × 16 at (wm + 16·i, wn + 16·j), goes to y (+ b) or, with a split
// reduction (partial != null), to partial[z][k][m]. Through Cs [64 columns][kBM + 4] in shared
// memory (free by now: the caller's stages are done with), 64 output channels at a time, so that
// consecutive threads store consecutive m (coalesced). Every thread of the block calls it.
template <int kBM, int kBN, int kThreads, int kFragsM, int kFragsN, class Frag>
__device__ __forceinline__ void write_tile(float* Cs, Frag (&acc)[kFragsM][kFragsN], int wm, int wn, int t,
                                           const ConvShape& s, int64_t m0, int k0, const float* b, float* y,
                                           float* partial, int z) {
  constexpr int kOutCols = 64, kLdC = kBM + 4;
  constexpr int kWarpN = 16 * kFragsN;
  static_assert(kOutCols % kWarpN == 0, "a warp's columns lie in one 64-column part");
  for (int h = 0; h < kBN; h += kOutCols) {
    __syncthreads();  // every warp is done with the stages (or with the previous 64 columns)
    if (wn / kOutCols == h / kOutCols)
      for (int i = 0; i < kFragsM; ++i)
        for (int j = 0; j < kFragsN; ++j)
          nvcuda::wmma::store_matrix_sync(Cs + (wn - h + 16 * j) * kLdC + wm + 16 * i, acc[i][j], kLdC,
                                          nvcuda::wmma::mem_col_major);
    __syncthreads();
    for (int e = t; e < kBM * kOutCols; e += kThreads) {
      const int mm = e % kBM, kk = e / kBM, k = k0 + h + kk;
      const float v = Cs[kk * kLdC + mm];
      if (partial == nullptr) {
        store_y(y, b, s, m0 + mm, k, v);
      } else if (m0 + mm < s.M && k < s.K) {
        partial[(int64_t{z} * s.K + k) * s.M + m0 + mm] = v;
      }
    }
  }
}

// y = Σ_z partial[z] + b, z in increasing order; partial is [splits][K][M] (the pipelined kernels'
// split-K workspace). A template so that both .cu files that launch it may include it.
template <typename T>
__global__ void sum_splits_kernel(const T* __restrict__ partial, const T* __restrict__ b, T* __restrict__ y,
                                  ConvShape s, int splits) {
  const int64_t total = int64_t{s.K} * s.M;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    T v = 0;
    for (int z = 0; z < splits; ++z) v += partial[z * total + e];
    const int k = static_cast<int>(e / s.M);
    store_y(y, b, s, e - int64_t{k} * s.M, k, v);
  }
}

// Split-K's host steps around a pipelined kernel's launch: the workspace partial[z][k][m] for
// `splits` > 1 parts (from the caching allocator; freed with this object, and reused by the
// allocator only in stream order), then, after the launch, y = Σ_z partial[z] + b. One part: no
// workspace (partial() is null, the kernel writes y) and nothing to sum.
class SplitK {
 public:
  SplitK(const ConvShape& s, int splits, int device) : s_(s), splits_(splits) {
    if (splits > 1)
      workspace_ = empty({splits * int64_t{s.K} * s.M}, {.dtype = DType::Float32, .device = Device::cuda(device)});
  }
  float* partial() const { return splits_ > 1 ? workspace_.data<float>() : nullptr; }
  void sum_into(const float* b, float* y) const {
    if (splits_ == 1) return;
    ATEBM_LAUNCH(grid_for(int64_t{s_.K} * s_.M), ::atebm::cuda::kThreads, 0, current_stream(), sum_splits_kernel<float>)
        (partial(), b, y, s_, splits_);
    ATEBM_CUDA_CHECK_LAUNCH();
  }

 private:
  ConvShape s_;
  int splits_;
  Tensor workspace_;
};

// TF32 tensor cores (and cp.async) need compute capability 8.0 (Ampere) or later.
inline bool has_tf32_tensor_cores(int device) {
  int major = 0;
  ATEBM_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return major >= 8;
}

}  // namespace atebm::cuda::igemm
