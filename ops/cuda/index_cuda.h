#pragma once
// CUDA twins of ops/cpu/index_cpu.h (defined in ops/cuda/index.cu, built with ATEBM_WITH_CUDA).
// Same contracts: every tensor a contiguous CUDA tensor on one device, index tensors int64 and
// range-checked by the caller (find_out_of_range below does that check on the device). Views:
// data as [outer, n, inner] around `dim`. Repeated indices accumulate in increasing source order,
// in the data's dtype, exactly like the CPU kernels (no atomics), so results match them bitwise.
#include <cstdint>

#include "engine/tensor.h"

namespace atebm::cuda {

/// out[o, j, :] = x[o, index[j], :]   (any dtype)
void index_select(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index);
/// out[o, index[j], :] += src[o, j, :] (out pre-zeroed)
void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
/// out[p] = x[p with coordinate dim replaced by index[p]]   (out, index: same shape)
void gather(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index);
/// out[p with coordinate dim replaced by index[p]] += src[p]   (out pre-zeroed)
void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);

/// The first (lowest flat position) value of a contiguous int64 CUDA tensor outside [0, n), for
/// the ops' argument check; position -1 when every value is in range. Waits for the device.
struct BadIndex {
  int64_t position = -1;
  int64_t value = 0;
};
BadIndex find_out_of_range(const Tensor& index, int64_t n);

}  // namespace atebm::cuda
