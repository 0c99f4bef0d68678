#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
#include "engine/cuda/pinned_allocator.h"

#include <cstdio>
#include <exception>

namespace atebm::cuda {
namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;  // 1 MiB
constexpr size_t kSmallRound = size_t{4} << 10;  // 4 KiB: one page
constexpr size_t kLargeRound = size_t{2} << 20;  // 2 MiB

uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// The block with the greatest base address <= p, if [p, p + nbytes) fits inside it; else end().
template <typename Map>
auto find_containing(Map& blocks, const void* p, size_t nbytes) -> decltype(blocks.begin()) {
  auto it = blocks.upper_bound(static_cast<char*>(const_cast<void*>(p)));
  if (it == blocks.begin()) return blocks.end();
  --it;
  const uintptr_t offset = address(p) - address(it->first);
  if (offset > it->second.size || nbytes > it->second.size - offset) return blocks.end();
  return it;
}

[[noreturn]] void fail_cuda(const char* call, cudaError_t err) {
  ATEBM_FAIL("CUDA error: {} failed with {} ({})", call, cudaGetErrorName(err), cudaGetErrorString(err));
}

}  // namespace

size_t PinnedAllocator::round_size(size_t nbytes) {
  const size_t r = nbytes <= kSmallLimit ? kSmallRound : kLargeRound;
  return (nbytes + r - 1) / r * r;
}

void* PinnedAllocator::allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  collect_drained_locked();
  char* p = nullptr;
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
  } else {
    void* raw = nullptr;
    // Portable: the block counts as pinned for every device's context, not only the current one.
    cudaError_t err = cudaHostAlloc(&raw, size, cudaHostAllocPortable);
    if (err == cudaErrorMemoryAllocation) {
      // Cached blocks of other sizes may be what exhausts the lockable memory: release and retry.
      (void)cudaGetLastError();  // clear the error so later checks do not report it again
      const int64_t cached = stats_.reserved_bytes - stats_.allocated_bytes;
      release_cached_locked();
      err = cudaHostAlloc(&raw, size, cudaHostAllocPortable);
      if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        ATEBM_FAIL(
            "pinned host memory exhausted: cudaHostAlloc of {} bytes (block of {}) failed with {} bytes pinned by "
            "live tensors and {} cached bytes already released; use smaller or fewer prefetched batches, or "
            "pin_memory = false",
            nbytes, size, stats_.allocated_bytes, cached);
      }
    }
    ATEBM_CHECK(err == cudaSuccess, "cudaHostAlloc of {} bytes failed with {} ({})", size, cudaGetErrorName(err),
                cudaGetErrorString(err));
    p = static_cast<char*>(raw);
    blocks_[p].size = size;
    stats_.reserved_bytes += static_cast<int64_t>(size);
    stats_.num_host_allocs += 1;
  }
  blocks_[p].in_use = true;
  stats_.allocated_bytes += static_cast<int64_t>(size);
  if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
  return p;
}

void PinnedAllocator::deallocate(void* p, size_t /*nbytes*/) {
  if (p == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blocks_.find(static_cast<char*>(p));
  if (it == blocks_.end() || !it->second.in_use) {
    // Memory corruption or a double free. Called from Storage's destructor: throwing is no option.
    std::fprintf(stderr, "atebm: pinned host allocator: deallocate of unknown pointer %p\n", p);
    std::terminate();
  }
  Block& b = it->second;
  b.in_use = false;
  stats_.allocated_bytes -= static_cast<int64_t>(b.size);
  if (b.uses.empty()) {
    free_[b.size].push_back(it->first);
  } else {
    draining_.push_back(it->first);  // allocate() moves it to free_ once its copies have run
  }
}

bool PinnedAllocator::owns(const void* p, size_t nbytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = find_containing(blocks_, p, nbytes);
  return it != blocks_.end() && it->second.in_use;
}

bool PinnedAllocator::record_use(const void* p, size_t nbytes, Stream stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = find_containing(blocks_, p, nbytes);
  if (it == blocks_.end() || !it->second.in_use) return false;
  Block& b = it->second;
  drop_finished_uses_locked(b);  // keeps the list short for a buffer that is uploaded again and again
  int device = 0;
  ATEBM_CUDA_CHECK(cudaGetDevice(&device));
  std::vector<Event>& spare = spare_events_[device];
  Event ev = nullptr;
  if (!spare.empty()) {
    ev = spare.back();
    spare.pop_back();
  } else {
    cudaEvent_t created = nullptr;
    ATEBM_CUDA_CHECK(cudaEventCreateWithFlags(&created, cudaEventDisableTiming));
    ev = created;
  }
  const cudaError_t err = cudaEventRecord(ev, stream);
  if (err != cudaSuccess) {
    spare.push_back(ev);
    fail_cuda("cudaEventRecord (pinned block in use by a host-to-device copy)", err);
  }
  b.uses.push_back(Use{ev, device});
  return true;
}

void PinnedAllocator::wait_for_uses(const void* p) {
  std::vector<Event> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = find_containing(blocks_, p, 0);
    if (it == blocks_.end()) return;
    for (const Use& u : it->second.uses) events.push_back(u.event);
  }
  // Waited on without the lock, so loader workers can allocate meanwhile. Events are never
  // destroyed, and one is recycled only after it completed: if another thread records one of
  // these again meanwhile, the copy it stood for has already run, so waiting on it waits
  // longer, never too little.
  for (Event e : events) ATEBM_CUDA_CHECK(cudaEventSynchronize(e));
}

// Both helpers leave the allocator consistent if a query throws part way.
void PinnedAllocator::drop_finished_uses_locked(Block& b) {
  std::vector<Use> pending, done;
  for (const Use& u : b.uses) {
    const cudaError_t err = cudaEventQuery(u.event);
    if (err == cudaSuccess) {
      done.push_back(u);
    } else if (err == cudaErrorNotReady) {
      (void)cudaGetLastError();  // "not ready" is a status, not an error: keep it out of the next launch check
      pending.push_back(u);
    } else {
      fail_cuda("cudaEventQuery (copy from a pinned block)", err);  // report rather than reuse the block
    }
  }
  for (const Use& u : done) spare_events_[u.device].push_back(u.event);
  b.uses = std::move(pending);
}

void PinnedAllocator::collect_drained_locked() {
  for (size_t i = 0; i < draining_.size();) {
    Block& b = blocks_.at(draining_[i]);
    drop_finished_uses_locked(b);
    if (b.uses.empty()) {
      free_[b.size].push_back(draining_[i]);
      draining_[i] = draining_.back();
      draining_.pop_back();
    } else {
      ++i;
    }
  }
}

PinnedStats PinnedAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  PinnedStats s = stats_;
  s.draining_blocks = static_cast<int64_t>(draining_.size());
  return s;
}

void PinnedAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  collect_drained_locked();
  release_cached_locked();
}

void PinnedAllocator::release_cached_locked() {
  for (auto& [size, ptrs] : free_) {
    while (!ptrs.empty()) {
      ATEBM_CUDA_CHECK(cudaFreeHost(ptrs.back()));
      blocks_.erase(ptrs.back());
      ptrs.pop_back();
      stats_.reserved_bytes -= static_cast<int64_t>(size);
    }
  }
  free_.clear();
}

PinnedAllocator& pinned_allocator() {
  static auto* instance = new PinnedAllocator();  // intentionally leaked, see the header
  return *instance;
}

}  // namespace atebm::cuda
