#pragma once
// Where a tensor's storage lives. CUDA tensors need the CUDA backend (ATEBM_CUDA); every op
// checks that its inputs share one device and says so when they do not.
#include <cstdint>
#include <string>

#include "engine/error.h"

namespace atebm {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // CUDA ordinal; always 0 for the CPU

  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(t == DeviceType::CPU ? 0 : i) {}
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  /// Parses "cpu", "cuda", "cuda:1".
  static Device parse(const std::string& s);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

/// True when the library was built with the CUDA backend.
bool cuda_built();
/// Number of visible CUDA devices (0 without the backend or without a GPU).
int cuda_device_count();
/// Makes cuda:index the calling thread's current CUDA device: where the caching allocator takes
/// new device memory and where library handles are made. A process that owns one GPU (a
/// data-parallel rank on cuda:LOCAL_RANK) calls it once at start, before creating CUDA tensors.
/// Throws without the backend or for an index that is not visible.
void set_current_cuda_device(int index);

}  // namespace atebm

template <>
struct fmt::formatter<atebm::Device> : fmt::formatter<std::string> {
  auto format(const atebm::Device& d, format_context& ctx) const {
    return fmt::formatter<std::string>::format(d.str(), ctx);
  }
};
