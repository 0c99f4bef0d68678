#pragma once
// CUDA twin of ops/cpu/norm_cpu.h (defined in ops/cuda/norm.cu, built with ATEBM_WITH_CUDA):
// evaluation-mode batch norm as a per-channel affine map.
//   x, out  [N, C, S]  contiguous CUDA tensors (S = H·W for images, 1 for [N, C]), float32/float64
//   scale, shift [C]   contiguous, x's dtype and device
//   out[n, c, s] = x[n, c, s] · scale[c] + shift[c]
#include "engine/tensor.h"

namespace atebm::cuda {

void channel_affine(const Tensor& out, const Tensor& x, const Tensor& scale, const Tensor& shift);

}  // namespace atebm::cuda
