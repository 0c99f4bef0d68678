#pragma once
// The CPU allocator. Blocks of 256 KiB and more are cached by size class after they are freed
// and handed out again: glibc returns such blocks to the OS (munmap) on free, so without a
// cache every large op output would pay page faults on first touch — about as much time as
// the op itself for memory-bound kernels. Small blocks go straight to aligned_alloc.
#include <cstddef>
#include <cstdint>

#include "engine/storage.h"

namespace atebm::cpu {

struct AllocatorStats {
  int64_t allocated_bytes = 0;       // in live tensors (size-class rounded for cached sizes)
  int64_t cached_bytes = 0;          // free blocks kept for reuse
  int64_t peak_allocated_bytes = 0;
  int64_t system_allocations = 0;    // calls that went to the system allocator
};

Allocator* caching_allocator();
AllocatorStats allocator_stats();
/// Returns every cached block to the system.
void release_cached();
/// Upper bound on cached bytes (default 4 GiB); blocks freed beyond it go back to the system.
void set_cache_limit(int64_t bytes);

}  // namespace atebm::cpu
