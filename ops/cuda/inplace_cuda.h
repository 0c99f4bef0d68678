#pragma once
// CUDA twins of ops/cpu/inplace_cpu.h (defined in ops/cuda/inplace.cu, built with
// ATEBM_WITH_CUDA). Same contracts and the same order of operations as the CPU kernels:
// `t` is the written CUDA tensor (any strides, no two elements at one address); every other
// tensor operand broadcasts to t.shape(), with t's dtype (float32 or float64) and device.
// Scalars arrive as double and are rounded to t's dtype once, on the host. Contiguous, aligned
// operands of t's shape take a 16-byte vector path (float4 / double2).
#include "engine/tensor.h"
#include "ops/cpu/inplace_cpu.h"

namespace atebm::cuda {

/// t += alpha · other
void add_scaled_inplace(const Tensor& t, const Tensor& other, double alpha);
/// t *= s
void mul_scalar_inplace(const Tensor& t, double s);
/// t += w · (other − t), PyTorch's two-sided lerp (exact at w = 0 and w = 1), as on the CPU
void lerp_inplace(const Tensor& t, const Tensor& other, double w);
/// t += value · a · b
void addcmul_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value);
/// t += value · a / b
void addcdiv_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value);

/// One fused Adam step over n contiguous elements of device memory (see cpu::adam_update for
/// the formula; same order of operations). Runs on the device that holds p.
template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, const cpu::AdamScalars& s);

}  // namespace atebm::cuda
