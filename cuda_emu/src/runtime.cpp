// cuda_emu's runtime: devices, memory, streams, events, stream capture and graphs on the CPU.
//
// Everything a stream does happens at once on the calling thread (a stream is always idle when
// a call returns), except while the stream captures: then kernels, copies and library calls are
// recorded into the graph and run only when it is launched, exactly as on a GPU. The rules the
// engine must obey on a GPU are enforced, so that breaking one fails here too:
//   - launch configurations within CUDA's limits (a zero-block grid is an error);
//   - copies and memsets only inside live allocations, in the direction their kind says;
//   - the stream-capture rules: "potentially unsafe" calls (cudaMalloc, cudaFree, synchronous
//     copies, synchronisation) during a capture fail with cudaErrorStreamCaptureUnsupported and
//     invalidate it, unless the thread's mode (cudaThreadExchangeStreamCaptureMode) allows them;
//     synchronising a capturing stream fails; work on the legacy default stream while a blocking
//     stream captures fails with cudaErrorStreamCaptureImplicit;
//   - fresh device memory is not zero: cudaMalloc fills it with 0xFF bytes (NaN in every float
//     type), so code that reads memory it never wrote shows NaNs (CUDA_EMU_FILL=none: no fill);
//   - a kernel fault (__trap, a divergent barrier) is sticky: every later call reports it.
// Asynchronous mode (CUDA_EMU_ASYNC=1): work on a stream is queued and runs only when the host
// must see it, at the points where CUDA guarantees completion: cudaStreamSynchronize,
// cudaEventSynchronize, cudaDeviceSynchronize, synchronous copies and memsets (the legacy stream,
// which waits for the blocking streams), cudaFree/cudaFreeHost, a copy to pageable host memory
// (CUDA returns only when it is done), and work on the legacy stream. cudaEventQuery says
// cudaErrorNotReady until then, cudaStreamWaitEvent orders one stream behind another's event, and
// a copy from pageable memory is staged at the call (CUDA copies it to a staging buffer before it
// returns) while a copy from or to pinned memory reads or writes it when it runs. So host code
// that reads a result, or reuses a pinned buffer, without the synchronisation CUDA requires sees
// stale data here, as it might on a GPU.
// Environment: CUDA_EMU_DEVICE_COUNT (default 1; 0 emulates a machine without a GPU),
// CUDA_EMU_DEVICE_MEMORY (bytes a device holds, default 16 GiB).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cuda_runtime.h"
#include "internal.h"

// Under AddressSanitizer, the bytes between a cudaMalloc request's end and the 256-byte
// alignment of its block are poisoned: a kernel that overruns its buffer by a few elements is
// caught there, as compute-sanitizer's memcheck catches it on a GPU.
#if defined(__SANITIZE_ADDRESS__)
#define CUDA_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CUDA_EMU_ASAN 1
#endif
#endif
#ifdef CUDA_EMU_ASAN
#include <sanitizer/asan_interface.h>
#define CUDA_EMU_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define CUDA_EMU_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define CUDA_EMU_POISON(p, n) ((void)(p), (void)(n))
#define CUDA_EMU_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct CUgraph_st {
  std::vector<cuda_emu::Node> nodes;
};
struct CUgraphExec_st {
  std::vector<cuda_emu::Node> nodes;
};

namespace cuda_emu {
struct Capture {
  CUgraph_st* graph = nullptr;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id owner;
  CUstream_st* origin = nullptr;
  std::vector<CUstream_st*> streams;  // origin first, then the streams that joined
  bool invalidated = false;
};
}  // namespace cuda_emu

struct CUstream_st {
  unsigned flags = 0;
  cuda_emu::Capture* capture = nullptr;
  // Asynchronous mode: work queued and not yet run; `enqueued` and `executed` count nodes, so an
  // event recorded after the n-th node is complete once `executed` >= n.
  std::deque<cuda_emu::Node> pending;
  uint64_t enqueued = 0, executed = 0;
  std::recursive_mutex flush_mu;  // one flusher at a time keeps the stream's order
};
struct CUevent_st {
  unsigned flags = 0;
  bool recorded = false;
  std::chrono::steady_clock::time_point when{};
  cuda_emu::Capture* captured_in = nullptr;  // recorded on a capturing stream
  CUstream_st* stream = nullptr;             // asynchronous mode: complete once stream->executed >= position
  uint64_t position = 0;
};

thread_local uint3 threadIdx{0, 0, 0};
thread_local uint3 blockIdx{0, 0, 0};
thread_local dim3 blockDim{1, 1, 1};
thread_local dim3 gridDim{1, 1, 1};

namespace cuda_emu {
namespace {

constexpr size_t kAlignment = 256;  // cudaMalloc's guarantee

struct State {
  std::mutex mu;
  std::map<uintptr_t, size_t> device_allocs;  // begin -> bytes
  std::map<uintptr_t, size_t> host_allocs;  // pinned: begin -> bytes
  size_t device_bytes = 0;
  std::set<CUstream_st*> streams;
  std::vector<CUstream_st*> retired_streams;  // destroyed, kept (see cudaStreamDestroy)
  std::set<CUevent_st*> events;
  std::vector<Capture*> captures;  // active ones
  std::atomic<int> sticky{cudaSuccess};
  std::map<const void*, int> max_dynamic_shared;  // cudaFuncAttributeMaxDynamicSharedMemorySize
};
State& state() {
  static State* s = new State;  // never destroyed: static destructors may still call in
  return *s;
}

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local int t_device = 0;
thread_local cudaStreamCaptureMode t_mode = cudaStreamCaptureModeGlobal;

}  // namespace

bool env_is(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, value) == 0;
}

namespace {

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long parsed = std::strtoull(v, &end, 10);
  if (end == v || *end != '\0') {
    std::fprintf(stderr, "cuda_emu: %s=%s is not a number of bytes; using %zu\n", name, v, fallback);
    return fallback;
  }
  return static_cast<size_t>(parsed);
}
int device_count() {
  static const int n = static_cast<int>(env_size("CUDA_EMU_DEVICE_COUNT", 1));
  return n;
}
size_t device_capacity() {
  static const size_t n = env_size("CUDA_EMU_DEVICE_MEMORY", size_t{16} << 30);
  return n;
}
bool fill_fresh_memory() {
  static const bool fill = !env_is("CUDA_EMU_FILL", "none");
  return fill;
}

cudaError_t fail(cudaError_t e) {
  t_last_error = e;
  return e;
}
// Every call first reports a sticky kernel fault, as the real runtime does.
#define CUDA_EMU_PROLOGUE()                                                       \
  do {                                                                            \
    const int sticky_ = state().sticky.load();                                    \
    if (sticky_ != cudaSuccess) return fail(static_cast<cudaError_t>(sticky_));   \
  } while (0)

// True when [p, p + bytes) lies inside one allocation of `allocs` (begin -> bytes).
bool in_one_allocation(const std::map<uintptr_t, size_t>& allocs, const void* p, size_t bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = allocs.upper_bound(a);
  if (it == allocs.begin()) return false;
  --it;
  return a - it->first <= it->second && bytes <= it->second - (a - it->first);
}
bool in_device_range_locked(State& st, const void* p, size_t bytes) {
  return in_one_allocation(st.device_allocs, p, bytes);
}
bool is_host_pinned_locked(State& st, const void* p, size_t bytes) {
  return in_one_allocation(st.host_allocs, p, bytes);
}
bool asynchronous() {
  static const bool on = env_is("CUDA_EMU_ASYNC", "1");
  return on;
}

// Whether a copy's kind names the sides it really has (cudaMemcpyDefault: any).
bool kind_matches(cudaMemcpyKind kind, bool dst_on_device, bool src_on_device) {
  switch (kind) {
    case cudaMemcpyHostToHost: return !dst_on_device && !src_on_device;
    case cudaMemcpyHostToDevice: return dst_on_device && !src_on_device;
    case cudaMemcpyDeviceToHost: return !dst_on_device && src_on_device;
    case cudaMemcpyDeviceToDevice: return dst_on_device && src_on_device;
    case cudaMemcpyDefault: return true;
  }
  return false;
}

// The capture-interaction rule of cudaThreadExchangeStreamCaptureMode for a potentially unsafe
// call from this thread; on a violation the offending captures are invalidated.
cudaError_t check_unsafe_call_locked(State& st) {
  if (t_mode == cudaStreamCaptureModeRelaxed) return cudaSuccess;
  bool prohibited = false;
  for (Capture* c : st.captures) {
    const bool mine = c->owner == std::this_thread::get_id();
    const bool blocks = (mine && c->mode != cudaStreamCaptureModeRelaxed) ||
                        (!mine && t_mode == cudaStreamCaptureModeGlobal && c->mode == cudaStreamCaptureModeGlobal);
    if (blocks) {
      c->invalidated = true;
      prohibited = true;
    }
  }
  return prohibited ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}

// Work issued to the legacy default stream synchronises with every blocking stream: if one of
// them captures, that capture is broken.
cudaError_t check_legacy_stream_locked(State& st, cudaStream_t s) {
  if (s != nullptr) return cudaSuccess;
  bool broken = false;
  for (Capture* c : st.captures)
    for (CUstream_st* cs : c->streams)
      if ((cs->flags & cudaStreamNonBlocking) == 0) {
        c->invalidated = true;
        broken = true;
      }
  return broken ? cudaErrorStreamCaptureImplicit : cudaSuccess;
}

cudaError_t check_stream_locked(State& st, cudaStream_t s) {
  if (s != nullptr && st.streams.count(s) == 0) return cudaErrorInvalidResourceHandle;
  return check_legacy_stream_locked(st, s);
}

void end_capture_locked(State& st, Capture* c) {
  for (CUstream_st* s : c->streams) s->capture = nullptr;
  for (CUevent_st* e : st.events)
    if (e->captured_in == c) e->captured_in = nullptr;  // a graph node now, not host-visible work
  st.captures.erase(std::remove(st.captures.begin(), st.captures.end(), c), st.captures.end());
}

// Runs the queued work of `s` up to node `upto` (asynchronous mode), in order.
void flush(CUstream_st* s, uint64_t upto) {
  if (s == nullptr) return;
  std::lock_guard<std::recursive_mutex> order(s->flush_mu);
  for (;;) {
    Node node;
    {
      std::lock_guard<std::mutex> lock(state().mu);
      if (s->executed >= upto || s->pending.empty()) return;
      node = std::move(s->pending.front());
      s->pending.pop_front();
    }
    (void)node.work();  // a kernel fault is sticky; copies were validated when queued
    std::lock_guard<std::mutex> lock(state().mu);
    ++s->executed;
  }
}
constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();
// What the legacy default stream waits for (blocking streams), or every stream.
void flush_streams(bool blocking_only) {
  std::vector<CUstream_st*> streams;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    for (CUstream_st* s : state().streams)
      if (!blocking_only || (s->flags & cudaStreamNonBlocking) == 0) streams.push_back(s);
  }
  for (CUstream_st* s : streams) flush(s, kAll);
}

// CUDA_EMU_TRACE=FILE: every stream operation submitted (a kernel launch as its source text, a
// copy, a memset, a library call), one line each, "capture " before those recorded into a graph:
// what a piece of the engine launches, counted without a GPU. Called with the state's lock held.
void trace_locked(const Node& node, bool capturing) {
  static std::FILE* out = [] {
    const char* path = std::getenv("CUDA_EMU_TRACE");
    return path != nullptr && *path != '\0' ? std::fopen(path, "w") : nullptr;
  }();
  if (out == nullptr) return;
  std::fprintf(out, "%s%s\n", capturing ? "capture " : "", node.what.c_str());
  std::fflush(out);
}

// Runs now, queues (asynchronous mode) or records when `s` captures. Called without the lock.
cudaError_t submit(cudaStream_t s, Node node) {
  {
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    if (const cudaError_t e = check_stream_locked(st, s); e != cudaSuccess) return e;
    trace_locked(node, s != nullptr && s->capture != nullptr);
    if (s != nullptr && s->capture != nullptr) {
      if (s->capture->invalidated) return cudaErrorStreamCaptureInvalidated;
      s->capture->graph->nodes.push_back(std::move(node));
      return cudaSuccess;
    }
    if (s != nullptr && asynchronous()) {
      s->pending.push_back(std::move(node));
      ++s->enqueued;
      return cudaSuccess;
    }
    if (s != nullptr) {  // synchronous mode: the stream is always idle
      ++s->enqueued;
      ++s->executed;
    }
  }
  if (s == nullptr && asynchronous()) flush_streams(/*blocking_only=*/true);
  return node.work();
}

cudaError_t copy_checked(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  if (n == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return cudaErrorInvalidValue;
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (!kind_matches(kind, in_device_range_locked(st, dst, n), in_device_range_locked(st, src, n)))
      return cudaErrorInvalidValue;
  }
  std::memmove(dst, src, n);
  return cudaSuccess;
}

}  // namespace

// ---- pieces shared with kernel_exec.cpp and the libraries --------------------------------------------
cudaError_t sticky_error() { return static_cast<cudaError_t>(state().sticky.load()); }
void set_sticky_error(cudaError_t e) {
  int expected = cudaSuccess;
  state().sticky.compare_exchange_strong(expected, e);
}
void reset_for_tests() {
  state().sticky = cudaSuccess;
  t_last_error = cudaSuccess;
  t_mode = cudaStreamCaptureModeGlobal;
}
size_t device_bytes_in_use() {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().device_bytes;
}

bool is_device_range(const void* p, size_t bytes) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  return in_device_range_locked(st, p, bytes);
}

cudaError_t enqueue(cudaStream_t s, const char* what, std::function<void()> work) {
  if (const cudaError_t e = sticky_error(); e != cudaSuccess) return e;
  return submit(s, Node{what, [w = std::move(work)] {
                          w();
                          return sticky_error();
                        }});
}

void launch(const LaunchConfig& c, std::function<void()> body) {
  if (const cudaError_t e = sticky_error(); e != cudaSuccess) {
    fail(e);
    return;
  }
  const dim3 g = c.grid, b = c.block;
  const uint64_t threads = uint64_t{b.x} * b.y * b.z;
  const bool ok = g.x >= 1 && g.y >= 1 && g.z >= 1 && b.x >= 1 && b.y >= 1 && b.z >= 1 && g.x <= 0x7fffffffu &&
                  g.y <= 65535 && g.z <= 65535 && b.x <= 1024 && b.y <= 1024 && b.z <= 64 && threads <= 1024;
  if (!ok) {
    fail(cudaErrorInvalidConfiguration);
    return;
  }
  if (c.shared_bytes > kDefaultSharedBytes) {  // more than 48 KB only as much as the kernel was allowed
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    const auto it = st.max_dynamic_shared.find(c.function);
    if (c.function == nullptr || it == st.max_dynamic_shared.end() || c.shared_bytes > size_t(it->second)) {
      fail(cudaErrorInvalidValue);
      return;
    }
  }
  if (device_count() == 0) {
    fail(cudaErrorNoDevice);
    return;
  }
  LaunchConfig copy = c;
  const cudaError_t e = submit(c.stream, Node{c.kernel, [copy, body = std::move(body)] {
                                                run_grid(copy, body);
                                                return sticky_error();
                                              }});
  if (e != cudaSuccess) fail(e);
}

}  // namespace cuda_emu

using namespace cuda_emu;

// ---- devices and errors -----------------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return fail(cudaErrorInvalidValue);
  *count = device_count();
  if (*count == 0) return fail(cudaErrorNoDevice);
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  CUDA_EMU_PROLOGUE();
  if (device == nullptr) return fail(cudaErrorInvalidValue);
  *device = t_device;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  CUDA_EMU_PROLOGUE();
  if (device < 0 || device >= device_count()) return fail(cudaErrorInvalidDevice);
  t_device = device;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  CUDA_EMU_PROLOGUE();
  if (value == nullptr) return fail(cudaErrorInvalidValue);
  if (device < 0 || device >= device_count()) return fail(cudaErrorInvalidDevice);
  switch (attr) {  // an H100/H200-like device
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = 48 * 1024; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMultiProcessorCount: *value = 132; break;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = kMaxDynamicSharedBytes; break;
    default: return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  CUDA_EMU_PROLOGUE();
  if (func == nullptr || attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      value > kMaxDynamicSharedBytes)
    return fail(cudaErrorInvalidValue);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.max_dynamic_shared[func] = value;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  CUDA_EMU_PROLOGUE();
  {
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    if (const cudaError_t e = check_unsafe_call_locked(st); e != cudaSuccess) return fail(e);
  }
  flush_streams(/*blocking_only=*/false);
  return sticky_error() == cudaSuccess ? cudaSuccess : fail(sticky_error());
}
cudaError_t cudaGetLastError() {
  const cudaError_t e = t_last_error;
  const cudaError_t sticky = sticky_error();
  t_last_error = cudaSuccess;
  return sticky != cudaSuccess ? sticky : e;
}
cudaError_t cudaPeekAtLastError() {
  const cudaError_t sticky = sticky_error();
  return sticky != cudaSuccess ? sticky : t_last_error;
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
#define CUDA_EMU_NAME(x) \
  case x: return #x;
    CUDA_EMU_NAME(cudaSuccess)
    CUDA_EMU_NAME(cudaErrorInvalidValue)
    CUDA_EMU_NAME(cudaErrorMemoryAllocation)
    CUDA_EMU_NAME(cudaErrorInitializationError)
    CUDA_EMU_NAME(cudaErrorInvalidConfiguration)
    CUDA_EMU_NAME(cudaErrorInvalidDevicePointer)
    CUDA_EMU_NAME(cudaErrorInvalidResourceHandle)
    CUDA_EMU_NAME(cudaErrorNoDevice)
    CUDA_EMU_NAME(cudaErrorInvalidDevice)
    CUDA_EMU_NAME(cudaErrorIllegalState)
    CUDA_EMU_NAME(cudaErrorNotReady)
    CUDA_EMU_NAME(cudaErrorIllegalAddress)
    CUDA_EMU_NAME(cudaErrorLaunchFailure)
    CUDA_EMU_NAME(cudaErrorIllegalInstruction)
    CUDA_EMU_NAME(cudaErrorStreamCaptureUnsupported)
    CUDA_EMU_NAME(cudaErrorStreamCaptureInvalidated)
    CUDA_EMU_NAME(cudaErrorStreamCaptureMerge)
    CUDA_EMU_NAME(cudaErrorStreamCaptureUnmatched)
    CUDA_EMU_NAME(cudaErrorStreamCaptureUnjoined)
    CUDA_EMU_NAME(cudaErrorStreamCaptureIsolation)
    CUDA_EMU_NAME(cudaErrorStreamCaptureImplicit)
    CUDA_EMU_NAME(cudaErrorStreamCaptureWrongThread)
    CUDA_EMU_NAME(cudaErrorUnknown)
#undef CUDA_EMU_NAME
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorIllegalState: return "the operation is not permitted in the current state";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorStreamCaptureWrongThread:
      return "attempt to terminate a thread-local capture sequence from another thread";
    default: return cudaGetErrorName(e);
  }
}

// ---- memory -------------------------------------------------------------------------------------------
cudaError_t cudaMalloc(void** ptr, size_t size) {
  CUDA_EMU_PROLOGUE();
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (device_count() == 0) return fail(cudaErrorNoDevice);
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (const cudaError_t e = check_unsafe_call_locked(st); e != cudaSuccess) return fail(e);
    if (size == 0) return cudaSuccess;
    if (size > device_capacity() - std::min(device_capacity(), st.device_bytes)) return fail(cudaErrorMemoryAllocation);
  }
  const size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr) return fail(cudaErrorMemoryAllocation);
  if (fill_fresh_memory()) std::memset(p, 0xFF, rounded);
  CUDA_EMU_POISON(static_cast<char*>(p) + size, rounded - size);
  std::lock_guard<std::mutex> lock(st.mu);
  st.device_allocs[reinterpret_cast<uintptr_t>(p)] = size;
  st.device_bytes += size;
  *ptr = p;
  return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (const cudaError_t e = check_unsafe_call_locked(st); e != cudaSuccess) return fail(e);
  }
  if (ptr != nullptr && asynchronous()) flush_streams(/*blocking_only=*/false);  // cudaFree waits for the device
  std::lock_guard<std::mutex> lock(st.mu);
  if (ptr == nullptr) return cudaSuccess;
  auto it = st.device_allocs.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == st.device_allocs.end()) return fail(cudaErrorInvalidValue);
  st.device_bytes -= it->second;
  const size_t size = it->second, rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  CUDA_EMU_UNPOISON(static_cast<char*>(ptr) + size, rounded - size);
  st.device_allocs.erase(it);
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned flags) {
  CUDA_EMU_PROLOGUE();
  if (ptr == nullptr || flags > 0xF) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (device_count() == 0) return fail(cudaErrorNoDevice);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (const cudaError_t e = check_unsafe_call_locked(st); e != cudaSuccess) return fail(e);
  void* p = std::aligned_alloc(kAlignment, std::max<size_t>(kAlignment, (size + kAlignment - 1) / kAlignment * kAlignment));
  if (p == nullptr) return fail(cudaErrorMemoryAllocation);
  st.host_allocs[reinterpret_cast<uintptr_t>(p)] = size;
  *ptr = p;
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** ptr, size_t size) { return cudaHostAlloc(ptr, size, cudaHostAllocDefault); }
cudaError_t cudaFreeHost(void* ptr) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (const cudaError_t e = check_unsafe_call_locked(st); e != cudaSuccess) return fail(e);
  }
  if (ptr != nullptr && asynchronous()) flush_streams(/*blocking_only=*/false);
  std::lock_guard<std::mutex> lock(st.mu);
  if (ptr == nullptr) return cudaSuccess;
  if (st.host_allocs.erase(reinterpret_cast<uintptr_t>(ptr)) == 0) return fail(cudaErrorInvalidValue);
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* ptr) {
  CUDA_EMU_PROLOGUE();
  if (attr == nullptr) return fail(cudaErrorInvalidValue);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  *attr = {cudaMemoryTypeUnregistered, -2, nullptr, nullptr};
  if (in_device_range_locked(st, ptr, 0)) {
    *attr = {cudaMemoryTypeDevice, 0, const_cast<void*>(ptr), nullptr};
  } else if (is_host_pinned_locked(st, ptr, 0)) {
    *attr = {cudaMemoryTypeHost, 0, const_cast<void*>(ptr), const_cast<void*>(ptr)};
  }
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  CUDA_EMU_PROLOGUE();
  {
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    if (const cudaError_t e = check_unsafe_call_locked(st); e != cudaSuccess) return fail(e);
    if (const cudaError_t e = check_legacy_stream_locked(st, nullptr); e != cudaSuccess) return fail(e);
  }
  if (asynchronous()) flush_streams(/*blocking_only=*/true);  // the legacy stream's implicit wait
  const cudaError_t e = copy_checked(dst, src, n, kind);
  return e == cudaSuccess ? e : fail(e);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t s) {
  CUDA_EMU_PROLOGUE();
  // Validate now (the real call rejects a bad range or kind at the call), copy when it runs.
  bool pageable_src = false, pageable_dst = false;
  {
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    const bool dst_dev = in_device_range_locked(st, dst, n), src_dev = in_device_range_locked(st, src, n);
    if (n > 0 && (dst == nullptr || src == nullptr || !kind_matches(kind, dst_dev, src_dev)))
      return fail(cudaErrorInvalidValue);
    pageable_src = !src_dev && !is_host_pinned_locked(st, src, n);
    pageable_dst = !dst_dev && !is_host_pinned_locked(st, dst, n);
  }
  if (asynchronous() && n > 0 && pageable_dst) {
    // CUDA returns from a copy to pageable memory only when it is done: the stream's earlier
    // work first, then the copy.
    if (s != nullptr && s->capture == nullptr) flush(s, kAll);
  } else if (asynchronous() && n > 0 && pageable_src) {
    // Staged at the call: the caller may reuse its buffer as soon as this returns.
    auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + n);
    const cudaError_t e = submit(s, Node{"cudaMemcpyAsync", [=] {
                                           std::memcpy(dst, staged->data(), n);
                                           return cudaSuccess;
                                         }});
    return e == cudaSuccess ? e : fail(e);
  }
  const cudaError_t e = submit(s, Node{"cudaMemcpyAsync", [=] { return copy_checked(dst, src, n, kind); }});
  return e == cudaSuccess ? e : fail(e);
}
cudaError_t cudaMemset(void* dst, int value, size_t n) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (const cudaError_t e = check_unsafe_call_locked(st); e != cudaSuccess) return fail(e);
    if (n > 0 && !in_device_range_locked(st, dst, n)) return fail(cudaErrorInvalidValue);
  }
  if (asynchronous()) flush_streams(/*blocking_only=*/true);
  if (n > 0) std::memset(dst, value, n);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t n, cudaStream_t s) {
  CUDA_EMU_PROLOGUE();
  if (n > 0 && !is_device_range(dst, n)) return fail(cudaErrorInvalidValue);
  const cudaError_t e = submit(s, Node{"cudaMemsetAsync", [=] {
                                         if (n > 0) std::memset(dst, value, n);
                                         return cudaSuccess;
                                       }});
  return e == cudaSuccess ? e : fail(e);
}

// ---- streams and capture ----------------------------------------------------------------------------------
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  CUDA_EMU_PROLOGUE();
  if (s == nullptr || flags > cudaStreamNonBlocking) return fail(cudaErrorInvalidValue);
  if (device_count() == 0) return fail(cudaErrorNoDevice);
  auto* stream = new CUstream_st{flags, nullptr};
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.streams.insert(stream);
  *s = stream;
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (s == nullptr || st.streams.count(s) == 0) return fail(cudaErrorInvalidResourceHandle);
    if (s->capture != nullptr) return fail(cudaErrorIllegalState);
  }
  flush(s, kAll);  // the queued work still runs (CUDA: destroy returns at once, the work completes)
  std::lock_guard<std::mutex> lock(st.mu);
  st.streams.erase(s);
  // Not deleted: an event recorded on it, or another stream's queued wait, may still name it.
  // Its work is done, so they find it complete. Streams are few; the memory is kept.
  st.retired_streams.push_back(s);
  return cudaSuccess;
}
namespace cuda_emu {
namespace {
// Waiting for (or asking about) a capturing stream is illegal and breaks its capture.
cudaError_t check_waitable_locked(State& st, cudaStream_t s) {
  if (const cudaError_t e = check_stream_locked(st, s); e != cudaSuccess) return e;
  if (s != nullptr && s->capture != nullptr) {
    s->capture->invalidated = true;
    return cudaErrorStreamCaptureUnsupported;
  }
  return cudaSuccess;
}
}  // namespace
}  // namespace cuda_emu

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  std::unique_lock<std::mutex> lock(st.mu);
  if (const cudaError_t e = check_waitable_locked(st, s); e != cudaSuccess) return fail(e);
  lock.unlock();
  if (s == nullptr) {
    flush_streams(/*blocking_only=*/true);
  } else {
    flush(s, kAll);
  }
  return sticky_error() == cudaSuccess ? cudaSuccess : fail(sticky_error());
}
cudaError_t cudaStreamQuery(cudaStream_t s) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (const cudaError_t e = check_waitable_locked(st, s); e != cudaSuccess) return fail(e);
  return s == nullptr || s->pending.empty() ? cudaSuccess : fail(cudaErrorNotReady);
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  std::unique_lock<std::mutex> lock(st.mu);
  if (flags != 0 || e == nullptr || st.events.count(e) == 0) return fail(cudaErrorInvalidResourceHandle);
  if (const cudaError_t err = check_stream_locked(st, s); err != cudaSuccess) return fail(err);
  Capture* c = e->captured_in;
  if (c == nullptr) {
    // Asynchronous mode: later work of s runs only after the event's stream reached it.
    CUstream_st* other = e->stream;
    const uint64_t position = e->position;
    if (other == nullptr || other == s || other->executed >= position) return cudaSuccess;
    if (s == nullptr) {
      lock.unlock();
      flush(other, position);
      return cudaSuccess;
    }
    if (s->capture != nullptr) return cudaSuccess;  // captured work runs at launch, long after
    s->pending.push_back(Node{"cudaStreamWaitEvent", [other, position] {
                                flush(other, position);
                                return cudaSuccess;
                              }});
    ++s->enqueued;
    return cudaSuccess;
  }
  if (s == nullptr) return fail(cudaErrorStreamCaptureImplicit);
  if (s->capture == c) return cudaSuccess;
  if (s->capture != nullptr) {
    c->invalidated = s->capture->invalidated = true;
    return fail(cudaErrorStreamCaptureMerge);
  }
  s->capture = c;  // s joins the capture (fork): its work is recorded into the same graph
  c->streams.push_back(s);
  return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (s == nullptr) return fail(cudaErrorStreamCaptureUnsupported);  // the legacy stream cannot capture
  if (st.streams.count(s) == 0) return fail(cudaErrorInvalidResourceHandle);
  if (s->capture != nullptr) return fail(cudaErrorIllegalState);
  auto* c = new Capture{new CUgraph_st, mode, std::this_thread::get_id(), s, {s}, false};
  s->capture = c;
  st.captures.push_back(c);
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  CUDA_EMU_PROLOGUE();
  if (graph == nullptr) return fail(cudaErrorInvalidValue);
  *graph = nullptr;
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (s == nullptr || st.streams.count(s) == 0) return fail(cudaErrorInvalidResourceHandle);
  Capture* c = s->capture;
  if (c == nullptr) return fail(cudaErrorIllegalState);
  if (c->origin != s) return fail(cudaErrorStreamCaptureUnmatched);
  if (c->mode != cudaStreamCaptureModeRelaxed && c->owner != std::this_thread::get_id())
    return fail(cudaErrorStreamCaptureWrongThread);
  end_capture_locked(st, c);
  const bool invalidated = c->invalidated;
  std::unique_ptr<CUgraph_st> g(c->graph);
  delete c;
  if (invalidated) return fail(cudaErrorStreamCaptureInvalidated);
  *graph = g.release();
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status) {
  CUDA_EMU_PROLOGUE();
  if (status == nullptr) return fail(cudaErrorInvalidValue);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (s == nullptr) {
    // Asking about the legacy stream while a blocking stream captures is itself illegal.
    if (const cudaError_t e = check_legacy_stream_locked(st, s); e != cudaSuccess) return fail(e);
    *status = cudaStreamCaptureStatusNone;
    return cudaSuccess;
  }
  if (st.streams.count(s) == 0) return fail(cudaErrorInvalidResourceHandle);
  *status = s->capture == nullptr      ? cudaStreamCaptureStatusNone
            : s->capture->invalidated ? cudaStreamCaptureStatusInvalidated
                                      : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}
cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  if (mode == nullptr || *mode < cudaStreamCaptureModeGlobal || *mode > cudaStreamCaptureModeRelaxed)
    return fail(cudaErrorInvalidValue);
  std::swap(*mode, t_mode);
  return cudaSuccess;
}

// ---- events ----------------------------------------------------------------------------------------------
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  CUDA_EMU_PROLOGUE();
  if (e == nullptr || flags > 0xF) return fail(cudaErrorInvalidValue);
  auto* ev = new CUevent_st{flags};
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.events.insert(ev);
  *e = ev;
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  State& st = state();
  CUstream_st* s = nullptr;
  uint64_t position = 0;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (e == nullptr || st.events.count(e) == 0) return fail(cudaErrorInvalidResourceHandle);
    s = e->stream;
    position = e->position;
  }
  flush(s, position);  // CUDA releases a pending event when it completes; its queued record writes it
  std::lock_guard<std::mutex> lock(st.mu);
  st.events.erase(e);
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  std::unique_lock<std::mutex> lock(st.mu);
  if (e == nullptr || st.events.count(e) == 0) return fail(cudaErrorInvalidResourceHandle);
  if (const cudaError_t err = check_stream_locked(st, s); err != cudaSuccess) return fail(err);
  if (s != nullptr && s->capture != nullptr) {
    e->captured_in = s->capture;  // a node other streams can wait on; nothing to time
    return cudaSuccess;
  }
  e->captured_in = nullptr;
  if (s == nullptr || !asynchronous()) {
    e->stream = nullptr;
    e->recorded = true;
    e->when = std::chrono::steady_clock::now();
    return cudaSuccess;
  }
  // Asynchronous mode: the event completes (and takes its time) when the stream reaches it.
  e->recorded = false;
  s->pending.push_back(Node{"cudaEventRecord", [e] {
                              e->when = std::chrono::steady_clock::now();
                              e->recorded = true;
                              return cudaSuccess;
                            }});
  e->stream = s;
  e->position = ++s->enqueued;
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (e == nullptr || st.events.count(e) == 0) return fail(cudaErrorInvalidResourceHandle);
  if (e->captured_in != nullptr) {
    e->captured_in->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  if (e->stream != nullptr && e->stream->executed < e->position) return fail(cudaErrorNotReady);
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  CUDA_EMU_PROLOGUE();
  CUstream_st* s = nullptr;
  uint64_t position = 0;
  {
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    if (e == nullptr || st.events.count(e) == 0) return fail(cudaErrorInvalidResourceHandle);
    if (e->captured_in != nullptr) {
      e->captured_in->invalidated = true;
      return fail(cudaErrorStreamCaptureUnsupported);
    }
    s = e->stream;
    position = e->position;
  }
  flush(s, position);
  return sticky_error() == cudaSuccess ? cudaSuccess : fail(sticky_error());
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  CUDA_EMU_PROLOGUE();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (ms == nullptr) return fail(cudaErrorInvalidValue);
  if (start == nullptr || end == nullptr || st.events.count(start) == 0 || st.events.count(end) == 0)
    return fail(cudaErrorInvalidResourceHandle);
  if (((start->flags | end->flags) & cudaEventDisableTiming) != 0) return fail(cudaErrorInvalidResourceHandle);
  for (CUevent_st* ev : {start, end})
    if (ev->stream != nullptr && ev->stream->executed < ev->position) return fail(cudaErrorNotReady);
  if (!start->recorded || !end->recorded) return fail(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}

// ---- graphs ---------------------------------------------------------------------------------------------
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags) {
  CUDA_EMU_PROLOGUE();
  if (exec == nullptr || graph == nullptr || flags != 0) return fail(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  CUDA_EMU_PROLOGUE();
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  for (const Node& n : exec->nodes) {
    const cudaError_t e = submit(s, n);
    if (e != cudaSuccess) return fail(e);
  }
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count) {
  CUDA_EMU_PROLOGUE();
  if (graph == nullptr || count == nullptr) return fail(cudaErrorInvalidValue);
  if (nodes != nullptr) {
    const size_t n = std::min(*count, graph->nodes.size());
    for (size_t i = 0; i < n; ++i) nodes[i] = reinterpret_cast<cudaGraphNode_t>(&graph->nodes[i]);
  }
  *count = graph->nodes.size();
  return cudaSuccess;
}
