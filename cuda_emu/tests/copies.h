#pragma once
// Moving test data to and from emulated device memory (cudaMalloc + cudaMemcpy, checked).
#include <gtest/gtest.h>

#include <vector>

#include "cuda_runtime.h"

namespace cuda_emu::test {

// A new device allocation holding `host`; the caller frees it (tests that fault on purpose leave
// it: cudaFree would report the sticky fault).
template <class T>
T* to_device(const std::vector<T>& host) {
  T* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, host.size() * sizeof(T)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return p;
}

// The n elements at device pointer p (a synchronous copy on the legacy stream).
template <class T>
std::vector<T> to_host(const T* p, size_t n) {
  std::vector<T> out(n);
  EXPECT_EQ(cudaMemcpy(out.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return out;
}

}  // namespace cuda_emu::test
