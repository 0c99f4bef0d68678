#include "engine/storage.h"

#include "engine/cpu/cpu_allocator.h"

namespace atebm {
namespace {

std::atomic<int64_t> g_live{0};

Allocator* g_allocators[2] = {nullptr, nullptr};

}  // namespace

Allocator* get_allocator(DeviceType t) {
  if (t == DeviceType::CPU && g_allocators[0] == nullptr) g_allocators[0] = cpu::caching_allocator();
  Allocator* a = g_allocators[static_cast<int>(t)];
  ATEBM_CHECK(a != nullptr, "no allocator for device type {}: {}", static_cast<int>(t),
              t == DeviceType::CUDA ? "this build has no CUDA backend (configure with -DATEBM_CUDA=ON)"
                                    : "not registered");
  return a;
}

void set_allocator(DeviceType t, Allocator* a) { g_allocators[static_cast<int>(t)] = a; }

Storage::Storage(size_t nbytes, Device device) : Storage(nbytes, device, get_allocator(device.type)) {}

Storage::Storage(size_t nbytes, Device device, Allocator* allocator)
    : nbytes_(nbytes), device_(device), allocator_(allocator) {
  ATEBM_CHECK(allocator_ != nullptr, "Storage: no allocator given for {} bytes on {}", nbytes, device);
  data_ = allocator_->allocate(nbytes);
  g_live.fetch_add(1);
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> release)
    : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)) {
  g_live.fetch_add(1);
}

Storage::~Storage() {
  if (release_) {
    release_(data_);
  } else if (data_ != nullptr) {
    allocator_->deallocate(data_, nbytes_);
  }
  g_live.fetch_sub(1);
}

int64_t Storage::live_count() { return g_live.load(); }

}  // namespace atebm
