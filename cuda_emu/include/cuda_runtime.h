#pragma once
// cuda_emu: the CUDA runtime on the CPU, so that the engine's .cu files run without a GPU.
//
// Built with -DATEBM_CUDA_EMULATION=ON, every .cu file is compiled by the host C++ compiler
// against these headers instead of NVIDIA's, and links against cuda_emu instead of cudart,
// cuBLAS and cuDNN. Kernels run on the calling thread: a launch runs its blocks one after the
// other, and the threads of a block as fibers that switch only at __syncthreads() and warp
// collectives, so shared memory, barriers and shuffles behave as on a GPU. What this checks and
// what it cannot is in cuda_emu/README.md; in short: indexing, launch shapes, barriers, shuffles,
// host-side dispatch, the allocator and graph-capture rules run for real; speed, the memory model
// between concurrently running blocks, and NVIDIA's compilers and libraries do not.
//
// Only what the engine uses is declared. Functions are C++ (not extern "C"), so a program may
// link this library and the real cudart side by side without a clash.
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>
#include <utility>

#define CUDA_EMULATION 1
#define CUDART_VERSION 13000

// ---- language keywords ------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
// One block runs at a time on a thread, so a static per OS thread is exactly per block.
#define __shared__ static thread_local
#define __constant__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

// ---- built-in variables -------------------------------------------------------------------------
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};
// Set by the executor before it resumes a thread (all fibers of a block share one OS thread).
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;
constexpr int warpSize = 32;

// ---- device functions -----------------------------------------------------------------------------
namespace cuda_emu {
void syncthreads();
void syncwarp(unsigned mask);
// Exchanges 8 bytes per lane among the lanes of `mask`; returns the 8 bytes of lane `src` (the
// caller's own when src is outside the warp or the width segment).
uint64_t shuffle(unsigned mask, uint64_t bits, int src_lane);
int lane_id();
[[noreturn]] void trap();
// Warp-wide operations that every lane computes in full (WMMA: each lane holds the whole tile):
// right after a warp collective, the first lane to compute stores its result with
// warp_result_store, and the other lanes take it with warp_result_lookup (true: `out` filled).
// `inputs` must be bitwise the same in every lane: a lane that differs is a fault.
bool warp_result_lookup(const void* inputs, size_t in_bytes, void* out, size_t out_bytes);
void warp_result_store(const void* inputs, size_t in_bytes, const void* out, size_t out_bytes);

template <class T>
T shfl(unsigned mask, T v, int src) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = shuffle(mask, bits, src);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
}  // namespace cuda_emu

inline void __syncthreads() { cuda_emu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { cuda_emu::syncwarp(mask); }
[[noreturn]] inline void __trap() { cuda_emu::trap(); }

// The source lane is computed within segments of `width` lanes, as on the GPU.
template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = warpSize) {
  const int lane = cuda_emu::lane_id(), base = lane - lane % width;
  return cuda_emu::shfl(mask, v, base + ((src % width) + width) % width);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
  const int lane = cuda_emu::lane_id(), seg = lane % width;
  const int src = seg + static_cast<int>(delta) < width ? lane + static_cast<int>(delta) : lane;
  return cuda_emu::shfl(mask, v, src);
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
  const int lane = cuda_emu::lane_id(), seg = lane % width;
  const int src = seg >= static_cast<int>(delta) ? lane - static_cast<int>(delta) : lane;
  return cuda_emu::shfl(mask, v, src);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize) {
  const int lane = cuda_emu::lane_id(), src = lane ^ lane_mask;
  return cuda_emu::shfl(mask, v, (src / width == lane / width) ? src : lane);
}

// Atomics: the threads of a launch never run at the same time, so plain read-modify-writes are
// atomic here.
template <class T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
template <class T>
T atomicMin(T* p, T v) {
  const T old = *p;
  if (v < old) *p = v;
  return old;
}
template <class T>
T atomicMax(T* p, T v) {
  const T old = *p;
  if (old < v) *p = v;
  return old;
}
template <class T>
T atomicCAS(T* p, T compare, T v) {
  const T old = *p;
  if (old == compare) *p = v;
  return old;
}

// CUDA's math library declares these at global scope for device code.
using std::isfinite;
using std::isinf;
using std::isnan;
using std::signbit;

inline float rsqrtf(float v) { return 1.0f / std::sqrt(v); }
inline double rsqrt(double v) { return 1.0 / std::sqrt(v); }
template <class T>
T __ldg(const T* p) {
  return *p;
}
inline int __float_as_int(float v) { return std::bit_cast<int>(v); }
inline float __int_as_float(int v) { return std::bit_cast<float>(v); }
inline unsigned __float_as_uint(float v) { return std::bit_cast<unsigned>(v); }
inline float __uint_as_float(unsigned v) { return std::bit_cast<float>(v); }
inline long long __double_as_longlong(double v) { return std::bit_cast<long long>(v); }
inline double __longlong_as_double(long long v) { return std::bit_cast<double>(v); }

// ---- runtime types --------------------------------------------------------------------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorIllegalState = 401,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchFailure = 719,
  cudaErrorIllegalInstruction = 715,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureMerge = 902,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorStreamCaptureUnjoined = 904,
  cudaErrorStreamCaptureIsolation = 905,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorStreamCaptureWrongThread = 908,
  cudaErrorUnknown = 999,
};

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaMemoryType {
  cudaMemoryTypeUnregistered = 0,
  cudaMemoryTypeHost = 1,
  cudaMemoryTypeDevice = 2,
  cudaMemoryTypeManaged = 3,
};
struct cudaPointerAttributes {
  cudaMemoryType type;
  int device;
  void* devicePointer;
  void* hostPointer;
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};

struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
struct CUgraphNode_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;
using cudaGraph_t = CUgraph_st*;
using cudaGraphExec_t = CUgraphExec_st*;
using cudaGraphNode_t = CUgraphNode_st*;

constexpr unsigned cudaStreamDefault = 0x0;
constexpr unsigned cudaStreamNonBlocking = 0x1;
constexpr unsigned cudaEventDefault = 0x0;
constexpr unsigned cudaEventBlockingSync = 0x1;
constexpr unsigned cudaEventDisableTiming = 0x2;
constexpr unsigned cudaHostAllocDefault = 0x0;
constexpr unsigned cudaHostAllocPortable = 0x1;
constexpr unsigned cudaHostAllocMapped = 0x2;
constexpr unsigned cudaHostAllocWriteCombined = 0x4;

// ---- runtime API ----------------------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
// A kernel may be launched with more than 48 KB of dynamic shared memory only after it has been
// allowed that much (cudaFuncAttributeMaxDynamicSharedMemorySize, at most the device's opt-in
// limit); a launch without it fails with cudaErrorInvalidValue, as on a GPU.
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value);
template <class T>
cudaError_t cudaFuncSetAttribute(T* entry, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(entry), attr, value);
}
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);

cudaError_t cudaMalloc(void** ptr, size_t size);
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t size) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), size);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned flags);
cudaError_t cudaMallocHost(void** ptr, size_t size);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t n);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t n, cudaStream_t s = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamQuery(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status);
cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode);

cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count);

// ---- kernel launches --------------------------------------------------------------------------------
// The engine writes launches as ATEBM_LAUNCH(grid, block, smem, stream, kernel)(args...)
// (engine/cuda/launch.cuh): kernel<<<grid, block, smem, stream>>>(args...) under nvcc, and here a
// call that runs (or, while the stream captures, records) `body` once per thread of the grid.
namespace cuda_emu {
struct LaunchConfig {
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
  const char* kernel;  // the launch's source text, for diagnostics
  const void* function = nullptr;  // the kernel function, for its attributes (cudaFuncSetAttribute)
  // Whether this kernel (one per instantiation) synchronises: -1 unknown until its first launch
  // has run with fibers, then 0 (its threads run as plain calls from then on) or 1.
  std::atomic<int>* uses_barriers = nullptr;
};
// Validates the configuration (CUDA's limits), then runs or records; errors go to
// cudaGetLastError() as with a real launch.
void launch(const LaunchConfig& config, std::function<void()> body);

template <class F>
struct Launcher {
  LaunchConfig config;
  F kernel;
  // Arguments are copied at the launch, as CUDA copies kernel parameters.
  template <class... A>
  void operator()(A... args) const {
    static std::atomic<int> uses_barriers{-1};
    LaunchConfig c = config;
    c.uses_barriers = &uses_barriers;
    launch(c, [k = kernel, ... a = std::move(args)]() { k(a...); });
  }
};
template <class F>
Launcher<F> make_launcher(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, const char* kernel, F f,
                          const void* function) {
  return {{grid, block, shared_bytes, stream, kernel, function}, f};
}
template <class K>
const void* function_address(K* kernel) {
  return reinterpret_cast<const void*>(kernel);
}
// The running block's dynamic shared memory (extern __shared__ on a GPU): the launch's
// shared-memory bytes, 128-byte aligned, filled with 0xFF bytes (NaN) at the start of every block.
unsigned char* dynamic_shared_memory();
}  // namespace cuda_emu

// CUDA_EMU_LAUNCH_FN names one function (no deduced template arguments), so that the launch
// knows the kernel's attributes: for more than 48 KB of dynamic shared memory.
#define CUDA_EMU_LAUNCH(grid, block, smem, stream, ...)                                  \
  ::cuda_emu::make_launcher((grid), (block), (smem), (stream), #__VA_ARGS__,             \
                            [](auto... cuda_emu_args_) { __VA_ARGS__(cuda_emu_args_...); }, nullptr)
#define CUDA_EMU_LAUNCH_FN(grid, block, smem, stream, ...)                               \
  ::cuda_emu::make_launcher((grid), (block), (smem), (stream), #__VA_ARGS__,             \
                            [](auto... cuda_emu_args_) { __VA_ARGS__(cuda_emu_args_...); }, \
                            ::cuda_emu::function_address(__VA_ARGS__))

// ---- for the library emulations (cuBLAS, cuDNN) and tests ------------------------------------------
namespace cuda_emu {
// Runs `work` on stream `s` now, or appends it to the graph that `s` is capturing: how a library
// call (a GEMM, a convolution) behaves on a real stream. Returns the error the call should report.
cudaError_t enqueue(cudaStream_t s, const char* what, std::function<void()> work);
// True when [p, p + bytes) lies inside one live cudaMalloc allocation.
bool is_device_range(const void* p, size_t bytes);
// True when environment variable `name` is set to exactly `value` (the CUDA_EMU_* switches; tests
// read them to know which mode they run in).
bool env_is(const char* name, const char* value);
// fp32 -> TF32 as the tensor cores see it (cvt.rna.tf32.f32): 10 mantissa bits, round to
// nearest with ties away from zero; the result is still a float.
inline float round_to_tf32(float v) {
  if (!std::isfinite(v)) return v;
  uint32_t bits = std::bit_cast<uint32_t>(v);
  bits = (bits + 0x1000u) & 0xffffe000u;
  return std::bit_cast<float>(bits);
}
// For tests of the emulator itself: bytes of live cudaMalloc allocations, and a reset of the
// sticky kernel-fault error and this thread's capture mode.
size_t device_bytes_in_use();
void reset_for_tests();
}  // namespace cuda_emu
