#pragma once
// ATEBM_HD marks a function that runs on both sides: the CPU kernels call it as ordinary inline
// C++, and nvcc compiles the same source for the GPU. Per-element math written once this way
// (engine/philox.h, ops/kernels/*.h) cannot drift between the CPU reference and the CUDA twin.
#if defined(__CUDACC__)
#define ATEBM_HD __host__ __device__ __forceinline__
#else
#define ATEBM_HD inline
#endif
