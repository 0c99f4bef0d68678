#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
#include "engine/cuda/cuda_allocator.h"

#include <cstdio>
#include <exception>

namespace atebm::cuda {
namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;  // 1 MiB
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t{2} << 20;  // 2 MiB

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

}  // namespace

size_t CachingAllocator::round_size(size_t nbytes) {
  const size_t r = nbytes <= kSmallLimit ? kSmallRound : kLargeRound;
  return (nbytes + r - 1) / r * r;
}

void* CachingAllocator::allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const size_t size = round_size(nbytes);
  int device = 0;
  ATEBM_CUDA_CHECK(cudaGetDevice(&device));

  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  auto it = free_.find(Key{device, size});
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
  } else {
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
      // Cached blocks of other sizes may be what fills the device: give them back and retry once.
      (void)cudaGetLastError();  // clear the error so later checks do not report it again
      const int64_t cached = stats_.reserved_bytes - stats_.allocated_bytes;
      release_cached_locked();
      err = cudaMalloc(&p, size);
      if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        ATEBM_FAIL(
            "CUDA out of memory on cuda:{}: requested {} bytes (block of {}); {} bytes are in use by "
            "tensors and {} cached bytes were already released before retrying",
            device, nbytes, size, stats_.allocated_bytes, cached);
      }
    }
    ATEBM_CHECK(err == cudaSuccess, "cudaMalloc of {} bytes on cuda:{} failed with {} ({})", size, device,
                cudaGetErrorName(err), cudaGetErrorString(err));
    stats_.reserved_bytes += static_cast<int64_t>(size);
    stats_.num_cuda_mallocs += 1;
  }
  live_.emplace(p, Block{size, device});
  stats_.allocated_bytes += static_cast<int64_t>(size);
  if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
  return p;
}

void CachingAllocator::deallocate(void* p, size_t /*nbytes*/) {
  if (p == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
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
  free_[Key{b.device, b.size}].push_back(p);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::release_cached() {
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

CachingAllocator& caching_allocator() {
  static auto* instance = new CachingAllocator();  // intentionally leaked, see the header
  return *instance;
}

}  // namespace atebm::cuda
