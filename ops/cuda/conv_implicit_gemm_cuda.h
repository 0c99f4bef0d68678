#pragma once
// A hand-written conv2d forward kernel for the GPU (tier 1: raw device pointers, no autograd):
// implicit GEMM, written to teach (ops/cuda/conv_implicit_gemm.cu explains the mapping of a
// convolution to a matrix product, the tiling, and why). Plain C++ header (no CUDA includes).
//
// Shape contract: exactly cpu::conv2d_forward_cpu's (ops/cpu/conv_cpu.h):
//   y [N, K, Ho, Wo] = conv(x [N, C, H, W], w [K, C, kh, kw]) + b [K]   (b may be null)
// contiguous NCHW / OIHW, one float dtype T, any stride / padding / dilation, groups = 1.
// float32 runs on TF32 tensor cores (WMMA) when allow_tf32() (ops/math_mode.h) and the GPU has
// them (compute capability >= 8.0), else FP32 FMA; float64 runs the FMA path in float64. Every
// output is one fixed-order sum (deterministic).
// The pointers live on the CURRENT CUDA device; the kernel is queued on cuda::current_stream().
// ops/conv.cpp runs it for conv2d forward when conv_algo() == ConvAlgo::ImplicitGemm.
#include "ops/cpu/conv_cpu.h"

namespace atebm::cuda {

template <typename T>
void conv2d_forward_implicit_gemm(const cpu::Conv2dGeometry& geo, const T* x, const T* w, const T* b, T* y);

}  // namespace atebm::cuda
