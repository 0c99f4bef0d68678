#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
#include "engine/cuda/cuda_allocator.h"
#include "engine/cuda/stream.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

namespace atebm::cuda {
namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;  // 1 MiB
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t{2} << 20;  // 2 MiB

// The graph pool this thread captures into (0: none). Per thread, like the capture itself
// (CudaGraph captures in cudaStreamCaptureModeThreadLocal): other threads keep using the shared
// cache while one thread captures.
thread_local PoolId t_capture_pool = 0;

std::atomic<bool>& exact_flag() {
  static std::atomic<bool> flag{[] {
    const char* v = std::getenv("ATEBM_CUDA_NO_CACHE");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }()};
  return flag;
}

// Makes `device` current for the scope, restoring the previous device afterwards.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    ATEBM_CUDA_CHECK(cudaGetDevice(&prev_));
    if (prev_ != device) ATEBM_CUDA_CHECK(cudaSetDevice(device));
    dev_ = device;
  }
  ~DeviceGuard() {
    if (prev_ != dev_) cudaSetDevice(prev_);  // best effort: destructors must not throw
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0, dev_ = 0;
};

// Switches this thread's stream-capture interaction mode to relaxed for the scope.
// Why cudaMalloc is allowed here during a capture: the CUDA runtime documentation of
// cudaThreadExchangeStreamCaptureMode says cudaMalloc is "potentially unsafe" during capture
// because it "is not enqueued asynchronously to a stream, and is not observed by stream
// capture", so a graph that depends on the allocation being replayed would be invalid; in
// cudaStreamCaptureModeRelaxed "the local thread is not prohibited from potentially unsafe API
// calls". Our graph does not depend on the allocation being replayed: the block is allocated
// once, now, belongs to the graph's pool and stays reserved while the graph lives, so every
// replay finds it at the captured address. PyTorch relies on the same rule: its caching
// allocator's cudaMallocMaybeCapturing (c10/cuda/CUDACachingAllocator.cpp) wraps cudaMalloc in
// a relaxed-mode guard while the stream captures, on the condition that those addresses are
// never cudaFree'd before a replay (ours are not: the pool holds them). Everything else the
// capturing thread does keeps the strict thread-local mode, so a stray synchronisation or host
// copy in an op still invalidates the capture loudly instead of being silently left out.
class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode() { ATEBM_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode_)); }
  ~RelaxedCaptureMode() { cudaThreadExchangeStreamCaptureMode(&mode_); }  // restores the previous mode
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  cudaStreamCaptureMode mode_ = cudaStreamCaptureModeRelaxed;
};

// "1.50 GiB (1610612736 bytes)": sizes in OOM messages, readable and exact.
std::string bytes_str(int64_t n) {
  const double gib = static_cast<double>(n) / static_cast<double>(int64_t{1} << 30);
  if (gib >= 1.0) return fmt::format("{:.2f} GiB ({} bytes)", gib, n);
  return fmt::format("{:.2f} MiB ({} bytes)", static_cast<double>(n) / static_cast<double>(1 << 20), n);
}

}  // namespace

void CachingAllocator::set_exact(bool exact) { exact_flag().store(exact); }
bool CachingAllocator::exact() { return exact_flag().load(); }

size_t CachingAllocator::round_size(size_t nbytes) {
  if (exact()) return nbytes;
  const size_t r = nbytes <= kSmallLimit ? kSmallRound : kLargeRound;
  return (nbytes + r - 1) / r * r;
}

void* CachingAllocator::take_cached_locked(FreeLists& lists, const Key& key) {
  auto it = lists.find(key);
  if (it == lists.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  return p;
}

void* CachingAllocator::allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const size_t size = round_size(nbytes);
  int device = 0;
  ATEBM_CUDA_CHECK(cudaGetDevice(&device));
  const Key key{device, size};
  const PoolId pool = t_capture_pool;

  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pool == 0) {
      if (!exact()) p = take_cached_locked(free_, key);
    } else {
      Pool& gp = pools_.at(pool);
      p = take_cached_locked(gp.free, key);
      if (p == nullptr) {
        // A block the warm-up run left in the shared cache: it moves into the graph's pool. Its
        // last eager users were queued on the engine's stream, where replays run too.
        p = take_cached_locked(free_, key);
        if (p != nullptr) gp.bytes += static_cast<int64_t>(size);
      }
    }
    if (p == nullptr) p = cuda_malloc_locked(device, nbytes, size, pool);
    live_.emplace(p, Block{size, device, pool});
    stats_.allocated_bytes += static_cast<int64_t>(size);
    if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
  }
#ifdef ATEBM_CUDA_EMULATION
  // A testing aid of the emulated GPU (cuda_emu/README.md): on a GPU a reused block still holds
  // its last user's data, often zeros, which can hide a kernel that reads memory it never wrote.
  // Here every block handed out is NaN bytes, set in stream order like a kernel (and recorded
  // with it during a graph capture), so such a kernel fails the parity tests.
  ATEBM_CUDA_CHECK(cudaMemsetAsync(p, 0xFF, size, current_stream()));
#endif
  return p;
}

// Free bytes held in graph pools (part of the cached bytes, but not releasable).
int64_t CachingAllocator::pool_free_bytes_locked() const {
  int64_t n = 0;
  for (const auto& [id, gp] : pools_)
    for (const auto& [key, blocks] : gp.free) n += static_cast<int64_t>(key.second * blocks.size());
  return n;
}

void* CachingAllocator::cuda_malloc_locked(int device, size_t nbytes, size_t size, PoolId pool) {
  auto try_malloc = [size, pool](void** out) {
    if (pool == 0) return cudaMalloc(out, size);
    RelaxedCaptureMode relaxed;  // see RelaxedCaptureMode for why this is legal
    return cudaMalloc(out, size);
  };
  void* p = nullptr;
  cudaError_t err = try_malloc(&p);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the error so later checks do not report it again
    // The state that ran out, before anything is released.
    const int64_t in_use = stats_.allocated_bytes;
    const int64_t cached = stats_.reserved_bytes - stats_.allocated_bytes;
    const int64_t in_pools = pool_free_bytes_locked();
    std::string what_then;
    if (pool == 0) {
      // Cached blocks of other sizes may be what fills the device: give them back and retry once.
      release_cached_locked();
      err = try_malloc(&p);
      if (err == cudaErrorMemoryAllocation) (void)cudaGetLastError();
      what_then = "the shared cache was released and the cudaMalloc retried";
    } else {
      what_then = "nothing was released (cudaFree is not allowed while this thread captures a CUDA graph)";
    }
    ATEBM_CHECK(err != cudaErrorMemoryAllocation,
                "CUDA out of memory on cuda:{}: requested {} (a block of {}); allocated (in use by tensors): {}; "
                "cached (reserved - allocated): {}, of which {} are free blocks of CUDA graph pools; {}",
                device, bytes_str(static_cast<int64_t>(nbytes)), bytes_str(static_cast<int64_t>(size)),
                bytes_str(in_use), bytes_str(cached), bytes_str(in_pools), what_then);
  }
  ATEBM_CHECK(err == cudaSuccess, "cudaMalloc of {} bytes on cuda:{} failed with {} ({})", size, device,
              cudaGetErrorName(err), cudaGetErrorString(err));
  stats_.reserved_bytes += static_cast<int64_t>(size);
  stats_.num_cuda_mallocs += 1;
  if (pool != 0) pools_.at(pool).bytes += static_cast<int64_t>(size);
  return p;
}

void CachingAllocator::deallocate(void* p, size_t /*nbytes*/) {
  if (p == nullptr) return;
  std::unique_lock<std::mutex> lock(mu_);
  auto it = live_.find(p);
  if (it == live_.end()) {
    // A pointer this allocator never handed out: memory corruption or a double free. Called from
    // Storage's destructor, so throwing is not an option.
    std::fprintf(stderr, "atebm: CUDA caching allocator: deallocate of unknown pointer %p\n", p);
    std::terminate();
  }
  const Block b = it->second;
  live_.erase(it);
  stats_.allocated_bytes -= static_cast<int64_t>(b.size);
  const Key key{b.device, b.size};
  // A shared block freed by a capturing thread may be read by the captured kernels at every
  // replay: the graph's pool takes it over, so no eager tensor gets it while the graph lives.
  PoolId owner = b.pool;
  if (owner == 0 && t_capture_pool != 0) {
    owner = t_capture_pool;
    pools_.at(owner).bytes += static_cast<int64_t>(b.size);
  }
  if (owner != 0) {
    pools_.at(owner).free[key].push_back(p);  // release_pool relabels live blocks: the pool exists
    return;
  }
  if (exact()) {
    stats_.reserved_bytes -= static_cast<int64_t>(b.size);
    lock.unlock();  // the synchronisation below may take long; nothing of ours is touched
    free_now(p, b);
    return;
  }
  free_[key].push_back(p);
}

void CachingAllocator::free_now(void* p, const Block& b) noexcept {
  int prev = 0;
  if (cudaGetDevice(&prev) != cudaSuccess) prev = b.device;
  if (prev != b.device) cudaSetDevice(b.device);
  // Kernels queued before the free may still use the block; cudaFree itself waits for the
  // device, the explicit synchronisation says so.
  cudaError_t err = cudaStreamSynchronize(current_stream());
  if (err == cudaSuccess) err = cudaFree(p);
  if (err != cudaSuccess)  // a kernel fault being reported late, typically: keep going, say so
    std::fprintf(stderr, "atebm: CUDA caching allocator (exact mode): freeing %p on cuda:%d: %s\n", p, b.device,
                 cudaGetErrorString(err));
  if (prev != b.device) cudaSetDevice(prev);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  AllocatorStats s = stats_;
  s.graph_pool_bytes = 0;
  for (const auto& [id, gp] : pools_) s.graph_pool_bytes += gp.bytes;
  return s;
}

void CachingAllocator::release_cached() {
  ATEBM_CHECK(t_capture_pool == 0,
              "CUDA caching allocator: release_cached() while this thread captures a CUDA graph (pool {}); cudaFree "
              "cannot be captured: release the cache before capture_begin() or after capture_end()",
              t_capture_pool);
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (auto& [key, blocks] : free_) {
    if (blocks.empty()) continue;
    DeviceGuard guard(key.first);
    while (!blocks.empty()) {
      ATEBM_CUDA_CHECK(cudaFree(blocks.back()));
      blocks.pop_back();
      stats_.reserved_bytes -= static_cast<int64_t>(key.second);
    }
  }
  free_.clear();
}

// ---- graph pools ----

PoolId CachingAllocator::create_pool() {
  std::lock_guard<std::mutex> lock(mu_);
  const PoolId id = next_pool_++;
  pools_.emplace(id, Pool{});
  return id;
}

void CachingAllocator::begin_capture(PoolId pool) {
  ATEBM_CHECK(t_capture_pool == 0, "CUDA caching allocator: this thread already captures into graph pool {}",
              t_capture_pool);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ATEBM_CHECK(pools_.count(pool) == 1, "CUDA caching allocator: graph pool {} does not exist", pool);
  }
  t_capture_pool = pool;
}

void CachingAllocator::end_capture() { t_capture_pool = 0; }

PoolId CachingAllocator::capturing_pool() { return t_capture_pool; }

void CachingAllocator::release_pool(PoolId pool) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(pool);
  if (it == pools_.end()) return;
  for (auto& [key, blocks] : it->second.free) {
    if (exact()) {  // no shared cache to join: the blocks go back to the device
      for (void* p : blocks) {
        stats_.reserved_bytes -= static_cast<int64_t>(key.second);
        free_now(p, Block{key.second, key.first, 0});
      }
      continue;
    }
    std::vector<void*>& shared = free_[key];
    shared.insert(shared.end(), blocks.begin(), blocks.end());
  }
  for (auto& [ptr, b] : live_)
    if (b.pool == pool) b.pool = 0;
  pools_.erase(it);
}

CachingAllocator& caching_allocator() {
  static auto* instance = new CachingAllocator();  // intentionally leaked, see the header
  return *instance;
}

}  // namespace atebm::cuda
