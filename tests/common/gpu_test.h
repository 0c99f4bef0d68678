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
