#pragma once
// CPU kernel of evaluation-mode batch norm (tier 1: no autograd): a per-channel affine map.
//   x, out  [N, C, S]  contiguous (S = H·W for images, 1 for [N, C] features), float32/float64
//   scale, shift [C]   contiguous, x's dtype
//   out[n, c, s] = x[n, c, s] · scale[c] + shift[c]
// One pass over memory; the inner loop over s (or over c when S = 1) vectorises.
#include "engine/tensor.h"

namespace atebm::cpu {

void channel_affine(const Tensor& out, const Tensor& x, const Tensor& scale, const Tensor& shift);

}  // namespace atebm::cpu
