#pragma once
// Caching allocator for CUDA device memory (plain C++ header: no CUDA includes, so tests and
// .cpp files can read the statistics).
//
// Why: cudaMalloc/cudaFree are slow and cudaFree synchronises the whole device. A training loop
// allocates the same sizes every iteration, so freed blocks are kept in per-(device, size class)
// free lists and handed out again; after the first iteration no cudaMalloc/cudaFree happens.
//
// Size classes: requests up to 1 MiB round up to a multiple of 512 bytes, larger ones to a
// multiple of 2 MiB. A block is reused only for a request of exactly its class (no splitting).
//
// Reuse is safe without events because the engine issues all GPU work on one stream per device
// (engine/cuda/stream.h): work queued after a block is handed out again runs after every kernel
// that used the block before it was freed.
//
// Memory is taken on the current CUDA device (device 0 unless someone called cudaSetDevice);
// each block remembers its ordinal and is freed on it. The Allocator interface carries no device
// index yet, so tensors on cuda:N > 0 need that interface extended first.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/storage.h"

namespace atebm::cuda {

struct AllocatorStats {
  int64_t allocated_bytes = 0;       // bytes in blocks handed out and not yet freed (rounded sizes)
  int64_t reserved_bytes = 0;        // bytes held from cudaMalloc: allocated + cached
  int64_t peak_allocated_bytes = 0;  // high-water mark of allocated_bytes
  int64_t num_cuda_mallocs = 0;      // successful cudaMalloc calls so far
};

class CachingAllocator final : public Allocator {
 public:
  /// nbytes == 0 gives nullptr. Throws atebm::Error when the device is out of memory even after
  /// the cache was released.
  void* allocate(size_t nbytes) override;
  /// Returns the block to its free list (no CUDA call, so it is safe from destructors).
  void deallocate(void* p, size_t nbytes) override;

  AllocatorStats stats() const;
  /// cudaFree's every cached (free) block; blocks in use are untouched.
  void release_cached();

  /// The size class a request of nbytes is served from.
  static size_t round_size(size_t nbytes);

 private:
  struct Block {
    size_t size;  // rounded size
    int device;   // CUDA ordinal the block lives on
  };
  using Key = std::pair<int, size_t>;  // (device, rounded size)

  void release_cached_locked();

  mutable std::mutex mu_;
  std::map<Key, std::vector<void*>> free_;  // cached blocks per class
  std::unordered_map<void*, Block> live_;   // blocks handed out
  AllocatorStats stats_;
};

/// The process-wide instance (never destroyed: freeing device memory during static destruction
/// would race the CUDA runtime's own teardown).
CachingAllocator& caching_allocator();

}  // namespace atebm::cuda
