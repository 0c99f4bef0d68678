#pragma once
// A reference-counted block of memory on one device. Views share a Storage; the version
// counter lives here so that an in-place write through any view is seen by every saved tensor
// that aliases it (autograd checks versions before using saved data).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "engine/device.h"

namespace atebm {

/// Device memory provider. The CPU one is built in; the CUDA backend registers its caching
/// allocator with set_allocator() when it is built.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* p, size_t nbytes) = 0;
};

Allocator* get_allocator(DeviceType t);
void set_allocator(DeviceType t, Allocator* a);

class Storage {
 public:
  /// Allocates nbytes on `device` (64-byte aligned on the CPU) from the device type's allocator.
  Storage(size_t nbytes, Device device);
  /// Allocates nbytes from `allocator`, which must serve memory of `device` (pinned host memory
  /// for a CPU storage, for example); the storage remembers it and frees through it.
  Storage(size_t nbytes, Device device, Allocator* allocator);
  /// Wraps memory owned elsewhere (a memory map, a pinned buffer); `release` runs on destruction.
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  /// The allocator the memory came from (null for memory wrapped with a release function).
  Allocator* allocator() const { return allocator_; }

  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

  /// Storages alive in this process: tests use it to prove that graphs leave no cycles.
  static int64_t live_count();

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
  std::function<void(void*)> release_;
  std::atomic<uint64_t> version_{0};
};

}  // namespace atebm
