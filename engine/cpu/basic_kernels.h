#pragma once
// Engine-level CPU kernels: fill, strided copy with dtype conversion, arange and the Philox
// random fills. Tensors passed here are CPU tensors; callers check devices.
#include <cstdint>

#include "engine/tensor.h"

namespace atebm::cpu {

/// Every element of `dst` (any strides) = value converted to dst's dtype.
void fill(const Tensor& dst, double value);
/// dst[i] = convert(src[i]) elementwise; shapes must be equal; any strides and dtypes.
void copy(const Tensor& dst, const Tensor& src);
/// Contiguous dst[i] = start + i * step.
void arange(const Tensor& dst, double start, double step);
/// Contiguous float dst from the Philox stream at block `offset` (see engine/philox.h).
void uniform(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi);
void normal(const Tensor& dst, uint64_t seed, uint64_t offset, double mean, double std);

}  // namespace atebm::cpu
