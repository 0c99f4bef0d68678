#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// Convolution forward as an implicit GEMM, step 2: the teaching kernel (conv_implicit_gemm.cu;
// read it first: the GEMM view, the tiles, who touches what) with what makes such a kernel fast.
// float32 on TF32 tensor cores (WMMA), compute capability 8.0 or later; contract in
// ops/cuda/conv_implicit_gemm_cuda.h. The same GEMM, Y [M × K] = A [M × R] · B [R × K].
//
// 1. Copies that do not stall the multiplier: cp.async, three stages deep. In the teaching
//    kernel every thread loads its part of the next tile into registers, stores it to shared
//    memory, and only then can the block multiply: the tensor cores idle during every load.
//    cp.async (__pipeline_memcpy_async) copies global → shared memory without a register and
//    without waiting; __pipeline_commit closes a group, __pipeline_wait_prior(n) waits until
//    only the newest n groups may still be in flight. With S = 3 stage buffers:
//      prologue:  issue steps 0 and 1 (one group each)
//      step s:    wait until step s has landed (wait_prior(1)); __syncthreads()
//                 issue step s + 2 into the buffer step s − 1 used
//                 multiply step s                               (steps s + 1, s + 2 in flight)
//    The one barrier per step does both jobs: every thread's copies of step s are visible to
//    all, and every warp has finished multiplying step s − 1, so its buffer may be refilled.
//    (Issuing before the barrier would overwrite a tile a slow warp is still reading; on the
//    emulated GPU, CUDA_EMU_SCHEDULE=warp with CUDA_EMU_CP_ASYNC=eager makes such a bug show.)
//    The loop is run_pipeline (conv_implicit_gemm_shape.cuh), shared with the channels-last kernel.
// 2. No division per gathered element. A = x gathered at r = (c, i, j): the teaching kernel
//    divides r by kh·kw and kw for each of its 8 elements per step. Here every thread walks r in
//    the same order, one tap at a time (TapWalker: j + 1, carrying into i and c), and what a
//    tap adds to the address and to the input coordinates is the same for every thread (a
//    candidate for uniform registers, computed once per warp); what is the thread's own (its
//    window's corner and offset) is computed once per block. A gathered element then costs two
//    adds, two unsigned compares, an address and the copy; the carry branch is the same for
//    the whole warp.
//    Thread t owns output position m0 + t and gathers all 16 taps of a step: a warp reads 32
//    neighbouring ow, i.e. consecutive addresses of x (4-byte copies, as a tap shifts the window
//    by one element and breaks 16-byte alignment).
// 3. 16-byte weight copies. A row of w is contiguous in r; with R % 4 == 0 (every ResNet conv but
//    the 3-channel stem) and w 16-byte aligned, each thread copies float4s. B is kept as Bs[k][r]
//    (a column-major [r × k] matrix, which WMMA loads as it is) so the copies need no transpose.
// 4. A larger tile per warp: 4 warps of 64 × 32 outputs (4 × 2 fragments) on a 128 × 64 block
//    tile. Per 8-deep slice a warp loads 6 fragments for 8 MMAs (the teaching kernel: 4 for 4),
//    so shared-memory traffic per MMA falls by a third. For layers with 128 or more output
//    channels a 128 × 128 tile (warps of 64 × 64: 8 fragments for 16 MMAs) gathers each element
//    of x once for 128 channels instead of 64, halving the gather work per FLOP, the kernel's
//    largest cost in instructions; it pays with 64 more accumulator registers per thread and, to
//    stay within 48 KB of static shared memory, 2 stages instead of 3. Its 240 registers a
//    thread leave room for 2 blocks, 8 warps, per SM: few to hide latencies with. The third
//    tile keeps 128 × 128 but with 8 warps of 64 × 32 (256 threads, 128 registers each, so 16
//    warps per SM); two threads share a row of A, each gathering 8 of a step's 16 taps.
//    (PipelinedTile; which is faster where is for the GPU benchmarks to say:
//    bench/cuda/bench_conv_cuda.cpp times all three. The first GPU run found them within 5% of
//    each other and the kernel issue-bound: the gather below is what it spends its instructions
//    on. Step 3, conv_implicit_gemm_nhwc.cu, rebuilds it around 16-byte copies.)
// 5. Split-K when the grid cannot fill the GPU. Layer 4 of the CIFAR ResNet at batch 32 has
//    M = 512 and K = 512: 4 × 8 = 32 blocks for 132 SMs, each with 288 reduction steps. The
//    reduction is split into Z contiguous ranges of steps (grid.z); block z writes its partial
//    tile to a workspace P[z][k][m] (from the caching allocator), and a second kernel adds the Z
//    partials in order of z, then the bias: deterministic, as everything here. Z is chosen from
//    the tile count and the number of SMs, so the bits depend on the GPU model, not on the run.
// Not here (cuDNN and CUTLASS on Hopper have them): the bulk tensor copy engine (TMA), wgmma
// issued by a warpgroup on 128-wide tiles, and NHWC layouts with 16-byte activation copies.
#include <cuda_pipeline_primitives.h>
#include <mma.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "engine/cuda/basic_kernels_cuda.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/stream.h"
#include "engine/factories.h"
#include "ops/cuda/conv_implicit_gemm_cuda.h"
#include "ops/cuda/conv_implicit_gemm_nhwc.cuh"
#include "ops/cuda/conv_implicit_gemm_shape.cuh"
#include "ops/math_mode.h"

namespace atebm::cuda {
namespace {

using igemm::ConvShape, igemm::GatherRow, igemm::gather_row, igemm::run_pipeline, igemm::write_tile;

// ---- device code ----------------------------------------------------------------------------

constexpr int kBM = 128, kBK = 16;  // block tile rows (output positions), reduction step
constexpr int kLdA = kBM + 4;       // As[r][m]: column-major A (+4: rows stay 16-byte aligned)
constexpr int kLdB = kBK + 4;       // Bs[k][r]: column-major B
constexpr int kLdC = kBM + 4;       // Cs[k][m]: 64 columns of the finished tile (write_tile)
constexpr int kOutCols = 64;

// The three tile shapes (4. above): warps of 64 rows × kWarpN columns (output channels), two
// along m and kWarpsN along n. Thread t gathers row t % kBM of A, taps
// [g·kTapsPer, (g + 1)·kTapsPer) of each step for g = t / kBM.
template <int kWarpN, int kWarpsN>
struct Tile {
  static constexpr int kThreads = 64 * kWarpsN;  // 2 · kWarpsN warps
  static constexpr int kBN = kWarpsN * kWarpN;   // block tile columns
  static constexpr int kFragsN = kWarpN / 16;    // 16 × 16 fragments per warp along n (4 along m)
  static constexpr int kGroups = kThreads / kBM;     // threads per row of A
  static constexpr int kTapsPer = kBK / kGroups;     // taps each of them gathers per step
  static constexpr int kStageFloats = kBK * kLdA + kBN * kLdB;
  // As many stages (at most 3) as 48 KB of static shared memory hold.
  static constexpr int kStages = std::min<int>(3, 48 * 1024 / (kStageFloats * sizeof(float)));
  static constexpr int kSmemFloats = std::max(kStages * kStageFloats, kOutCols * kLdC);  // Cs reuses the stages
  static_assert(kStages >= 2 && kSmemFloats * sizeof(float) <= 48 * 1024, "static shared memory is limited to 48 KB");
  static_assert(kThreads % kBM == 0 && kBK % kGroups == 0);
  // WMMA wants fragment origins 32-byte aligned: every offset below is a multiple of 8 floats.
  static_assert(kStageFloats % 8 == 0 && (kBK * kLdA) % 8 == 0 && (16 * kLdB) % 8 == 0 && (16 * kLdC) % 8 == 0);
};

// The reduction index a thread gathers next, r = (c·kh + i)·kw + j, advanced one tap at a time,
// with what the tap adds to any output position's gather: the offset (di, dj) = (i·dh, j·dw) of
// its input coordinate and off = (c·H + di)·W + dj of its element in the sample. None of it
// depends on the thread's row, only on its group of taps, which is the same for a whole warp,
// so the compiler may keep the walk in uniform registers (one computation per warp, on the
// uniform datapath of sm_75 and later; not checked here: no SASS disassembler).
struct TapWalker {
  int r, c, i, j, di, dj, off;
  __device__ __forceinline__ void start(int r0, const ConvShape& s) {
    const int taps = s.kh * s.kw;
    r = r0;
    c = r0 / taps;
    const int tap = r0 - c * taps;
    i = tap / s.kw;
    j = tap - i * s.kw;
    di = i * s.dh;
    dj = j * s.dw;
    off = (c * s.H + di) * s.W + dj;
  }
  __device__ __forceinline__ void next(const ConvShape& s) {
    ++r;
    dj += s.dw;
    off += s.dw;
    if (++j == s.kw) {
      j = 0;
      dj = 0;
      di += s.dh;
      if (++i == s.kh) {
        i = 0;
        di = 0;
        ++c;
      }
      off = (c * s.H + di) * s.W;
    }
  }
};

// The output position thread t gathers A for: its input window's top-left (ih0, iw0) and that
// element's offset in the sample, base = ih0·W + iw0 (may be negative). A tap then reads
// x_n[base + off] when 0 <= ih0 + di < H and 0 <= iw0 + dj < W, one unsigned compare each; for a
// position past M, ih0 is −2^30, which fails the first compare for every tap (di < 2^30).
struct PipelinedRow {
  const float* x_n;
  int ih0, iw0, base;
};

__device__ __forceinline__ PipelinedRow pipelined_row(const float* x, const ConvShape& s, int64_t m) {
  const GatherRow<float> g = gather_row(x, s, m);
  if (!g.valid) return {x, -(1 << 30), 0, 0};
  return {g.x_n, g.ih0, g.iw0, g.ih0 * s.W + g.iw0};
}

// As[rr0 + rr][m] = A[m0 + m, r + rr] for the next kTaps taps of `tap` (r: its index): cp.async
// of x, or a plain zero store (padding, past R, past M).
template <int kTaps>
__device__ __forceinline__ void gather_a_async(float* As, const ConvShape& s, const PipelinedRow& row, TapWalker& tap,
                                               int rr0, int m) {
  for (int rr = rr0; rr < rr0 + kTaps; ++rr, tap.next(s)) {
    float* dst = As + rr * kLdA + m;
    const unsigned ih = static_cast<unsigned>(row.ih0 + tap.di), iw = static_cast<unsigned>(row.iw0 + tap.dj);
    if (tap.r < s.R && ih < static_cast<unsigned>(s.H) && iw < static_cast<unsigned>(s.W))
      __pipeline_memcpy_async(dst, row.x_n + (row.base + tap.off), sizeof(float));
    else
      *dst = 0.0f;
  }
}

// Bs[kk][rr] = B[r0 + rr, k0 + kk] = w[k0 + kk, r0 + rr], or 0 past R or K. kVec: float4 copies
// (R % 4 == 0 and w 16-byte aligned, so a chunk is wholly inside or outside R).
template <int kBN, int kThreads, bool kVec>
__device__ __forceinline__ void load_b_async(float* Bs, const float* w, const ConvShape& s, int r0, int k0, int t) {
  constexpr int kWidth = kVec ? 4 : 1;
  for (int q = t; q < kBN * kBK / kWidth; q += kThreads) {
    const int kk = q / (kBK / kWidth), rr = (q % (kBK / kWidth)) * kWidth;
    float* dst = Bs + kk * kLdB + rr;
    const int k = k0 + kk, r = r0 + rr;
    if (k < s.K && r < s.R) {
      __pipeline_memcpy_async(dst, w + int64_t{k} * s.R + r, kWidth * sizeof(float));
    } else {
      for (int e = 0; e < kWidth; ++e) dst[e] = 0.0f;
    }
  }
}

// grid = (ceil(M / kBM), ceil(K / kBN), Z), block = kThreads. Block z runs reduction steps
// [z·steps/Z, (z + 1)·steps/Z). Z = 1: y = Y + b. Z > 1: partial[z][k][m] = its part of Y.
template <int kWarpN, int kWarpsN, bool kVecB>
__global__ void __launch_bounds__(Tile<kWarpN, kWarpsN>::kThreads)
    implicit_gemm_pipelined_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                   const float* __restrict__ b, float* __restrict__ y, float* __restrict__ partial,
                                   ConvShape s, int steps) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(ATEBM_CUDA_EMULATION)
  namespace wmma = nvcuda::wmma;
  using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
  using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
  using FragC = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
  using T = Tile<kWarpN, kWarpsN>;
  constexpr int kBN = T::kBN, kFragsN = T::kFragsN, kStages = T::kStages, kStageFloats = T::kStageFloats;
  constexpr int kThreads = T::kThreads, kTapsPer = T::kTapsPer;
  __shared__ __align__(128) float smem[T::kSmemFloats];  // kStages × {As, Bs}, then Cs
  const int t = threadIdx.x, warp = t / 32;
  const int wm = (warp % 2) * 64, wn = (warp / 2) * kWarpN;  // the warp's 64 × kWarpN sub-tile
  const int64_t m0 = int64_t{blockIdx.x} * kBM;
  const int k0 = static_cast<int>(blockIdx.y) * kBN;
  const int z = static_cast<int>(blockIdx.z), splits = static_cast<int>(gridDim.z);
  const int first = static_cast<int>(int64_t{z} * steps / splits);
  const int count = static_cast<int>(int64_t{z + 1} * steps / splits) - first;
  // The row of A this thread gathers, and which part of a step's taps (0: all of them).
  const int m = T::kGroups == 1 ? t : t % kBM, group = T::kGroups == 1 ? 0 : t / kBM;
  const PipelinedRow row = pipelined_row(x, s, m0 + m);
  TapWalker tap;
  tap.start(first * kBK, s);  // one thread per row: it walks every tap of every step in order
  // Step q (of this block's count) goes to stage buffer q % kStages.
  auto issue = [&](int q) {
    float* stage = smem + (q % kStages) * kStageFloats;
    if constexpr (T::kGroups > 1) tap.start((first + q) * kBK + group * kTapsPer, s);  // its part of step q
    gather_a_async<kTapsPer>(stage, s, row, tap, group * kTapsPer, m);
    load_b_async<kBN, kThreads, kVecB>(stage + kBK * kLdA, w, s, (first + q) * kBK, k0, t);
  };

  FragC acc[4][kFragsN];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < kFragsN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  run_pipeline<kStages>(count, issue, [&](int q) {  // step q: in buffer q % kStages
    const float* As = smem + (q % kStages) * kStageFloats;
    const float* Bs = As + kBK * kLdA;
    for (int kk = 0; kk < kBK; kk += 8) {
      FragA fa[4];
      FragB fb[kFragsN];
      for (int i = 0; i < 4; ++i) {  // A[m, r] at As[r][m]: column-major, ld kLdA
        wmma::load_matrix_sync(fa[i], As + kk * kLdA + wm + 16 * i, kLdA);
        for (int e = 0; e < fa[i].num_elements; ++e) fa[i].x[e] = wmma::__float_to_tf32(fa[i].x[e]);
      }
      for (int j = 0; j < kFragsN; ++j) {  // B[r, k] at Bs[k][r]: column-major, ld kLdB
        wmma::load_matrix_sync(fb[j], Bs + (wn + 16 * j) * kLdB + kk, kLdB);
        for (int e = 0; e < fb[j].num_elements; ++e) fb[j].x[e] = wmma::__float_to_tf32(fb[j].x[e]);
      }
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < kFragsN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
  });
  write_tile<kBM, kBN, kThreads>(smem, acc, wm, wn, t, s, m0, k0, b, y, partial, z);
#else
  __trap();  // the host launches this kernel only on compute capability >= 8.0
#endif
}

}  // namespace

// ---- host code ------------------------------------------------------------------------------

int implicit_gemm_split_count(int64_t tiles, int64_t steps, int sms) {
  // A block holds 37–40 KB of shared memory and 128 or 256 threads, so 2 to 5 fit on an SM
  // (registers decide): aim at about 3 per SM, every split at least 8 steps (128 of R) long, at
  // most 16.
  if (tiles <= 0 || tiles >= 2 * int64_t{sms}) return 1;
  const int64_t wanted = (3 * int64_t{sms} + tiles - 1) / tiles;
  return static_cast<int>(std::max<int64_t>(1, std::min({wanted, steps / 8, int64_t{16}})));
}

namespace {

bool is_nhwc(PipelinedTile tile) { return tile == PipelinedTile::Nhwc64 || tile == PipelinedTile::Nhwc128; }

// What runs problem s on `device` (the header's PipelinedPlan): with TF32 allowed, the tile (Auto:
// channels last where it can run, 128 wide from 128 output channels on) and its split count;
// with TF32 off, the channels-last kernel in 3xTF32 (Auto: 128 × 64, two blocks per SM) or, for
// the NCHW tiles and where it cannot run, the teaching kernel's FMA tiles.
PipelinedPlan plan_for(const ConvShape& s, PipelinedTile tile, int device) {
  if (!igemm::has_tf32_tensor_cores(device)) return {PipelinedTile::Auto, 1, PipelinedMath::Fma};
  const bool tf32 = allow_tf32(), wide = s.K >= 128;
  if (tile == PipelinedTile::Auto) {
    // The wide channels-last tile needs 110 KB of shared memory (sm_86/89 allow a block 99 KB):
    // then the narrow one, then NCHW.
    if (tf32 && wide && igemm::nhwc_unsupported(s, 128, false, device) == nullptr)
      tile = PipelinedTile::Nhwc128;
    else if (igemm::nhwc_unsupported(s, 64, !tf32, device) == nullptr)
      tile = PipelinedTile::Nhwc64;
    else
      tile = wide ? PipelinedTile::N128 : PipelinedTile::N64;
  }
  if (!tf32 && !is_nhwc(tile)) return {PipelinedTile::Auto, 1, PipelinedMath::Fma};
  const int bn = tile == PipelinedTile::N64 || tile == PipelinedTile::Nhwc64 ? 64 : 128;
  const dim3 grid = igemm::tile_grid(s, kBM, bn);
  const int64_t tiles = int64_t{grid.x} * grid.y;
  const PipelinedMath math = tf32 ? PipelinedMath::Tf32 : PipelinedMath::Tf32x3;
  if (is_nhwc(tile)) {
    const char* why = igemm::nhwc_unsupported(s, bn, !tf32, device);
    ATEBM_CHECK(why == nullptr, "conv2d (implicit gemm): tile {} cannot run x with {} channels: {}",
                pipelined_tile_name(tile), s.C, why);
  }
  if (tiles == 0) return {tile, 1, math};  // an empty batch: nothing to split
  int sms = 0;
  ATEBM_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  if (is_nhwc(tile)) return {tile, igemm::nhwc_split_count(tiles, igemm::nhwc_steps(s), sms), math};
  return {tile, implicit_gemm_split_count(tiles, (s.R + kBK - 1) / kBK, sms), math};
}

// Runs the pipelined kernel with tile Tile<kWarpN, kWarpsN> in `splits` parts (and then the sum
// of the parts) on `device`, the current one.
template <int kWarpN, int kWarpsN>
void launch_pipelined(const ConvShape& s, int splits, int device, const float* x, const float* w, const float* b,
                      float* y) {
  using T = Tile<kWarpN, kWarpsN>;
  dim3 grid = igemm::tile_grid(s, kBM, T::kBN);
  grid.z = static_cast<unsigned>(splits);
  const igemm::SplitK split(s, splits, device);
  float* partial = split.partial();
  const int steps = (s.R + kBK - 1) / kBK;
  if (s.R % 4 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0)
    ATEBM_LAUNCH(grid, T::kThreads, 0, current_stream(), implicit_gemm_pipelined_kernel<kWarpN, kWarpsN, true>)
        (x, w, b, y, partial, s, steps);
  else
    ATEBM_LAUNCH(grid, T::kThreads, 0, current_stream(), implicit_gemm_pipelined_kernel<kWarpN, kWarpsN, false>)
        (x, w, b, y, partial, s, steps);
  ATEBM_CUDA_CHECK_LAUNCH();
  split.sum_into(b, y);
}

}  // namespace

const char* pipelined_math_name(PipelinedMath math) {
  return math == PipelinedMath::Tf32 ? "tf32" : math == PipelinedMath::Tf32x3 ? "3xtf32" : "fma";
}

const char* pipelined_tile_name(PipelinedTile tile) {
  switch (tile) {
    case PipelinedTile::N64:
      return "128x64";
    case PipelinedTile::N128:
      return "128x128";
    case PipelinedTile::N128W8:
      return "128x128w8";
    case PipelinedTile::Nhwc64:
      return "nhwc128x64";
    case PipelinedTile::Nhwc128:
      return "nhwc128x128";
    default:
      return "auto";
  }
}

PipelinedPlan implicit_gemm_pipelined_plan(const cpu::Conv2dGeometry& geo, PipelinedTile tile) {
  return plan_for(igemm::make_shape(geo), tile, current_device());
}

template <typename T>
void conv2d_forward_implicit_gemm_pipelined(const cpu::Conv2dGeometry& geo, const T* x, const T* w, const T* b, T* y,
                                            PipelinedTile tile) {
  if constexpr (!std::is_same_v<T, float>) {
    conv2d_forward_implicit_gemm<T>(geo, x, w, b, y);  // float64: the teaching kernel's FMA path
  } else {
    const ConvShape s = igemm::make_shape(geo);
    if (s.M == 0) return;  // an empty batch: no output element
    const int device = current_device();
    const PipelinedPlan plan = plan_for(s, tile, device);
    if (plan.math == PipelinedMath::Fma) {
      conv2d_forward_implicit_gemm<float>(geo, x, w, b, y);  // FP32 FMA tiles
      return;
    }
    const bool split = plan.math == PipelinedMath::Tf32x3;
    switch (plan.tile) {
      case PipelinedTile::N128:
        launch_pipelined<64, 2>(s, plan.splits, device, x, w, b, y);
        break;
      case PipelinedTile::N128W8:
        launch_pipelined<32, 4>(s, plan.splits, device, x, w, b, y);
        break;
      case PipelinedTile::Nhwc64:
        igemm::conv2d_forward_nhwc(s, 64, split, plan.splits, device, x, w, b, y);
        break;
      case PipelinedTile::Nhwc128:
        igemm::conv2d_forward_nhwc(s, 128, split, plan.splits, device, x, w, b, y);
        break;
      default:
        launch_pipelined<32, 2>(s, plan.splits, device, x, w, b, y);
    }
  }
}

template void conv2d_forward_implicit_gemm_pipelined<float>(const cpu::Conv2dGeometry&, const float*, const float*,
                                                            const float*, float*, PipelinedTile);
template void conv2d_forward_implicit_gemm_pipelined<double>(const cpu::Conv2dGeometry&, const double*,
                                                             const double*, const double*, double*, PipelinedTile);

}  // namespace atebm::cuda
