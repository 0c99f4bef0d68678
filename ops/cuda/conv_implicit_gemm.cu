#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// Convolution forward as an IMPLICIT GEMM: a kernel written to teach (contract in
// ops/cuda/conv_implicit_gemm_cuda.h). cuDNN is faster; this file shows the ideas inside it.
//
// 1. A convolution is a matrix product.
//      y[n, k, oh, ow] = b[k] + Σ_{c, i, j} x[n, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw] · w[k, c, i, j]
//    Flatten the output positions m = (n, oh, ow) ∈ [0, M), M = N·Ho·Wo, and the reduction
//    index r = (c, i, j) ∈ [0, R), R = C·kh·kw. Then
//      Y[m, k] = Σ_r A[m, r] · B[r, k],   A[m, r] = x[n, c, ih, iw]  (0 where (ih, iw) is padding)
//                                         B[r, k] = w[k, r]          (w is [K, R] row-major)
//    a GEMM of A [M × R] by B [R × K]: for a ResNet layer at batch 128, 3×3, 64 → 64 channels
//    on 32×32, that is [131072 × 576] · [576 × 64]. The CPU kernels build A explicitly (im2col:
//    9× the input for a 3×3 conv) and call BLAS. Here A is never stored: each tile of A is
//    GATHERED from x straight into shared memory when the product needs it; that is the
//    "implicit" in implicit GEMM. Y[m, k] is written straight to y[n, k, oh, ow].
//
// 2. Tiling: why shared memory. Computed naively, every multiply-add reads two numbers from
//    global memory: 8 bytes per 2 FLOPs, while an H100/H200 delivers ~3–5 TB/s and ~60 TFLOP/s
//    FP32, i.e. it needs ~50 FLOPs per byte read to stay busy. So one thread block computes a
//    BM × BN = 128 × 64 tile of Y and walks the reduction in steps of BK = 16:
//      a. all threads gather the A tile [BM × BK] and load the B tile [BK × BN] into shared
//         memory (zeros past M, K or R, so edge tiles need no special code);
//      b. __syncthreads(); every thread accumulates its outputs from shared memory;
//         __syncthreads() (before the next step overwrites the tiles).
//    Each loaded A value is reused BN times and each B value BM times: global traffic per FMA
//    falls by BM·BN / (BM + BN) ≈ 43×. Blocks with the same weight tile are launched next to
//    each other (blockIdx.x runs over M), so B comes from L2 after the first block reads it.
//
// 3. Register blocking: why each thread computes 32 outputs. Shared memory is fast but not
//    free (~one load per FMA would halve the throughput). A thread owning TM × TN = 8 × 4
//    outputs loads 8 A and 4 B values per reduction step and does 32 FMAs with them from
//    registers: 12 loads per 32 FMAs.
//
// 4. Who touches what (256 threads per block). Layouts are chosen for coalescing (a warp's 32
//    global accesses fall into few 128-byte lines) and for shared-memory banks (32 banks of 4
//    bytes: a warp's accesses to distinct words of one bank serialise).
//    - As[BK][BM], r-major. Gather: thread t owns output position m0 + t % 128 for the whole
//      reduction (its n, oh, ow and x row are decoded once) and fills rows t / 128 + 2q (q < 8).
//      Neighbouring threads hold neighbouring ow, so their x reads are neighbouring addresses
//      (stride 1) and their shared-memory writes hit distinct banks.
//    - Bs[BK][BN + 4]. A row of w is contiguous in r, so thread t loads r = r0 + t % 16 of
//      output channels t / 16 + 16q (q < 4): 16 consecutive floats per channel. The column it
//      writes is spread over the banks by the +4 padding (which keeps rows 16-byte aligned,
//      as WMMA requires).
//    - FMA: thread t = (tx, ty) = (t % 16, t / 16) owns m = m0 + tx + 16i (i < 8) and
//      k = k0 + ty + 16j (j < 4). Strided, not 8 consecutive m: a half-warp then reads 16
//      consecutive words of As (no bank conflict; the other half-warp reads the same words,
//      a broadcast), and writes 16 consecutive outputs of y (coalesced).
//    - TF32 (float32 with allow_tf32()): the same tiles feed tensor cores through WMMA. The 8
//      warps form a 4 × 2 grid, each computes a 32 × 32 sub-tile as 2 × 2 fragments of 16 × 16
//      with m16n16k8 TF32 MMAs (inputs rounded to TF32, products accumulated in FP32). As read
//      as a column-major [m × r] matrix and Bs as a row-major [r × k] matrix are exactly what
//      the fragments want, so no transposes. The accumulators are parked in shared memory
//      Cs[BN][BM + 4] and written out like the FMA path, coalesced.
//    - float64: the FMA path with the same tiles (tensor cores would need FP64 MMA; not here).
//
// 5. Determinism: every output is one thread's (or one warp's) sum over r in a fixed order;
//    no atomics, no split of the reduction across blocks: the bits do not depend on the launch.
//
// What a production kernel adds (and cuDNN has): tiles loaded asynchronously (cp.async / TMA)
// several steps ahead while the current one is multiplied, vector (16-byte) loads, no division
// per gathered element, larger warp tiles, a split of the reduction when the grid is too small
// to fill the GPU, and Hopper's wgmma. conv_implicit_gemm_pipelined.cu takes the next step:
// all of that except TMA and wgmma.
#include <mma.h>

#include <type_traits>

#include "engine/cuda/basic_kernels_cuda.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/stream.h"
#include "ops/cuda/conv_implicit_gemm_cuda.h"
#include "ops/cuda/conv_implicit_gemm_shape.cuh"
#include "ops/math_mode.h"

namespace atebm::cuda {
namespace {

using igemm::ConvShape, igemm::GatherRow, igemm::gather_row, igemm::store_y;

// ---- device code ----------------------------------------------------------------------------

constexpr int kBM = 128, kBN = 64, kBK = 16;  // block tile of Y, reduction step
constexpr int kBlock = 256;                   // threads per block
constexpr int kTM = 8, kTN = 4;               // FMA path: outputs per thread (kBM = 16·kTM, kBN = 16·kTN)
constexpr int kLdB = kBN + 4;                 // row length of Bs (padding: see 4.)
constexpr int kLdC = kBM + 4;                 // row length of Cs (TF32 path)

// a. As[rr][t % 128] = A[m, r0 + rr] for rr = t / 128 + 2q: x at tap (c, i, j) of r, or 0.
template <typename T>
__device__ __forceinline__ void gather_a(T (&As)[kBK][kBM], const ConvShape& s, const GatherRow<T>& row, int r0,
                                         int t) {
  const int mm = t % kBM, taps = s.kh * s.kw;
  for (int rr = t / kBM; rr < kBK; rr += kBlock / kBM) {
    const int r = r0 + rr;
    T v = T(0);
    if (row.valid && r < s.R) {
      const int c = r / taps, tap = r - c * taps, i = tap / s.kw, j = tap - i * s.kw;
      const int ih = row.ih0 + i * s.dh, iw = row.iw0 + j * s.dw;
      if (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) v = row.x_n[(int64_t{c} * s.H + ih) * s.W + iw];
    }
    As[rr][mm] = v;
  }
}

// a. Bs[rr][kk] = B[r0 + rr, k0 + kk] = w[k0 + kk, r0 + rr], or 0 past R or K.
template <typename T>
__device__ __forceinline__ void load_b(T (&Bs)[kBK][kLdB], const T* w, const ConvShape& s, int r0, int k0, int t) {
  const int rr = t % kBK, r = r0 + rr;
  for (int kk = t / kBK; kk < kBN; kk += kBlock / kBK) {
    const int k = k0 + kk;
    Bs[rr][kk] = (r < s.R && k < s.K) ? w[int64_t{k} * s.R + r] : T(0);
  }
}

// FP32 / FP64 FMA path. grid = (ceil(M / kBM), ceil(K / kBN)), block = kBlock.
template <typename T>
__global__ void __launch_bounds__(kBlock)
    implicit_gemm_fma_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                             T* __restrict__ y, ConvShape s) {
  __shared__ T As[kBK][kBM];
  __shared__ T Bs[kBK][kLdB];
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const int64_t m0 = int64_t{blockIdx.x} * kBM;
  const int k0 = static_cast<int>(blockIdx.y) * kBN;
  const GatherRow<T> row = gather_row(x, s, m0 + t % kBM);
  T acc[kTM][kTN];
  for (int i = 0; i < kTM; ++i)
    for (int j = 0; j < kTN; ++j) acc[i][j] = T(0);
  for (int r0 = 0; r0 < s.R; r0 += kBK) {
    gather_a(As, s, row, r0, t);
    load_b(Bs, w, s, r0, k0, t);
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < kBK; ++rr) {
      T a[kTM], bv[kTN];
#pragma unroll
      for (int i = 0; i < kTM; ++i) a[i] = As[rr][tx + 16 * i];
#pragma unroll
      for (int j = 0; j < kTN; ++j) bv[j] = Bs[rr][ty + 16 * j];
#pragma unroll
      for (int i = 0; i < kTM; ++i)
#pragma unroll
        for (int j = 0; j < kTN; ++j) acc[i][j] = fma(a[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < kTM; ++i)
    for (int j = 0; j < kTN; ++j) store_y(y, b, s, m0 + tx + 16 * i, k0 + ty + 16 * j, acc[i][j]);
}

// TF32 tensor-core path (float32, compute capability >= 8.0). Same grid and block.
__global__ void __launch_bounds__(kBlock)
    implicit_gemm_tf32_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                              float* __restrict__ y, ConvShape s) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(ATEBM_CUDA_EMULATION)
  namespace wmma = nvcuda::wmma;
  using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
  using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
  using FragC = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
  // WMMA wants 32-byte aligned fragment pointers and row lengths that are multiples of 4
  // floats: kBM, kLdB, kLdC are, and every fragment origin below is a multiple of 8 floats.
  __shared__ __align__(32) float As[kBK][kBM];
  __shared__ __align__(32) float Bs[kBK][kLdB];
  __shared__ __align__(32) float Cs[kBN][kLdC];
  const int t = threadIdx.x, warp = t / 32;
  const int wm = (warp % 4) * 32, wn = (warp / 4) * 32;  // the warp's 32 × 32 sub-tile
  const int64_t m0 = int64_t{blockIdx.x} * kBM;
  const int k0 = static_cast<int>(blockIdx.y) * kBN;
  const GatherRow<float> row = gather_row(x, s, m0 + t % kBM);
  FragC acc[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  for (int r0 = 0; r0 < s.R; r0 += kBK) {
    gather_a(As, s, row, r0, t);
    load_b(Bs, w, s, r0, k0, t);
    __syncthreads();
    for (int kk = 0; kk < kBK; kk += 8) {
      FragA fa[2];
      FragB fb[2];
      for (int i = 0; i < 2; ++i) {  // A[m, r]: element (m, r) at As[r][m], column-major, ld kBM
        wmma::load_matrix_sync(fa[i], &As[kk][wm + 16 * i], kBM);
        for (int e = 0; e < fa[i].num_elements; ++e) fa[i].x[e] = wmma::__float_to_tf32(fa[i].x[e]);
      }
      for (int j = 0; j < 2; ++j) {  // B[r, k]: element (r, k) at Bs[r][k], row-major, ld kLdB
        wmma::load_matrix_sync(fb[j], &Bs[kk][wn + 16 * j], kLdB);
        for (int e = 0; e < fb[j].num_elements; ++e) fb[j].x[e] = wmma::__float_to_tf32(fb[j].x[e]);
      }
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
  // Y[m, k] at Cs[k][m]: a column-major store of each [m × k] fragment.
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&Cs[wn + 16 * j][wm + 16 * i], acc[i][j], kLdC, wmma::mem_col_major);
  __syncthreads();
  for (int e = t; e < kBM * kBN; e += kBlock) {  // consecutive threads: consecutive m (coalesced)
    const int mm = e % kBM, kk = e / kBM;
    store_y(y, b, s, m0 + mm, k0 + kk, Cs[kk][mm]);
  }
#else
  __trap();  // the host launches this kernel only on compute capability >= 8.0
#endif
}

}  // namespace

// ---- host code ------------------------------------------------------------------------------

template <typename T>
void conv2d_forward_implicit_gemm(const cpu::Conv2dGeometry& geo, const T* x, const T* w, const T* b, T* y) {
  const ConvShape s = igemm::make_shape(geo);
  if (s.M == 0) return;
  const dim3 grid = igemm::tile_grid(s, kBM, kBN);
  if constexpr (std::is_same_v<T, float>) {
    if (allow_tf32() && igemm::has_tf32_tensor_cores(current_device())) {
      ATEBM_LAUNCH(grid, kBlock, 0, current_stream(), implicit_gemm_tf32_kernel)(x, w, b, y, s);
      ATEBM_CUDA_CHECK_LAUNCH();
      return;
    }
  }
  ATEBM_LAUNCH(grid, kBlock, 0, current_stream(), implicit_gemm_fma_kernel<T>)(x, w, b, y, s);
  ATEBM_CUDA_CHECK_LAUNCH();
}

template void conv2d_forward_implicit_gemm<float>(const cpu::Conv2dGeometry&, const float*, const float*,
                                                  const float*, float*);
template void conv2d_forward_implicit_gemm<double>(const cpu::Conv2dGeometry&, const double*, const double*,
                                                   const double*, double*);

}  // namespace atebm::cuda
