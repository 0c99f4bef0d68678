#pragma once
// Throwing checks for CUDA runtime calls (CUDA translation units and CUDA-aware .cpp files only).
//   ATEBM_CUDA_CHECK(cudaMemcpy(d, s, n, cudaMemcpyHostToDevice));
//   ATEBM_LAUNCH(grid, block, 0, current_stream(), my_kernel<T>)(args...);
//   ATEBM_CUDA_CHECK_LAUNCH();   // launch-configuration errors surface here, not at the launch
// Errors become atebm::Error carrying the call text, CUDA's name and description of the error,
// and the source location, so a failure deep in a training loop says exactly which call broke.
//
//
// Include this header FIRST in every .cu file: fmt 9 switches its constexpr support off whenever
// __NVCC__ is defined, which leaves its consteval format-string check and its C++20 constexpr
// buffers calling non-constexpr helpers, and every fmt::format fails to compile. nvcc 12+ handles
// fmt's constexpr code, so turn it back on: CUDA units then see fmt exactly as the .cpp files do.
#if defined(__CUDACC__) && !defined(FMT_USE_CONSTEXPR)
#define FMT_USE_CONSTEXPR 1
#endif
#include <cuda_runtime.h>

#include "engine/error.h"

#define ATEBM_CUDA_CHECK(call)                                                                   \
  do {                                                                                           \
    const cudaError_t atebm_cuda_err_ = (call);                                                  \
    if (atebm_cuda_err_ != cudaSuccess) {                                                        \
      (void)cudaGetLastError(); /* reported here: clear it, or the next launch check rethrows it */ \
      throw ::atebm::Error(::fmt::format("CUDA error: {} failed with {} ({}) at {}:{}", #call,   \
                                         cudaGetErrorName(atebm_cuda_err_),                      \
                                         cudaGetErrorString(atebm_cuda_err_), __FILE__, __LINE__)); \
    }                                                                                            \
  } while (0)

// A kernel launch: my_kernel<T><<<grid, block, smem, stream>>>(args...) under nvcc. Written as a
// macro because with -DATEBM_CUDA_EMULATION=ON the same .cu files compile as C++ against
// cuda_emu/ (the CUDA runtime emulated on the CPU, for tests without a GPU), where a launch is a
// call that runs the kernel once per thread of the grid.
// ATEBM_LAUNCH_FN: the same for a kernel named without deduced template arguments, which the
// emulator can then hold to its cudaFuncSetAttribute limits (more than 48 KB of dynamic shared
// memory needs it).
#if defined(ATEBM_CUDA_EMULATION)
#define ATEBM_LAUNCH(grid, block, smem, stream, ...) CUDA_EMU_LAUNCH(grid, block, smem, stream, __VA_ARGS__)
#define ATEBM_LAUNCH_FN(grid, block, smem, stream, ...) CUDA_EMU_LAUNCH_FN(grid, block, smem, stream, __VA_ARGS__)
#else
#define ATEBM_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<grid, block, smem, stream>>>
#define ATEBM_LAUNCH_FN(grid, block, smem, stream, ...) __VA_ARGS__<<<grid, block, smem, stream>>>
#endif

// After a launch: reports (and clears) a launch error without synchronising.
#define ATEBM_CUDA_CHECK_LAUNCH() ATEBM_CUDA_CHECK(cudaGetLastError())
