#include "engine/pinned.h"

#include "engine/device.h"
#include "engine/factories.h"
#ifdef ATEBM_WITH_CUDA
#include "engine/cuda/pinned_allocator.h"
#endif

namespace atebm {

bool is_pinned(const Tensor& t) {
#ifdef ATEBM_WITH_CUDA
  return t.defined() && t.device().is_cpu() && t.storage()->allocator() == &cuda::pinned_allocator();
#else
  (void)t;
  return false;
#endif
}

bool pinned_memory_available() { return cuda_built() && cuda_device_count() > 0; }

void check_pinned_memory_available(const std::string& who) {
  ATEBM_CHECK(cuda_built(),
              "{} needs the CUDA backend and a visible GPU; this build has no CUDA backend (reconfigure with "
              "-DATEBM_CUDA=ON on a machine with nvcc), so leave pinned memory off",
              who);
  ATEBM_CHECK(cuda_device_count() > 0,
              "{} needs the CUDA backend and a visible GPU; no CUDA device is visible (no driver or GPU, or "
              "CUDA_VISIBLE_DEVICES hides them), so leave pinned memory off",
              who);
}

Tensor pin_memory(const Tensor& t) {
  check_pinned_memory_available("pin_memory");
  ATEBM_CHECK(t.device().is_cpu(), "pin_memory: expected a CPU tensor, got one on {}", t.device());
  if (is_pinned(t) && t.is_contiguous()) return t;
  Tensor out = empty(t.shape(), {.dtype = t.dtype(), .pinned = true});
  copy_into(out, t);
  return out;
}

void wait_for_pinned_copies(const Tensor& t) {
#ifdef ATEBM_WITH_CUDA
  if (is_pinned(t)) cuda::pinned_allocator().wait_for_uses(t.storage()->data());
#else
  (void)t;
#endif
}

}  // namespace atebm
