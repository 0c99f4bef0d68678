#pragma once
// CUDA twins of engine/cpu/basic_kernels.h (defined in basic_kernels.cu, built with
// ATEBM_WITH_CUDA). Same contracts, same Philox stream, so rand/randn draw identical bits on
// both devices for the same generator state.
#include <cstdint>

#include "engine/tensor.h"

namespace atebm::cuda {

void fill(const Tensor& dst, double value);
/// Same-device copy with conversion (dst and src both on the GPU; any strides).
void copy(const Tensor& dst, const Tensor& src);
/// Contiguous host <-> device transfer of equal dtype and byte size. Both wait for the copy,
/// except an h2d whose source lies in pinned memory from the pinned allocator: that one returns
/// at once (the allocator holds the block until the copy has run; see engine/pinned.h).
void memcpy_h2d(void* dst, const void* src, size_t nbytes);
void memcpy_d2h(void* dst, const void* src, size_t nbytes);
void arange(const Tensor& dst, double start, double step);
void uniform(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi);
void normal(const Tensor& dst, uint64_t seed, uint64_t offset, double mean, double std);
int device_count();
/// cudaSetDevice(index) for the calling thread (checked).
void set_device(int index);
/// The calling thread's current device (cudaGetDevice, checked).
int current_device();
/// Registers the CUDA allocator with the engine (idempotent).
void init();

}  // namespace atebm::cuda
