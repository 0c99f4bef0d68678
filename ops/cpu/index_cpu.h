#pragma once
// CPU indexing kernels (no autograd). All tensors contiguous; index tensors int64 and already
// range-checked by the caller. Views: x as [outer, n, inner] around `dim`.
#include "engine/tensor.h"

namespace atebm::cpu {

/// out[o, j, :] = x[o, index[j], :]
void index_select(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index);
/// out[o, index[j], :] += src[o, j, :] (out pre-zeroed; repeated indices accumulate in order)
void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
/// out[p] = x[p with coordinate dim replaced by index[p]]   (out, index: same shape)
void gather(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index);
/// out[p with coordinate dim replaced by index[p]] += src[p]   (out pre-zeroed)
void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
/// Flat positions of non-zero elements of a contiguous tensor, as int64 [k].
Tensor nonzero_flat(const Tensor& t);

}  // namespace atebm::cpu
