#pragma once
// Evaluation-mode batch norm's per-channel constants, written once for both backends (the CPU
// loop of ops/cpu/norm_cpu.cpp and the CUDA kernel of ops/cuda/norm.cu):
//   inv_std = 1 / sqrt(running_var + eps)
//   scale   = weight · inv_std          (inv_std without a weight)
//   shift   = bias − running_mean · scale   (−running_mean · scale without a bias)
// with the roundings of the op-by-op sequence they replace (add, rsqrt, mul, mul, sub: one
// kernel instead of five on a GPU, per BatchNorm2d and forward).
#include "engine/host_device.h"
#include "ops/kernels/elementwise_math.h"

namespace atebm::kernels {

template <typename T>
struct BnEvalConstants {
  T inv_std, scale, shift;
};

// weight, bias: null when the layer has none. eps: already rounded to T.
template <typename T>
ATEBM_HD BnEvalConstants<T> bn_eval_constants(T mean, T var, const T* weight, const T* bias, int64_t c, T eps) {
  const T inv_std = T(1) / sqrt_of(var + eps);  // as UnaryOp::Rsqrt after AddScalar
  const T scale = weight != nullptr ? weight[c] * inv_std : inv_std;
  const T m_s = mean * scale;
  return {inv_std, scale, bias != nullptr ? bias[c] - m_s : -m_s};
}

}  // namespace atebm::kernels
