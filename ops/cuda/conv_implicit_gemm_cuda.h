#pragma once
// Hand-written conv2d forward kernels for the GPU (tier 1: raw device pointers, no autograd):
// implicit GEMM, written to teach. Plain C++ header (no CUDA includes).
//   conv2d_forward_implicit_gemm            ops/cuda/conv_implicit_gemm.cu: the mapping of a
//                                           convolution to a matrix product, tiling, and why;
//   conv2d_forward_implicit_gemm_pipelined  ops/cuda/conv_implicit_gemm_pipelined.cu: the same
//                                           GEMM with cp.async stages, larger warp tiles and
//                                           split-K, what makes it fast.
//
// Shape contract: exactly cpu::conv2d_forward_cpu's (ops/cpu/conv_cpu.h):
//   y [N, K, Ho, Wo] = conv(x [N, C, H, W], w [K, C, kh, kw]) + b [K]   (b may be null)
// contiguous NCHW / OIHW, one float dtype T, any stride / padding / dilation, groups = 1.
// float32 runs on TF32 tensor cores (WMMA) when allow_tf32() (ops/math_mode.h) and the GPU has
// them (compute capability >= 8.0), else FP32 FMA; float64 runs the FMA path in float64. The
// pipelined kernel covers the TF32 case, and with TF32 off runs the channels-last kernel in
// 3xTF32 (float32 accuracy on the tensor cores) where it can; in the others it runs the teaching
// kernel's FMA path (PipelinedPlan says which).
// Every output is one fixed-order sum (deterministic; for the pipelined kernel the order depends
// on the GPU's SM count through the split count, not on the run).
// The pointers live on the CURRENT CUDA device; the kernels are queued on cuda::current_stream().
// The channels-last kernel rounds x and w to TF32 in its copies instead of after each load:
// the same bits.
// ops/conv.cpp runs them for conv2d forward when conv_algo() asks (ConvAlgo::ImplicitGemm,
// ConvAlgo::ImplicitGemmPipelined).
#include <cstdint>

#include "ops/cpu/conv_cpu.h"

namespace atebm::cuda {

template <typename T>
void conv2d_forward_implicit_gemm(const cpu::Conv2dGeometry& geo, const T* x, const T* w, const T* b, T* y);

/// The pipelined kernel's block tile: 128 output positions × 64 channels (4 warps of 64 × 32,
/// 3 cp.async stages), × 128 channels (4 warps of 64 × 64, 2 stages), or × 128 channels with 8
/// warps of 64 × 32 (N128W8: 256 threads, 2 stages), all gathering x as it is (NCHW); or the
/// channels-last kernel (ops/cuda/conv_implicit_gemm_nhwc.cu: copies x and w to NHWC first, then
/// 16-byte gathers; C % 4 == 0) with 128 × 64 or 128 × 128 tiles (Nhwc64, Nhwc128: 4 warps, 3
/// stages of 32 channels in 83 or 110 KB of shared memory). Auto: the channels-last kernel where
/// it can run (128 wide from 128 output channels on, where the GPU gives a block 110 KB), else
/// N64/N128 (128 wide from 128 output channels on).
enum class PipelinedTile { Auto, N64, N128, N128W8, Nhwc64, Nhwc128 };

/// The tile's name in labels and test names: "128x64", "128x128", "128x128w8", "nhwc128x64",
/// "nhwc128x128" ("auto" for Auto).
const char* pipelined_tile_name(PipelinedTile tile);

/// How the pipelined kernel multiplies: on TF32 tensor cores; with float32 accuracy on them
/// (3xTF32: each value split into two TF32 parts, three products; the channels-last kernel when
/// allow_tf32() is off); or on the teaching kernel's FP32 FMA tiles (TF32 off with an NCHW tile
/// or where the channels-last kernel cannot run, and GPUs before compute capability 8.0).
enum class PipelinedMath { Tf32, Tf32x3, Fma };
const char* pipelined_math_name(PipelinedMath math);  // "tf32", "3xtf32", "fma"

/// What the pipelined kernel runs for `geo` on the current GPU in the current math mode
/// (allow_tf32()): its tile (Auto only with Fma: the teaching kernel tiles its own way), in how
/// many parts it splits the reduction (1: none), and how it multiplies.
struct PipelinedPlan {
  PipelinedTile tile;
  int splits;
  PipelinedMath math;
};
PipelinedPlan implicit_gemm_pipelined_plan(const cpu::Conv2dGeometry& geo, PipelinedTile tile = PipelinedTile::Auto);

template <typename T>
void conv2d_forward_implicit_gemm_pipelined(const cpu::Conv2dGeometry& geo, const T* x, const T* w, const T* b, T* y,
                                            PipelinedTile tile = PipelinedTile::Auto);

/// How many parts the pipelined kernel splits the reduction into (1: none), for a grid of
/// `tiles` output tiles, `steps` reduction steps of 16 and a GPU with `sms` multiprocessors (the
/// NCHW tiles; the channels-last kernel has its own policy, igemm::nhwc_split_count).
int implicit_gemm_split_count(int64_t tiles, int64_t steps, int sms);

}  // namespace atebm::cuda
