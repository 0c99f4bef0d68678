#pragma once
// What the runtime (runtime.cpp) and the kernel executor (kernel_exec.cpp) share.
#include <functional>
#include <string>

#include "cuda_runtime.h"

namespace cuda_emu {

// The most dynamic shared memory a kernel may be allowed (cudaDevAttrMaxSharedMemoryPerBlockOptin
// of an H100/H200: 227 KB); without cudaFuncSetAttribute, 48 KB.
constexpr int kMaxDynamicSharedBytes = 227 * 1024;
constexpr size_t kDefaultSharedBytes = 48 * 1024;

// One unit of stream work: run now, or recorded into a graph and run at each launch. Returns the
// error the work reports (a kernel fault is sticky and reported by every later call too).
struct Node {
  std::string what;
  std::function<cudaError_t()> work;
};

// Runs every thread of the grid: blocks in order, a block's threads as fibers. A fault (a
// __trap, a barrier not every thread reaches, an exception escaping a thread) is printed once,
// stops the grid and becomes the sticky error.
void run_grid(const LaunchConfig& config, const std::function<void()>& body);


cudaError_t sticky_error();
void set_sticky_error(cudaError_t e);

}  // namespace cuda_emu
