#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// cuDNN behind the contract of ops/cuda/conv_cudnn_cuda.h (API and algorithm choice are
// explained there).
//
// Handles: one cudnnHandle_t per device, created on first use and never destroyed (like the
// caching allocator's blocks: destruction during static teardown would race the CUDA
// runtime). A handle has one current stream, so binding it to current_stream() and issuing
// the call happen under the handle's mutex.
// Plans: descriptors + chosen algorithm + math type + workspace size per key, kept for the
// life of the process in a map guarded by its own mutex (a network has a few dozen distinct
// conv problems; each plan is a few hundred bytes of host memory).
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/cuda/basic_kernels_cuda.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/stream.h"
#include "engine/factories.h"
#include "ops/cuda/conv_cudnn_cuda.h"
#include "ops/math_mode.h"

// Throws atebm::Error naming the cuDNN call, its status, the source location and cuDNN's own
// description of the last error (cuDNN 9 keeps one per thread).
#define ATEBM_CUDNN_CHECK(call)                                                                              \
  do {                                                                                                       \
    const cudnnStatus_t atebm_cudnn_st_ = (call);                                                            \
    if (atebm_cudnn_st_ != CUDNN_STATUS_SUCCESS) {                                                           \
      char atebm_cudnn_msg_[512] = "";                                                                       \
      cudnnGetLastErrorString(atebm_cudnn_msg_, sizeof(atebm_cudnn_msg_));                                   \
      throw ::atebm::Error(::fmt::format("cuDNN error: {} failed with {} at {}:{}{}{}", #call,              \
                                         cudnnGetErrorString(atebm_cudnn_st_), __FILE__, __LINE__,           \
                                         atebm_cudnn_msg_[0] != '\0' ? ": " : "", atebm_cudnn_msg_));       \
    }                                                                                                        \
  } while (0)

namespace atebm::cuda {
namespace {

constexpr int kMaxDevices = 64;
constexpr size_t kMaxWorkspaceBytes = size_t{1} << 30;

// ---- handles --------------------------------------------------------------------------------

struct DnnContext {
  cudnnHandle_t handle = nullptr;
  std::mutex mu;  // guards the stream binding + call (and planning, which queries the handle)
};

// cuda::current_device(), within this file's per-device tables.
int table_device() {
  const int device = current_device();
  ATEBM_CHECK(device >= 0 && device < kMaxDevices, "conv2d (cudnn): device ordinal {} out of range [0, {})", device,
              kMaxDevices);
  return device;
}

DnnContext& context(int device) {
  static std::array<DnnContext*, kMaxDevices> contexts{};
  static std::array<std::once_flag, kMaxDevices> once;
  std::call_once(once[device], [device] {
    auto* ctx = new DnnContext();  // never destroyed: see the note on top
    ATEBM_CUDNN_CHECK(cudnnCreate(&ctx->handle));
    contexts[device] = ctx;
  });
  return *contexts[device];
}

// ---- plans ----------------------------------------------------------------------------------

struct Plan {
  cudnnTensorDescriptor_t x = nullptr;     // [N, C, H, W]
  cudnnTensorDescriptor_t y = nullptr;     // [N, K, Ho, Wo] (y, or g of the gradients)
  cudnnTensorDescriptor_t bias = nullptr;  // [1, K, 1, 1] (forward only)
  cudnnFilterDescriptor_t w = nullptr;     // [K, C, kh, kw]
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace_bytes = 0;
};

using PlanKey = std::array<int64_t, 18>;

template <typename T>
constexpr cudnnDataType_t cudnn_type() {
  return std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
}

std::string geometry_str(const cpu::Conv2dGeometry& g) {
  return fmt::format("input [{}, {}, {}, {}], weight [{}, {}, {}, {}], stride [{}, {}], padding [{}, {}], dilation "
                     "[{}, {}]",
                     g.n, g.c_in, g.h, g.w, g.c_out, g.c_in, g.kh, g.kw, g.stride_h, g.stride_w, g.pad_h, g.pad_w,
                     g.dil_h, g.dil_w);
}

// cuDNN's legacy descriptors take int sizes and strides: every size and every tensor's element
// count must fit.
void check_fits_int(const cpu::Conv2dGeometry& g) {
  const int64_t sizes[] = {g.n,        g.c_in,     g.h,     g.w,     g.c_out, g.kh,    g.kw,    g.stride_h,
                           g.stride_w, g.pad_h,    g.pad_w, g.dil_h, g.dil_w, g.h_out(), g.w_out()};
  bool ok = true;
  for (int64_t s : sizes) ok = ok && s <= INT_MAX;
  ok = ok && g.n * g.c_in * g.h * g.w <= INT_MAX && g.n * g.c_out * g.h_out() * g.w_out() <= INT_MAX &&
       g.c_out * g.c_in * g.kh * g.kw <= INT_MAX;
  ATEBM_CHECK(ok, "conv2d (cudnn): {} is too large for cuDNN's 32-bit descriptors (every tensor must hold fewer "
                  "than 2^31 elements)",
              geometry_str(g));
}

// Whether a math type cuDNN proposes keeps the precision asked for; the math type to set.
bool math_for(cudnnDataType_t dtype, bool tf32, cudnnMathType_t proposed, cudnnMathType_t* out) {
  if (proposed == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;  // may round to half
  if (dtype == CUDNN_DATA_FLOAT && !tf32) {
    if (proposed == CUDNN_TENSOR_OP_MATH) return false;  // TF32 tensor cores
    *out = CUDNN_FMA_MATH;
    return true;
  }
  *out = proposed;
  return true;
}

// Takes the first acceptable candidate of cuDNN's heuristics (see conv_cudnn_cuda.h) into plan.
// `workspace_of(algo, &bytes)` asks cuDNN for the workspace with the plan's descriptors as they
// are (the math type of the candidate set).
template <typename Perf, typename WorkspaceOf>
bool pick(Plan& plan, const std::vector<Perf>& perfs, int returned, cudnnDataType_t dtype, bool tf32,
          WorkspaceOf workspace_of) {
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perfs[i];
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
    if (p.status != CUDNN_STATUS_SUCCESS || p.determinism != CUDNN_DETERMINISTIC) continue;
    if (!math_for(dtype, tf32, p.mathType, &math)) continue;
    if (cudnnSetConvolutionMathType(plan.conv, math) != CUDNN_STATUS_SUCCESS) continue;
    size_t bytes = 0;
    if (workspace_of(p.algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > kMaxWorkspaceBytes) continue;
    plan.algo = static_cast<int>(p.algo);
    plan.math = math;
    plan.workspace_bytes = bytes;
    return true;
  }
  return false;
}

// The math type a plan's descriptor starts from: plain FP32 FMA for float32 without TF32, else
// the default (cuDNN may use TF32 for float32; float64 is float64 either way).
cudnnMathType_t base_math(cudnnDataType_t dtype, bool tf32) {
  return dtype == CUDNN_DATA_FLOAT && !tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

// The largest workspace among the heuristic candidates pick() could accept: what the measured
// search lends cuDNN for its trials (an algorithm that needs more is not tried, and pick()
// would refuse it anyway above kMaxWorkspaceBytes).
template <typename Perf, typename WorkspaceOf>
size_t largest_workspace(Plan& plan, const std::vector<Perf>& perfs, int returned, cudnnDataType_t dtype, bool tf32,
                         WorkspaceOf workspace_of) {
  size_t largest = 0;
  for (int i = 0; i < returned; ++i) {
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
    size_t bytes = 0;
    if (perfs[i].status != CUDNN_STATUS_SUCCESS || !math_for(dtype, tf32, perfs[i].mathType, &math)) continue;
    if (cudnnSetConvolutionMathType(plan.conv, math) != CUDNN_STATUS_SUCCESS) continue;
    if (workspace_of(perfs[i].algo, &bytes) == CUDNN_STATUS_SUCCESS && bytes <= kMaxWorkspaceBytes)
      largest = std::max(largest, bytes);
  }
  ATEBM_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, base_math(dtype, tf32)));
  return largest;
}

// What cudnnFind*AlgorithmEx runs on: fresh tensors of the problem's shapes, uniform in [0, 1)
// from a private generator (the engine's default generator is left alone, so a run's random
// stream does not depend on the search mode; and never zeros, which some kernels run faster
// on), and a workspace. The pass overwrites its output among x, w, y.
struct Trial {
  Tensor x, w, y, ws;
  void* workspace() const { return ws.defined() ? ws.raw_data() : nullptr; }
};

Trial trial_operands(const cpu::Conv2dGeometry& g, cudnnDataType_t dtype, int device, size_t workspace_bytes) {
  const TensorOptions opt{.dtype = dtype == CUDNN_DATA_DOUBLE ? DType::Float64 : DType::Float32,
                          .device = Device::cuda(device)};
  Generator gen(0x5eed);
  Trial t;
  t.x = rand({g.n, g.c_in, g.h, g.w}, opt, &gen);
  t.w = rand({g.c_out, g.c_in, g.kh, g.kw}, opt, &gen);
  t.y = rand({g.n, g.c_out, g.h_out(), g.w_out()}, opt, &gen);
  if (workspace_bytes > 0)
    t.ws = empty({static_cast<int64_t>((workspace_bytes + 7) / 8)}, {.dtype = DType::Int64, .device = opt.device});
  return t;
}

// Fills plan.algo / math / workspace_bytes. Heuristic: cuDNN's ranking (cudnnGet*_v7). Measured:
// the same candidates timed by cudnnFind*AlgorithmEx on trial operands (host-blocking; the
// handle is bound to current_stream() first, where the trial operands were filled), fastest
// first. Either way pick() takes the first acceptable one.
void choose_algorithm(cudnnHandle_t h, ConvPass pass, Plan& plan, const cpu::Conv2dGeometry& g, cudnnDataType_t dtype,
                      bool tf32, bool measured, int device) {
  int max_count = 0, returned = 0;
  bool found = false;
  if (measured) ATEBM_CUDNN_CHECK(cudnnSetStream(h, current_stream()));
  switch (pass) {
    case ConvPass::Forward: {
      auto workspace_of = [&](cudnnConvolutionFwdAlgo_t a, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, plan.x, plan.w, plan.conv, plan.y, a, bytes);
      };
      ATEBM_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count));
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perfs(max_count);
      ATEBM_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, plan.x, plan.w, plan.conv, plan.y, max_count,
                                                               &returned, perfs.data()));
      if (measured) {
        const size_t bytes = largest_workspace(plan, perfs, returned, dtype, tf32, workspace_of);
        const Trial t = trial_operands(g, dtype, device, bytes);
        ATEBM_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, plan.x, t.x.raw_data(), plan.w, t.w.raw_data(),
                                                                 plan.conv, plan.y, t.y.raw_data(), max_count,
                                                                 &returned, perfs.data(), t.workspace(), bytes));
      }
      found = pick(plan, perfs, returned, dtype, tf32, workspace_of);
      break;
    }
    case ConvPass::GradInput: {
      auto workspace_of = [&](cudnnConvolutionBwdDataAlgo_t a, size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, plan.w, plan.y, plan.conv, plan.x, a, bytes);
      };
      ATEBM_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count));
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perfs(max_count);
      ATEBM_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, plan.w, plan.y, plan.conv, plan.x, max_count,
                                                                    &returned, perfs.data()));
      if (measured) {
        const size_t bytes = largest_workspace(plan, perfs, returned, dtype, tf32, workspace_of);
        const Trial t = trial_operands(g, dtype, device, bytes);
        ATEBM_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
            h, plan.w, t.w.raw_data(), plan.y, t.y.raw_data(), plan.conv, plan.x, t.x.raw_data(), max_count,
            &returned, perfs.data(), t.workspace(), bytes));
      }
      found = pick(plan, perfs, returned, dtype, tf32, workspace_of);
      break;
    }
    case ConvPass::GradWeight: {
      auto workspace_of = [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, plan.x, plan.y, plan.conv, plan.w, a, bytes);
      };
      ATEBM_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count));
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perfs(max_count);
      ATEBM_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, plan.x, plan.y, plan.conv, plan.w, max_count,
                                                                      &returned, perfs.data()));
      if (measured) {
        const size_t bytes = largest_workspace(plan, perfs, returned, dtype, tf32, workspace_of);
        const Trial t = trial_operands(g, dtype, device, bytes);
        ATEBM_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
            h, plan.x, t.x.raw_data(), plan.y, t.y.raw_data(), plan.conv, plan.w, t.w.raw_data(), max_count,
            &returned, perfs.data(), t.workspace(), bytes));
      }
      found = pick(plan, perfs, returned, dtype, tf32, workspace_of);
      break;
    }
  }
  ATEBM_CHECK(found,
              "conv2d (cudnn): no deterministic {} algorithm with {} math and at most {} MiB of workspace among "
              "cuDNN's {} {} candidates",
              pass == ConvPass::Forward ? "forward" : pass == ConvPass::GradInput ? "backward-data" : "backward-filter",
              dtype == CUDNN_DATA_DOUBLE ? "float64" : tf32 ? "TF32-or-FP32" : "FP32 (FMA)",
              kMaxWorkspaceBytes >> 20, returned, measured ? "measured" : "heuristic");
}

Plan make_plan(cudnnHandle_t h, ConvPass pass, const cpu::Conv2dGeometry& g, cudnnDataType_t dtype, bool tf32,
               bool measured, int device) {
  check_fits_int(g);
  auto i = [](int64_t v) { return static_cast<int>(v); };
  Plan p;
  ATEBM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
  ATEBM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
  ATEBM_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
  ATEBM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv));
  ATEBM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, dtype, i(g.n), i(g.c_in), i(g.h), i(g.w)));
  ATEBM_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, dtype, i(g.n), i(g.c_out), i(g.h_out()), i(g.w_out())));
  ATEBM_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w, dtype, CUDNN_TENSOR_NCHW, i(g.c_out), i(g.c_in), i(g.kh), i(g.kw)));
  // Cross-correlation (no kernel flip), like the CPU kernels and PyTorch; compute in the data type.
  ATEBM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv, i(g.pad_h), i(g.pad_w), i(g.stride_h), i(g.stride_w),
                                                    i(g.dil_h), i(g.dil_w), CUDNN_CROSS_CORRELATION, dtype));
  ATEBM_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, base_math(dtype, tf32)));
  int on = 0, ok = 0, oh = 0, ow = 0;
  ATEBM_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p.conv, p.x, p.w, &on, &ok, &oh, &ow));
  ATEBM_CHECK(on == g.n && ok == g.c_out && oh == g.h_out() && ow == g.w_out(),
              "conv2d (cudnn): cuDNN computes output [{}, {}, {}, {}] but the engine expects [{}, {}, {}, {}] for {}",
              on, ok, oh, ow, g.n, g.c_out, g.h_out(), g.w_out(), geometry_str(g));
  if (pass == ConvPass::Forward) {
    ATEBM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.bias));
    ATEBM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.bias, CUDNN_TENSOR_NCHW, dtype, 1, i(g.c_out), 1, 1));
  }
  choose_algorithm(h, pass, p, g, dtype, tf32, measured, device);
  return p;
}

// Whether work queued on `s` is being captured into a CUDA graph now.
bool is_capturing(cudaStream_t s) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  ATEBM_CUDA_CHECK(cudaStreamIsCapturing(s, &status));
  return status != cudaStreamCaptureStatusNone;
}

// The plan of a problem on the current device (made on first use). The returned reference stays
// valid: plans are never erased. The key holds the search mode asked for; a measured problem
// met for the first time while the stream is being captured into a CUDA graph is planned by
// heuristics instead (cudnnFind* synchronises, which ends a capture) and keeps that plan, so
// the graph and later eager calls agree.
const Plan& plan_for(DnnContext& ctx, int device, ConvPass pass, const cpu::Conv2dGeometry& g,
                     cudnnDataType_t dtype) {
  ATEBM_CHECK(g.groups == 1, "conv2d (cudnn): groups = {} is not implemented (only groups = 1)", g.groups);
  const bool tf32 = dtype == CUDNN_DATA_FLOAT && allow_tf32();  // float64 ignores the switch
  const bool measured = cudnn_algo_search() == CudnnAlgoSearch::Measured;
  const PlanKey key = {device,      static_cast<int64_t>(pass), static_cast<int64_t>(dtype), tf32 ? 1 : 0,
                       measured,    g.n,                        g.c_in,                      g.h,
                       g.w,         g.c_out,                    g.kh,                        g.kw,
                       g.stride_h,  g.stride_w,                 g.pad_h,                     g.pad_w,
                       g.dil_h,     g.dil_w};
  static std::mutex mu;
  static auto* plans = new std::map<PlanKey, std::unique_ptr<Plan>>();  // never destroyed
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = plans->find(key);
    if (it != plans->end()) return *it->second;
  }
  std::unique_ptr<Plan> plan;
  {
    std::lock_guard<std::mutex> lock(ctx.mu);
    plan = std::make_unique<Plan>(
        make_plan(ctx.handle, pass, g, dtype, tf32, measured && !is_capturing(current_stream()), device));
  }
  std::lock_guard<std::mutex> lock(mu);
  // Another thread may have planned the same key meanwhile: keep the first, drop ours (its
  // descriptors leak, a few hundred bytes, once).
  auto [it, inserted] = plans->emplace(key, std::move(plan));
  return *it->second;
}

// The geometry check of the CPU kernels, plus: a problem with no input elements (empty batch,
// or H or W of 0 with enough padding for an output) never reaches cuDNN, which rejects zero
// sizes.
bool is_degenerate(const cpu::Conv2dGeometry& g) {
  ATEBM_CHECK(g.groups == 1, "conv2d (cudnn): groups = {} is not implemented (only groups = 1)", g.groups);
  ATEBM_CHECK(g.h_out() >= 1 && g.w_out() >= 1, "conv2d (cudnn): empty output {}x{} for {}", g.h_out(), g.w_out(),
              geometry_str(g));
  return g.n == 0 || g.h == 0 || g.w == 0;
}

// y[n, k, :, :] = b[k] (or 0): the forward of an input with no elements (all padding).
template <typename T>
__global__ void bias_fill_kernel(T* y, const T* b, int64_t k_out, int64_t plane, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = b != nullptr ? b[(i / plane) % k_out] : T(0);
}

// Runs `call(handle, workspace, bytes)` with the handle bound to current_stream() and a
// workspace of the plan's size from the caching allocator.
template <typename Call>
void run(DnnContext& ctx, int device, const Plan& plan, Call&& call) {
  Tensor ws;
  if (plan.workspace_bytes > 0)
    ws = empty({static_cast<int64_t>((plan.workspace_bytes + 7) / 8)},
               {.dtype = DType::Int64, .device = Device::cuda(device)});
  std::lock_guard<std::mutex> lock(ctx.mu);
  ATEBM_CUDNN_CHECK(cudnnSetStream(ctx.handle, current_stream()));
  call(ctx.handle, ws.defined() ? ws.raw_data() : nullptr, plan.workspace_bytes);
}

}  // namespace

template <typename T>
void conv2d_forward_cudnn(const cpu::Conv2dGeometry& geo, const T* x, const T* w, const T* b, T* y) {
  if (is_degenerate(geo)) {
    const int64_t plane = geo.h_out() * geo.w_out(), total = geo.n * geo.c_out * plane;
    if (total == 0) return;
    ATEBM_LAUNCH(grid_for(total), kThreads, 0, current_stream(), bias_fill_kernel<T>)(y, b, geo.c_out, plane, total);
    ATEBM_CUDA_CHECK_LAUNCH();
    return;
  }
  const int device = table_device();
  DnnContext& ctx = context(device);
  const Plan& plan = plan_for(ctx, device, ConvPass::Forward, geo, cudnn_type<T>());
  const T one = 1, zero = 0;
  run(ctx, device, plan, [&](cudnnHandle_t h, void* ws, size_t bytes) {
    ATEBM_CUDNN_CHECK(cudnnConvolutionForward(h, &one, plan.x, x, plan.w, w, plan.conv,
                                              static_cast<cudnnConvolutionFwdAlgo_t>(plan.algo), ws, bytes, &zero,
                                              plan.y, y));
    // y += b broadcast over [N, ·, Ho, Wo] (the CPU adds the bias too, before its GEMM).
    if (b != nullptr) ATEBM_CUDNN_CHECK(cudnnAddTensor(h, &one, plan.bias, b, &one, plan.y, y));
  });
}

template <typename T>
void conv2d_grad_input_cudnn(const cpu::Conv2dGeometry& geo, const T* g, const T* w, T* dx) {
  if (is_degenerate(geo)) return;  // dx has no elements
  const int device = table_device();
  DnnContext& ctx = context(device);
  const Plan& plan = plan_for(ctx, device, ConvPass::GradInput, geo, cudnn_type<T>());
  const T one = 1, zero = 0;
  run(ctx, device, plan, [&](cudnnHandle_t h, void* ws, size_t bytes) {
    ATEBM_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, plan.w, w, plan.y, g, plan.conv,
                                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algo), ws, bytes,
                                                   &zero, plan.x, dx));
  });
}

template <typename T>
void conv2d_grad_weight_cudnn(const cpu::Conv2dGeometry& geo, const T* x, const T* g, T* dw) {
  if (is_degenerate(geo)) {  // no input element: every weight gets a zero gradient
    const size_t bytes = static_cast<size_t>(geo.c_out * geo.c_in * geo.kh * geo.kw) * sizeof(T);
    ATEBM_CUDA_CHECK(cudaMemsetAsync(dw, 0, bytes, current_stream()));
    return;
  }
  const int device = table_device();
  DnnContext& ctx = context(device);
  const Plan& plan = plan_for(ctx, device, ConvPass::GradWeight, geo, cudnn_type<T>());
  const T one = 1, zero = 0;
  run(ctx, device, plan, [&](cudnnHandle_t h, void* ws, size_t bytes) {
    ATEBM_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, plan.x, x, plan.y, g, plan.conv,
                                                     static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algo), ws,
                                                     bytes, &zero, plan.w, dw));
  });
}

CudnnConvChoice cudnn_conv_choice(ConvPass pass, const cpu::Conv2dGeometry& geo, DType dtype) {
  ATEBM_CHECK(dtype == DType::Float32 || dtype == DType::Float64,
              "cudnn_conv_choice: expected float32 or float64, got {}", dtype);
  ATEBM_CHECK(!is_degenerate(geo), "cudnn_conv_choice: {} has no input elements; it never reaches cuDNN",
              geometry_str(geo));
  const int device = table_device();
  const Plan& plan =
      plan_for(context(device), device, pass, geo, dtype == DType::Float32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE);
  return {plan.algo, static_cast<int>(plan.math), static_cast<int64_t>(plan.workspace_bytes)};
}

template void conv2d_forward_cudnn<float>(const cpu::Conv2dGeometry&, const float*, const float*, const float*,
                                          float*);
template void conv2d_forward_cudnn<double>(const cpu::Conv2dGeometry&, const double*, const double*, const double*,
                                           double*);
template void conv2d_grad_input_cudnn<float>(const cpu::Conv2dGeometry&, const float*, const float*, float*);
template void conv2d_grad_input_cudnn<double>(const cpu::Conv2dGeometry&, const double*, const double*, double*);
template void conv2d_grad_weight_cudnn<float>(const cpu::Conv2dGeometry&, const float*, const float*, float*);
template void conv2d_grad_weight_cudnn<double>(const cpu::Conv2dGeometry&, const double*, const double*, double*);

}  // namespace atebm::cuda
