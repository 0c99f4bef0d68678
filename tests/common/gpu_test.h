#pragma once
// The skip rule of every GPU test: run only when the CUDA backend is built and a device is
// visible, else skip with the reason (tools/gpu_check.sh greps for these two messages to catch
// GPU tests that skipped on a machine that has a GPU).
//
//   void SetUp() override { ATEBM_SKIP_WITHOUT_GPU(); }
#include <gtest/gtest.h>

#include "engine/device.h"

#ifdef ATEBM_WITH_CUDA
#define ATEBM_SKIP_WITHOUT_GPU()                                                           \
  do {                                                                                     \
    if (::atebm::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible";       \
  } while (0)
#else
#define ATEBM_SKIP_WITHOUT_GPU() GTEST_SKIP() << "built without the CUDA backend"
#endif

namespace atebm::test {
// True when the "GPU" is cuda_emu (-DATEBM_CUDA_EMULATION=ON): kernels run on the CPU, one thread
// after another. Tests that need a big workload only to keep a real GPU busy (to open a window
// for a race) shrink it there: the emulator runs every stream operation to completion at once,
// so such a race cannot happen in it anyway, and the values are still checked.
#ifdef ATEBM_CUDA_EMULATION
constexpr bool kGpuEmulated = true;
#else
constexpr bool kGpuEmulated = false;
#endif
}  // namespace atebm::test
