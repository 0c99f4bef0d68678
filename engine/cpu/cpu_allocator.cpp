#include "engine/cpu/cpu_allocator.h"

#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/error.h"

namespace atebm::cpu {
namespace {

constexpr size_t kCachedMin = 256 << 10;
constexpr size_t kSmallClass = 64 << 10;  // rounding below 16 MiB
constexpr size_t kLargeClass = 2 << 20;   // rounding above (also the huge-page size)

size_t size_class(size_t n) {
  if (n < kCachedMin) return (n + 63) / 64 * 64;
  const size_t unit = n < (16u << 20) ? kSmallClass : kLargeClass;
  return (n + unit - 1) / unit * unit;
}

class CachingCpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const size_t cls = size_class(nbytes);
    if (cls >= kCachedMin) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= static_cast<int64_t>(cls);
        note_alloc(cls);
        return p;
      }
    }
    // aligned_alloc needs a size that is a multiple of the alignment: 2 MiB alignment (huge
    // pages) only for classes that are whole multiples of 2 MiB.
    const size_t align = cls % kLargeClass == 0 ? kLargeClass : 64;
    void* p = std::aligned_alloc(align, cls);
    if (p == nullptr) {
      release_cached();
      p = std::aligned_alloc(align, cls);
    }
    ATEBM_CHECK(p != nullptr, "out of CPU memory: failed to allocate {} bytes ({} bytes in use)", nbytes,
                stats_.allocated_bytes);
#ifdef MADV_HUGEPAGE
    if (align == kLargeClass) madvise(p, cls, MADV_HUGEPAGE);
#endif
    std::lock_guard<std::mutex> lock(mu_);
    stats_.system_allocations += 1;
    note_alloc(cls);
    return p;
  }

  void deallocate(void* p, size_t nbytes) override {
    if (p == nullptr) return;
    const size_t cls = size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.allocated_bytes -= static_cast<int64_t>(cls);
      if (cls >= kCachedMin && stats_.cached_bytes + static_cast<int64_t>(cls) <= limit_) {
        free_[cls].push_back(p);
        stats_.cached_bytes += static_cast<int64_t>(cls);
        return;
      }
    }
    std::free(p);
  }

  void release_cached() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [cls, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  void set_limit(int64_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      limit_ = bytes;
    }
    if (stats().cached_bytes > bytes) release_cached();
  }

 private:
  void note_alloc(size_t cls) {
    stats_.allocated_bytes += static_cast<int64_t>(cls);
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  }

  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
  int64_t limit_ = int64_t{4} << 30;
};

CachingCpuAllocator& instance() {
  static auto* a = new CachingCpuAllocator();  // never destroyed: tensors may outlive statics
  return *a;
}

}  // namespace

Allocator* caching_allocator() { return &instance(); }
AllocatorStats allocator_stats() { return instance().stats(); }
void release_cached() { instance().release_cached(); }
void set_cache_limit(int64_t bytes) { instance().set_limit(bytes); }

}  // namespace atebm::cpu
