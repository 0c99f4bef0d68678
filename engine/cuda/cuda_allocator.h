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
// Graph pools (engine/cuda/cuda_graph.h). A captured CUDA graph bakes the addresses of every
// block its kernels touch into the graph, and replays write them again, long after the capture.
// So while a thread captures (begin_capture(pool) .. end_capture()):
//   - its allocations come from the graph's private pool only: the pool's free blocks, else a
//     cached block of the shared cache moved into the pool, else a fresh cudaMalloc;
//   - its frees go back to that pool, including blocks allocated before the capture (captured
//     kernels may read them at every replay, so nobody else may get them);
//   - a block of a pool freed after the capture returns to that pool, not to the shared cache.
// The pool keeps all its blocks reserved until release_pool() (the graph's destructor, after
// its replays finished): replays then find exactly the captured addresses, and no eager tensor
// can sit in memory a replay writes. Replays must run on the stream the shared cache is ordered
// on (the engine's stream, where eager work runs), since pool blocks came from that cache.
//
// Exact mode, for memory checkers (ATEBM_CUDA_NO_CACHE=1 in the environment, or set_exact()):
// rounding and the shared cache hide bugs from compute-sanitizer memcheck (and from
// AddressSanitizer on the emulated GPU): a kernel that writes a few bytes past its tensor stays
// inside the rounded block, and one that reads a freed tensor reads a cached block that is still
// allocated. In exact mode every allocation outside a graph capture is a cudaMalloc of exactly
// the requested bytes, and every free a cudaFree (after the stream's work, which may still use
// the block, has finished), so both show. Slow: for checks only. Graph pools keep their blocks
// as always (a capture cannot free), exact-sized, and cudaFree them when the graph is gone.
//
// Memory is taken on the current CUDA device (device 0 unless set_current_cuda_device() or
// cudaSetDevice chose another); each block remembers its ordinal and is freed on it. The
// Allocator interface carries no device index, so a process works with one GPU: the one it made
// current (a data-parallel rank on cuda:LOCAL_RANK does so at start). Several GPUs in one process
// would need that interface extended first.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/storage.h"

namespace atebm::cuda {

/// A graph's private memory pool; 0 is the shared cache.
using PoolId = uint64_t;

struct AllocatorStats {
  int64_t allocated_bytes = 0;       // bytes in blocks handed out and not yet freed (rounded sizes)
  int64_t reserved_bytes = 0;        // bytes held from cudaMalloc: allocated + cached (pools included)
  int64_t peak_allocated_bytes = 0;  // high-water mark of allocated_bytes
  int64_t num_cuda_mallocs = 0;      // successful cudaMalloc calls so far
  int64_t graph_pool_bytes = 0;      // part of reserved_bytes owned by live graph pools (in use or free)
};

class CachingAllocator final : public Allocator {
 public:
  /// nbytes == 0 gives nullptr. Throws atebm::Error when the device is out of memory even after
  /// the cache was released; the message gives the request, the bytes in use and the bytes cached.
  void* allocate(size_t nbytes) override;
  /// Returns the block to its free list (no CUDA call, so it is safe from destructors); in exact
  /// mode cudaFree's it (errors are printed, never thrown).
  void deallocate(void* p, size_t nbytes) override;

  AllocatorStats stats() const;
  /// cudaFree's every cached (free) block of the shared cache; blocks in use and graph pools are
  /// untouched. Not allowed on a thread that is capturing (cudaFree is not capturable).
  void release_cached();

  /// The size class a request of nbytes is served from (nbytes itself in exact mode).
  static size_t round_size(size_t nbytes);

  /// Exact mode (see the top); initially on when ATEBM_CUDA_NO_CACHE=1. Switching is safe at
  /// any time outside a capture: blocks keep the size they were allocated with.
  static void set_exact(bool exact);
  static bool exact();

  // ---- graph pools (used by CudaGraph) ----
  /// A new, empty private pool.
  PoolId create_pool();
  /// Routes this thread's allocations and frees to `pool` until end_capture() (see the top).
  void begin_capture(PoolId pool);
  void end_capture();
  /// The pool this thread captures into, 0 when it does not capture.
  static PoolId capturing_pool();
  /// The graph is gone and no replay is pending: the pool's free blocks join the shared cache,
  /// and its blocks still in use will when freed.
  void release_pool(PoolId pool);

 private:
  using Key = std::pair<int, size_t>;  // (device, block size)
  using FreeLists = std::map<Key, std::vector<void*>>;
  struct Block {
    size_t size;  // block size: rounded, or exactly the request in exact mode
    int device;   // CUDA ordinal the block lives on
    PoolId pool;  // 0: the shared cache
  };
  struct Pool {
    FreeLists free;
    int64_t bytes = 0;  // reserved bytes owned by the pool (in use + free)
  };

  void* take_cached_locked(FreeLists& lists, const Key& key);
  void* cuda_malloc_locked(int device, size_t nbytes, size_t size, PoolId pool);
  int64_t pool_free_bytes_locked() const;
  void release_cached_locked();
  // cudaFree of a block nobody uses any more, after the work queued on the current stream
  // (exact mode: the block is not cached). No exceptions: called from deallocate().
  void free_now(void* p, const Block& b) noexcept;

  mutable std::mutex mu_;
  FreeLists free_;                          // the shared cache: free blocks per class
  std::unordered_map<PoolId, Pool> pools_;  // live graph pools
  std::unordered_map<void*, Block> live_;   // blocks handed out
  PoolId next_pool_ = 1;
  AllocatorStats stats_;
};

/// Sets exact mode for a scope and restores the previous mode when it ends (a check of one
/// section, a test that needs one mode whatever the environment asked for).
class ExactModeScope {
 public:
  explicit ExactModeScope(bool exact) : saved_(CachingAllocator::exact()) { CachingAllocator::set_exact(exact); }
  ~ExactModeScope() { CachingAllocator::set_exact(saved_); }
  ExactModeScope(const ExactModeScope&) = delete;
  ExactModeScope& operator=(const ExactModeScope&) = delete;

 private:
  bool saved_;
};

/// The process-wide instance (never destroyed: freeing device memory during static destruction
/// would race the CUDA runtime's own teardown).
CachingAllocator& caching_allocator();

}  // namespace atebm::cuda
