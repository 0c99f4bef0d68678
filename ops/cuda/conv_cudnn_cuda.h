#pragma once
// The conv trio on the GPU through cuDNN (tier 1: raw device pointers, no autograd), the CUDA
// twin of ops/cpu/conv_cpu.h. Plain C++ header (no CUDA includes): ops/conv.cpp includes it in
// every build.
//
// Shape contract: exactly the CPU kernels' (cpu::Conv2dGeometry; all arrays contiguous NCHW /
// OIHW, one float dtype T; groups must be 1):
//   conv2d_forward_cudnn:     y [N, K, Ho, Wo] = conv(x [N, C, H, W], w [K, C, kh, kw]) + b [K]
//                             (b may be null)
//   conv2d_grad_input_cudnn:  dx = ∂<y, g>/∂x   (zero where no output reads the input)
//   conv2d_grad_weight_cudnn: dw = ∂<y, g>/∂w   (zero for an empty batch)
// The pointers live on the CURRENT CUDA device (where the engine allocates); the work is
// queued on cuda::current_stream() and the calls return without waiting.
//
// API: cuDNN 9's legacy convolution API (cudnnConvolutionForward / BackwardData /
// BackwardFilter with cudnnGet*Algorithm_v7). Why not the graph (backend) API: the legacy
// entry points are still shipped and supported in cuDNN 9, cover exactly these three ops with
// NCHW float/double tensors, and need ~10 calls per op instead of building and finalising an
// operation graph and execution plan; nothing here needs fusion.
//
// Algorithm choice: once per (device, pass, shape, dtype, allow_tf32, cudnn_algo_search) key,
// cached with its descriptors. By default (CudnnAlgoSearch::Heuristic, ops/math_mode.h) from
// cuDNN's heuristics (cudnnGet*_v7): the choice is then a pure function of the problem, GPU and
// cuDNN version, so two runs pick the same algorithm and give the same bits; it needs no trial
// runs (no latency spike and no trial workspaces on the first iteration of each new shape); and
// it is safe during CUDA-graph capture. The price is sometimes a slower algorithm.
// CudnnAlgoSearch::Measured (opt-in; `train.cudnn_algo_search=measured`) instead times the
// candidates once per key with cudnnFind*AlgorithmEx on random trial operands of the problem's
// shapes (host-blocking, a few milliseconds per key, with a trial workspace as large as the
// largest acceptable heuristic candidate's) and ranks them by measured time: faster where the
// heuristics misjudge, but near-ties can flip between runs, and so can the last bits. A key met
// first during a CUDA-graph capture is planned by heuristics (Find would end the capture).
// bench/cuda/bench_conv_cuda.cpp measures both (rows `engine` and `engine_measured`).
// The first candidate (in the ranking's order: fastest first) is taken that
//   - is DETERMINISTIC (no atomics in the reductions: backward-data algo 0, backward-filter
//     algos 0 and 3 are not), so results do not depend on the launch;
//   - keeps the requested precision: float32 with allow_tf32() off runs with CUDNN_FMA_MATH
//     (plain FP32), on with the math type cuDNN proposes (CUDNN_DEFAULT_MATH permits TF32 on
//     Ampere and newer, CUDNN_TENSOR_OP_MATH uses it); CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION is
//     never used (it may round float32 inputs to half); float64 runs in float64;
//   - needs at most 1 GiB of workspace.
// The workspace is an engine Tensor from the caching allocator, allocated per call.
#include <cstdint>

#include "engine/dtype.h"
#include "ops/cpu/conv_cpu.h"

namespace atebm::cuda {

template <typename T>
void conv2d_forward_cudnn(const cpu::Conv2dGeometry& geo, const T* x, const T* w, const T* b, T* y);
template <typename T>
void conv2d_grad_input_cudnn(const cpu::Conv2dGeometry& geo, const T* g, const T* w, T* dx);
template <typename T>
void conv2d_grad_weight_cudnn(const cpu::Conv2dGeometry& geo, const T* x, const T* g, T* dw);

/// What the wrappers above run for a problem, so a benchmark can call cuDNN directly with the
/// same algorithm: the cuDNN algorithm enum (cudnnConvolutionFwdAlgo_t, ...BwdDataAlgo_t or
/// ...BwdFilterAlgo_t by pass), the cudnnMathType_t set on the convolution descriptor, and the
/// workspace size. Plans (and caches) the problem for the current device and allow_tf32() if
/// it was not run yet. Throws for a degenerate geometry (empty batch or input), which the
/// wrappers handle without cuDNN.
enum class ConvPass { Forward, GradInput, GradWeight };
struct CudnnConvChoice {
  int algo = 0;
  int math_type = 0;
  int64_t workspace_bytes = 0;
};
CudnnConvChoice cudnn_conv_choice(ConvPass pass, const cpu::Conv2dGeometry& geo, DType dtype);

}  // namespace atebm::cuda
