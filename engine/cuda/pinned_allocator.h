#pragma once
// Caching allocator for page-locked ("pinned") host memory (plain C++ header: no CUDA includes,
// so engine/pinned.cpp, factories.cpp and tests can use it; defined in pinned_allocator.cu).
//
// Why pinned: the GPU copies pinned memory by DMA straight into device memory and the copy can
// run asynchronously; from pageable memory the driver first stages every byte through its own
// pinned buffer and the host must wait. Why caching: cudaHostAlloc/cudaFreeHost are slow
// (page-locking costs milliseconds per MiB and cudaFreeHost synchronises the device), and a loader
// allocates the same batch sizes over and over, so freed blocks are kept per size class and handed
// out again.
//
// Size classes: requests up to 1 MiB round up to a multiple of 4 KiB (pinning works on whole
// pages anyway), larger ones to a multiple of 2 MiB. A block is reused only for a request of
// exactly its class (no splitting).
//
// Asynchronous copies: cuda::memcpy_h2d (basic_kernels.cu) does not wait for a copy whose source
// lies in one of these blocks; it calls record_use(), which records a CUDA event on the stream
// behind the copy. A freed block whose events have not all completed is not handed out again
// until they have, so freeing a pinned tensor right after queuing its upload is safe. Writing a
// LIVE pinned tensor on the host while its upload may still run is not: wait_for_uses() first
// (engine/pinned.h wraps it as wait_for_pinned_copies).
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "engine/cuda/stream.h"
#include "engine/storage.h"

struct CUevent_st;

namespace atebm::cuda {

using Event = CUevent_st*;  // cudaEvent_t

struct PinnedStats {
  int64_t allocated_bytes = 0;       // bytes in blocks handed out and not yet freed (rounded sizes)
  int64_t reserved_bytes = 0;        // bytes held from cudaHostAlloc: allocated + cached + draining
  int64_t peak_allocated_bytes = 0;  // high-water mark of allocated_bytes
  int64_t num_host_allocs = 0;       // successful cudaHostAlloc calls so far
  int64_t draining_blocks = 0;       // freed blocks still waiting for a copy that reads them
};

class PinnedAllocator final : public Allocator {
 public:
  /// nbytes == 0 gives nullptr. Throws atebm::Error when no more host memory can be pinned even
  /// after the cache was released.
  void* allocate(size_t nbytes) override;
  /// Returns the block to the cache (no CUDA call, so it is safe from destructors); a block with
  /// copies still pending becomes reusable once they have finished.
  void deallocate(void* p, size_t nbytes) override;

  /// True when [p, p + nbytes) lies inside one block handed out by this allocator.
  bool owns(const void* p, size_t nbytes) const;
  /// Call right after queuing on `stream` a copy that reads [p, p + nbytes): when that range
  /// lies in a live block of this allocator, records an event on the stream so the block is not
  /// reused before the copy has run, and returns true; returns false (recording nothing) for
  /// any other memory.
  bool record_use(const void* p, size_t nbytes, Stream stream);
  /// Blocks the calling thread until every copy recorded for the block holding p has finished
  /// (returns at once for memory this allocator does not own).
  void wait_for_uses(const void* p);

  PinnedStats stats() const;
  /// cudaFreeHost's every cached block whose copies have finished; blocks in use are untouched.
  void release_cached();

  /// The size class a request of nbytes is served from.
  static size_t round_size(size_t nbytes);

 private:
  struct Use {
    Event event;
    int device;  // ordinal the event was created on (it returns to that device's pool)
  };
  struct Block {
    size_t size = 0;  // rounded size
    bool in_use = false;
    std::vector<Use> uses;  // events behind copies that read the block, not yet seen complete
  };

  void drop_finished_uses_locked(Block& b);
  void collect_drained_locked();
  void release_cached_locked();

  mutable std::mutex mu_;
  std::map<char*, Block> blocks_;                 // every block held, by base address
  std::map<size_t, std::vector<char*>> free_;     // reusable blocks per size class
  std::vector<char*> draining_;                   // freed blocks with copies maybe still running
  std::map<int, std::vector<Event>> spare_events_;  // completed events per device, for reuse
  PinnedStats stats_;
};

/// The process-wide instance (never destroyed, like the device allocator: pinned tensors may
/// outlive statics and the CUDA runtime's teardown).
PinnedAllocator& pinned_allocator();

}  // namespace atebm::cuda
