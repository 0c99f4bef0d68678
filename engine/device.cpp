#include "engine/device.h"

#include "engine/backend.h"
#ifdef ATEBM_WITH_CUDA
#include "engine/cuda/basic_kernels_cuda.h"
#endif

namespace atebm {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    const std::string idx = s.substr(5);
    ATEBM_CHECK(!idx.empty() && idx.find_first_not_of("0123456789") == std::string::npos && idx.size() < 4,
                "device '{}': expected 'cpu', 'cuda' or 'cuda:N'", s);
    return cuda(std::stoi(idx));
  }
  ATEBM_FAIL("device '{}': expected 'cpu', 'cuda' or 'cuda:N'", s);
}

bool cuda_built() {
#ifdef ATEBM_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef ATEBM_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

void set_current_cuda_device(int index) {
  ATEBM_CHECK(index >= 0 && index < cuda_device_count(), "set_current_cuda_device: cuda:{} is not visible ({} CUDA device(s){})",
              index, cuda_device_count(), cuda_built() ? "" : "; this build has no CUDA backend");
  ATEBM_CUDA_CALL("set_current_cuda_device", cuda::set_device(index));
}

void throw_no_cuda(const char* op) {
  ATEBM_FAIL("{}: this build has no CUDA backend (reconfigure with -DATEBM_CUDA=ON on a machine with nvcc)", op);
}

}  // namespace atebm
