#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// Convolution forward as an implicit GEMM, step 3: channels last. Read conv_implicit_gemm.cu (the
// GEMM view) and conv_implicit_gemm_pipelined.cu (cp.async stages, warp tiles, split-K) first;
// this is the pipelined kernel with its gather rebuilt, for inputs with C % 4 == 0 (every ResNet
// conv but the 3-channel stem). The same GEMM, Y [M × K] = A [M × R] · B [R × K], TF32 WMMA.
//
// What the first GPU profile of the pipelined kernel said (bench/RESULTS.md, 2026-11-30): issue
// bound, the integer pipe busiest. Its A tile is gathered one 4-byte cp.async per element, with
// the bounds test and the address per element, and every fragment element is converted to TF32
// after each load; with 4-byte copies a warp also moves only 128 bytes per instruction.
//
// 1. Reorder the reduction: r = (tap, c) instead of (c, tap). A step takes kBC = 32 channels of
//    one tap (i, j). For output position m the 32 values A[m, r..r+31] are then x[n, c..c+31,
//    ih, iw]: contiguous in a channels-last (NHWC) copy of x. One bounds test per row and step
//    (is (ih, iw) inside the image?) covers 8 copies of 16 bytes.
// 2. So first copy x to NHWC (nchw_to_nhwc_tf32_kernel, a transpose through shared memory) and w
//    to [K][kh][kw][C] (oihw_to_ohwi_tf32_kernel), rounding both to TF32 on the way: the main loop
//    then needs no conversion at all (the tensor cores ignore the low 13 bits, which are zero).
//    Rounding before or after the copy gives the same bits; the two copies cost one read and one
//    write of x and w (the benchmarks time them with the convolution).
// 3. A and B both k-contiguous in shared memory: As[m][c] (WMMA row-major A) and Bs[k][c]
//    (col-major B), rows of kBC + 4 = 36 floats, so that the 8 rows a fragment load touches start
//    on 8 different banks (36 ≡ 4 mod 32) and every row stays 16-byte aligned for cp.async.
// 4. Deeper pipeline, larger steps: 3 stages of 32-deep steps in dynamic shared memory (83 KB for
//    the 128 × 64 tile, 110 KB for 128 × 128; more than the 48 KB of static shared memory, so the
//    kernel is allowed it with cudaFuncSetAttribute). Two blocks fit on an H100/H200 SM.
// 5. FP32 accuracy on TF32 tensor cores (when allow_tf32() is off): 3xTF32. The copies split each
//    value v into big = tf32(v) and small = tf32(v − big) (v − big is exact in float32, and
//    |v − big − small| ≤ 2^-22·|v|), stored as two planes, and the kernel multiplies
//    a·b ≈ small_a·big_b + big_a·small_b + big_a·big_b, dropping small_a·small_b (≤ 2^-22·|ab|):
//    three MMAs instead of one, twice the copies and shared memory (2 stages: 110 KB for 128 × 64),
//    and an error per product within a few units of 2^-22, next to float32 accumulation's 2^-24
//    per add. The FMA path it replaces runs on the CUDA cores, whose float32 rate is a fraction
//    of the tensor cores' TF32 rate even after dividing the latter by three.
// Each thread copies one 16-byte chunk (4 channels) of 8 rows of A and of kBN / 16 rows of B per
// step: thread t takes chunk t % 8 of rows t / 8 + 16·i, so a warp reads 4 rows × 128
// contiguous bytes. The per-row part of an address (the window's corner) sits in a table in
// shared memory, computed once per block; the per-step part (the tap's offset) is the same for
// every thread.
#include <cuda_pipeline_primitives.h>
#include <mma.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <mutex>

#include "engine/cuda/launch.cuh"
#include "engine/cuda/stream.h"
#include "engine/factories.h"
#include "ops/cuda/conv_implicit_gemm_nhwc.cuh"
#include "ops/cuda/conv_implicit_gemm_shape.cuh"

namespace atebm::cuda::igemm {
namespace {

// ---- the copies to channels last --------------------------------------------------------------

__device__ __forceinline__ float to_tf32(float v) { return nvcuda::wmma::__float_to_tf32(v); }

// dst[e] = tf32(v); with kSplit also dst[e + plane] = tf32(v − tf32(v)) (5. above).
template <bool kSplit>
__device__ __forceinline__ void put_tf32(float* dst, int64_t e, int64_t plane, float v) {
  const float big = to_tf32(v);
  dst[e] = big;
  if constexpr (kSplit) dst[e + plane] = to_tf32(v - big);
}

// xt[n][p][c] = tf32(x[n][c][p]) (and the small plane), p = h·W + w, P = H·W: a 32 × 32 tile of
// (c, p) through shared memory, so that the reads (along p) and the writes (along c) are both
// coalesced. grid = (ceil(P / 32), ceil(C / 32), min(N, 65535)), block = (32, 8).
template <bool kSplit>
__global__ void nchw_to_nhwc_tf32_kernel(const float* __restrict__ x, float* __restrict__ xt, int n_count, int C,
                                         int P) {
  __shared__ float tile[32][33];  // +1: the transposed reads hit 32 banks
  const int p0 = static_cast<int>(blockIdx.x) * 32, c0 = static_cast<int>(blockIdx.y) * 32;
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int64_t plane = int64_t{n_count} * C * P;
  for (int n = static_cast<int>(blockIdx.z); n < n_count; n += static_cast<int>(gridDim.z)) {
    const float* xn = x + int64_t{n} * C * P;
    const int64_t base = int64_t{n} * C * P;
    __syncthreads();  // the previous sample's tile has been read
    for (int r = ty; r < 32; r += 8)
      if (c0 + r < C && p0 + tx < P) tile[r][tx] = xn[int64_t{c0 + r} * P + p0 + tx];
    __syncthreads();
    for (int r = ty; r < 32; r += 8)
      if (p0 + r < P && c0 + tx < C) put_tf32<kSplit>(xt, base + int64_t{p0 + r} * C + c0 + tx, plane, tile[tx][r]);
  }
}

// wt[k][tap][c] = tf32(w[k][c][tap]) (and the small plane), T taps (kh·kw): for each k a [C × T]
// → [T × C] transpose, 32 channels × 16 taps at a time through shared memory. Read directly, one
// of the two sides would be strided by T or C (for 512 → 512 3×3 weights, 9.4 MB read with 32-byte
// sectors a quarter used). grid = (ceil(C / 32), min(K, 65535)), block = (32, 8).
template <bool kSplit>
__global__ void oihw_to_ohwi_tf32_kernel(const float* __restrict__ w, float* __restrict__ wt, int K, int C, int T) {
  __shared__ float tile[32][17];  // [channel][tap]; 17: both phases hit 32 different banks
  const int c0 = static_cast<int>(blockIdx.x) * 32;
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y), l0 = ty * 32 + tx;
  const int64_t plane = int64_t{K} * C * T;
  for (int k = static_cast<int>(blockIdx.y); k < K; k += static_cast<int>(gridDim.y))
    for (int t0 = 0; t0 < T; t0 += 16) {
      __syncthreads();  // the previous chunk's tile has been written out
      for (int l = l0; l < 32 * 16; l += 256) {  // runs of 16 taps: contiguous in w
        const int c = l / 16, tap = l % 16;
        if (c0 + c < C && t0 + tap < T) tile[c][tap] = w[(int64_t{k} * C + c0 + c) * T + t0 + tap];
      }
      __syncthreads();
      for (int tap = ty; tap < 16; tap += 8)  // rows of 32 channels: contiguous in wt
        if (t0 + tap < T && c0 + tx < C)
          put_tf32<kSplit>(wt, (int64_t{k} * T + t0 + tap) * C + c0 + tx, plane, tile[tx][tap]);
    }
}

// ---- the GEMM ---------------------------------------------------------------------------------

constexpr int kBM = 128, kBC = 32;  // block rows (output positions); channels per reduction step
constexpr int kLd = kBC + 4;        // As[m][c], Bs[k][c] (3. above)
constexpr int kThreads = 128;       // 2 × 2 warps
constexpr int kChunks = kBC / 4;    // 16-byte chunks per row and step

// kSplit: 3xTF32 (5.), a big and a small plane of A and of B per stage.
template <int kBN, bool kSplit>
struct NhwcTile {
  static constexpr int kParts = kSplit ? 2 : 1;
  static constexpr int kStages = kSplit ? 2 : 3;
  static constexpr int kWarpN = kBN / 2;  // warps of 64 × kWarpN
  static constexpr int kFragsN = kWarpN / 16;
  static constexpr int kAFloats = kBM * kLd, kBFloats = kBN * kLd;  // one plane of As, of Bs
  static constexpr int kStageFloats = kParts * (kAFloats + kBFloats);  // As[part], then Bs[part]
  static constexpr int kRowTableBytes = kBM * 16;  // one RowEntry per row of A, before the stages
  static constexpr int kSmemBytes =
      kRowTableBytes + 4 * std::max(kStages * kStageFloats, 64 * (kBM + 4));  // Cs (write_tile) reuses the stages
  static_assert(kBN == 64 || kBN == 128);
  // WMMA wants fragment origins 32-byte aligned: every offset below is a multiple of 8 floats.
  static_assert(kAFloats % 8 == 0 && kBFloats % 8 == 0 && (16 * kLd) % 8 == 0 && kRowTableBytes % 128 == 0);
};

// What a row of A (output position m) needs per step, computed once per block: the input pixel of
// its window's top-left tap, pix = n·H·W + ih0·W + iw0 (it may lie outside the image: only pixels
// the bounds test lets through are read), and (ih0, iw0). For m ≥ M, ih0 = −2^30: no tap passes.
// 16 bytes: one shared-memory load.
struct alignas(16) RowEntry {
  int pix, ih0, iw0, unused;
};

// Four floats, for a 16-byte store of zeros.
struct alignas(16) Quad {
  float v[4];
};

__device__ __forceinline__ RowEntry row_entry(const ConvShape& s, int64_t m) {
  if (m >= s.M) return {0, -(1 << 30), 0, 0};
  const int plane = s.Ho * s.Wo;
  const int n = static_cast<int>(m / plane), p = static_cast<int>(m - int64_t{n} * plane);
  const int oh = p / s.Wo, ow = p - oh * s.Wo;
  const int ih0 = oh * s.sh - s.ph, iw0 = ow * s.sw - s.pw;
  return {(n * s.H + ih0) * s.W + iw0, ih0, iw0, 0};
}

// The reduction step a block issues next: channel block cb of tap (i, j), advanced one step at a
// time in the order r = (tap, c); what it adds to a row's pixel and coordinates is the same for
// every thread.
struct StepWalker {
  int cb, i, j;
  __device__ __forceinline__ void start(int q, const ConvShape& s, int c_blocks) {
    const int tap = q / c_blocks;
    cb = q - tap * c_blocks;
    i = tap / s.kw;
    j = tap - i * s.kw;
  }
  __device__ __forceinline__ void next(const ConvShape& s, int c_blocks) {
    if (++cb < c_blocks) return;
    cb = 0;
    if (++j < s.kw) return;
    j = 0;
    ++i;
  }
};

// One step's tiles into a stage: As[m][c] = xt[pixel of row m at tap (i, j)][c0 + c] and
// Bs[k][c] = wt[k0 + k][tap][c0 + c], 16 bytes per copy, zeros outside the image, past C, M or K;
// with kSplit the same for the small planes (x_plane, w_plane floats further on).
template <int kBN, bool kSplit>
__device__ __forceinline__ void issue_step(float* stage, const RowEntry* rows, const float* xt, const float* wt,
                                           int64_t x_plane, int64_t w_plane, const ConvShape& s,
                                           const StepWalker& q, int k0, int t) {
  using T = NhwcTile<kBN, kSplit>;
  const int chunk = t % kChunks, r0 = t / kChunks;
  const int c = q.cb * kBC + 4 * chunk;
  const bool c_in = c < s.C;
  const int di = q.i * s.dh, dj = q.j * s.dw, dpix = di * s.W + dj;
  for (int r = r0; r < kBM; r += kThreads / kChunks) {
    const RowEntry row = rows[r];
    float* dst = stage + r * kLd + 4 * chunk;
    const unsigned ih = static_cast<unsigned>(row.ih0 + di), iw = static_cast<unsigned>(row.iw0 + dj);
    const bool inside = c_in && ih < static_cast<unsigned>(s.H) && iw < static_cast<unsigned>(s.W);
    const float* src = xt + (int64_t{row.pix + dpix} * s.C + c);
    for (int part = 0; part < T::kParts; ++part) {
      if (inside)
        __pipeline_memcpy_async(dst + part * T::kAFloats, src + part * x_plane, 16);
      else
        *reinterpret_cast<Quad*>(dst + part * T::kAFloats) = Quad{};
    }
  }
  float* const Bs = stage + T::kParts * T::kAFloats;
  const int tap = q.i * s.kw + q.j;
  for (int r = r0; r < kBN; r += kThreads / kChunks) {
    float* dst = Bs + r * kLd + 4 * chunk;
    const bool inside = c_in && k0 + r < s.K;
    const float* src = wt + (int64_t{k0 + r} * s.R + int64_t{tap} * s.C + c);
    for (int part = 0; part < T::kParts; ++part) {
      if (inside)
        __pipeline_memcpy_async(dst + part * T::kBFloats, src + part * w_plane, 16);
      else
        *reinterpret_cast<Quad*>(dst + part * T::kBFloats) = Quad{};
    }
  }
}

// grid = (ceil(M / kBM), ceil(K / kBN), Z), block = kThreads, NhwcTile::kSmemBytes of dynamic shared
// memory. xt, wt: the copies (with kSplit, the small planes x_plane and w_plane floats after the
// big ones). Block z runs steps [z·steps/Z, (z + 1)·steps/Z) of steps = kh·kw·ceil(C / kBC).
// Z = 1: y = Y + b. Z > 1: partial[z][k][m] = its part of Y.
template <int kBN, bool kSplit>
__global__ void __launch_bounds__(kThreads, 2)
    implicit_gemm_nhwc_kernel(const float* __restrict__ xt, const float* __restrict__ wt, const float* __restrict__ b,
                              float* __restrict__ y, float* __restrict__ partial, ConvShape s, int64_t x_plane,
                              int64_t w_plane, int c_blocks, int steps) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(ATEBM_CUDA_EMULATION)
  namespace wmma = nvcuda::wmma;
  using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
  using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
  using FragC = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
  using T = NhwcTile<kBN, kSplit>;
  constexpr int kStages = T::kStages, kStageFloats = T::kStageFloats, kFragsN = T::kFragsN, kParts = T::kParts;
  unsigned char* const shared = dynamic_shared_memory();
  RowEntry* const rows = reinterpret_cast<RowEntry*>(shared);
  float* const smem = reinterpret_cast<float*>(shared + T::kRowTableBytes);
  const int t = static_cast<int>(threadIdx.x), warp = t / 32;
  const int wm = (warp % 2) * 64, wn = (warp / 2) * T::kWarpN;  // the warp's 64 × kWarpN sub-tile
  const int64_t m0 = int64_t{blockIdx.x} * kBM;
  const int k0 = static_cast<int>(blockIdx.y) * kBN;
  const int z = static_cast<int>(blockIdx.z), splits = static_cast<int>(gridDim.z);
  const int first = static_cast<int>(int64_t{z} * steps / splits);
  const int count = static_cast<int>(int64_t{z + 1} * steps / splits) - first;
  static_assert(kThreads == kBM, "one row of the table per thread");
  rows[t] = row_entry(s, m0 + t);
  __syncthreads();
  StepWalker walk;
  walk.start(first, s, c_blocks);

  FragC acc[4][kFragsN];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < kFragsN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  run_pipeline<kStages>(
      count,
      [&](int q) {  // issued in order of q, so the walker only steps forward
        issue_step<kBN, kSplit>(smem + (q % kStages) * kStageFloats, rows, xt, wt, x_plane, w_plane, s, walk, k0, t);
        walk.next(s, c_blocks);
      },
      [&](int q) {
        const float* As = smem + (q % kStages) * kStageFloats;
        const float* Bs = As + kParts * T::kAFloats;
        for (int kk = 0; kk < kBC; kk += 8) {
          // Already TF32 (2.): no conversion after the loads. [0]: big planes, [1]: small ones.
          FragA fa[kParts][4];
          FragB fb[kParts][kFragsN];
          for (int part = 0; part < kParts; ++part) {
            for (int i = 0; i < 4; ++i)
              wmma::load_matrix_sync(fa[part][i], As + part * T::kAFloats + (wm + 16 * i) * kLd + kk, kLd);
            for (int j = 0; j < kFragsN; ++j)
              wmma::load_matrix_sync(fb[part][j], Bs + part * T::kBFloats + (wn + 16 * j) * kLd + kk, kLd);
          }
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < kFragsN; ++j) {
              if constexpr (kSplit) {  // the small terms first
                wmma::mma_sync(acc[i][j], fa[1][i], fb[0][j], acc[i][j]);
                wmma::mma_sync(acc[i][j], fa[0][i], fb[1][j], acc[i][j]);
              }
              wmma::mma_sync(acc[i][j], fa[0][i], fb[0][j], acc[i][j]);
            }
        }
      });
  write_tile<kBM, kBN, kThreads>(smem, acc, wm, wn, t, s, m0, k0, b, y, partial, z);
#else
  __trap();  // the host launches this kernel only on compute capability >= 8.0
#endif
}

// Allows the kernel its dynamic shared memory on `device`, once per device.
template <int kBN, bool kSplit>
void allow_shared_memory(int device) {
  static std::array<std::once_flag, 64> once;
  ATEBM_CHECK(device >= 0 && device < static_cast<int>(once.size()), "conv2d (implicit gemm, nhwc): device {} >= {}",
              device, once.size());
  std::call_once(once[static_cast<size_t>(device)], [] {
    ATEBM_CUDA_CHECK(cudaFuncSetAttribute(implicit_gemm_nhwc_kernel<kBN, kSplit>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          NhwcTile<kBN, kSplit>::kSmemBytes));
  });
}

template <int kBN, bool kSplit>
void launch(const ConvShape& s, int splits, int device, const float* x, const float* w, const float* b, float* y) {
  const TensorOptions f32{.dtype = DType::Float32, .device = Device::cuda(device)};
  const int64_t n = s.M / (int64_t{s.Ho} * s.Wo);
  const int taps = s.kh * s.kw, plane = s.H * s.W;
  const int64_t x_plane = n * s.C * plane, w_plane = int64_t{s.K} * s.R, parts = kSplit ? 2 : 1;
  // The channels-last, TF32-rounded copies (freed at return; the caching allocator reuses them
  // only in stream order).
  Tensor xt = empty({parts * x_plane}, f32), wt = empty({parts * w_plane}, f32);
  {
    const dim3 grid((plane + 31) / 32, (s.C + 31) / 32, static_cast<unsigned>(std::min<int64_t>(n, 65535)));
    ATEBM_LAUNCH_FN(grid, dim3(32, 8), 0, current_stream(), nchw_to_nhwc_tf32_kernel<kSplit>)
        (x, xt.data<float>(), static_cast<int>(n), s.C, plane);
    ATEBM_CUDA_CHECK_LAUNCH();
    const dim3 w_grid((s.C + 31) / 32, static_cast<unsigned>(std::min(s.K, 65535)));
    ATEBM_LAUNCH_FN(w_grid, dim3(32, 8), 0, current_stream(), oihw_to_ohwi_tf32_kernel<kSplit>)
        (w, wt.data<float>(), s.K, s.C, taps);
    ATEBM_CUDA_CHECK_LAUNCH();
  }
  dim3 grid = tile_grid(s, kBM, kBN);
  grid.z = static_cast<unsigned>(splits);
  const SplitK split(s, splits, device);
  const int c_blocks = (s.C + kBC - 1) / kBC;
  allow_shared_memory<kBN, kSplit>(device);
  constexpr int kSmemBytes = NhwcTile<kBN, kSplit>::kSmemBytes;
  ATEBM_LAUNCH_FN(grid, kThreads, kSmemBytes, current_stream(), implicit_gemm_nhwc_kernel<kBN, kSplit>)
      (xt.data<float>(), wt.data<float>(), b, y, split.partial(), s, x_plane, w_plane, c_blocks, taps * c_blocks);
  ATEBM_CUDA_CHECK_LAUNCH();
  split.sum_into(b, y);
}

}  // namespace

const char* nhwc_unsupported(const ConvShape& s, int bn, bool split, int device) {
  if (s.C % 4 != 0) return "C is not a multiple of 4 (16-byte copies of 4 channels)";
  if ((s.C + 31) / 32 > 65535) return "more than 2^21 channels (the copies' grids)";
  const int64_t n = s.M / (int64_t{s.Ho} * s.Wo);
  if (n * s.C * s.H * s.W > INT_MAX / 2) return "x has more than 2^30 elements (32-bit pixel offsets)";
  int optin = 0;
  ATEBM_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const int need = bn == 64 ? (split ? NhwcTile<64, true>::kSmemBytes : NhwcTile<64, false>::kSmemBytes)
                            : (split ? NhwcTile<128, true>::kSmemBytes : NhwcTile<128, false>::kSmemBytes);
  if (optin < need) return "the GPU allows a block less shared memory than the tile needs";
  return nullptr;
}

int nhwc_steps(const ConvShape& s) { return s.kh * s.kw * ((s.C + kBC - 1) / kBC); }

int nhwc_split_count(int64_t tiles, int64_t steps, int sms) {
  // Two blocks fit on an SM (shared memory; the 128-wide tile's registers too): split only a grid
  // under two per SM, into as many parts as one such wave holds (a third of a wave more would
  // cost a whole wave), every part at least 4 steps (128 of R) long, at most 16.
  const int64_t wave = 2 * int64_t{sms};
  if (tiles <= 0 || tiles >= wave) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min({wave / tiles, steps / 4, int64_t{16}})));
}

void conv2d_forward_nhwc(const ConvShape& s, int bn, bool split, int splits, int device, const float* x,
                         const float* w, const float* b, float* y) {
  if (bn == 64)
    split ? launch<64, true>(s, splits, device, x, w, b, y) : launch<64, false>(s, splits, device, x, w, b, y);
  else
    split ? launch<128, true>(s, splits, device, x, w, b, y) : launch<128, false>(s, splits, device, x, w, b, y);
}

}  // namespace atebm::cuda::igemm
