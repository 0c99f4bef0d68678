#pragma once
// CPU kernels of evaluation-mode batch norm (tier 1: no autograd): its per-channel constants and
// the per-channel affine map.
//   x, out  [N, C, S]  contiguous (S = H·W for images, 1 for [N, C] features), float32/float64
//   scale, shift [C]   contiguous, x's dtype
//   out[n, c, s] = x[n, c, s] · scale[c] + shift[c]
// One pass over memory; the inner loop over s (or over c when S = 1) vectorises.
#include "engine/tensor.h"

namespace atebm::cpu {

void channel_affine(const Tensor& out, const Tensor& x, const Tensor& scale, const Tensor& shift);

// inv_std, scale, shift [C] from running_mean, running_var, weight, bias [C] (weight and bias may
// be undefined), ops/kernels/norm_math.h; and mean_out = running_mean (a copy). All contiguous,
// one dtype.
void bn_eval_constants(const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, double eps, const Tensor& inv_std, const Tensor& scale,
                       const Tensor& shift, const Tensor& mean_out);

}  // namespace atebm::cpu
