#pragma once
// CUDA twin of ops/cpu/norm_cpu.h (defined in ops/cuda/norm.cu, built with ATEBM_WITH_CUDA):
// evaluation-mode batch norm as a per-channel affine map, and its per-channel constants.
//   x, out  [N, C, S]  contiguous CUDA tensors (S = H·W for images, 1 for [N, C]), float32/float64
//   scale, shift [C]   contiguous, x's dtype and device
//   out[n, c, s] = x[n, c, s] · scale[c] + shift[c]
#include "engine/tensor.h"

namespace atebm::cuda {

void channel_affine(const Tensor& out, const Tensor& x, const Tensor& scale, const Tensor& shift);

// The CUDA twin of cpu::bn_eval_constants (ops/cpu/norm_cpu.h): one kernel for the per-channel
// constants of evaluation-mode batch norm, and the copy of running_mean.
void bn_eval_constants(const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, double eps, const Tensor& inv_std, const Tensor& scale,
                       const Tensor& shift, const Tensor& mean_out);

}  // namespace atebm::cuda
