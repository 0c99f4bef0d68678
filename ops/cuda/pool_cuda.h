#pragma once
// CUDA twins of ops/cpu/pool_cpu.h (defined in ops/cuda/pool.cu, built with ATEBM_WITH_CUDA).
// Same geometry (cpu::Pool2dGeometry), same contracts: contiguous NCHW CUDA tensors of one float
// dtype, validated by the caller (ops/pool.cpp).
//   x, dx          [N, C, H, W]
//   out, g, values [N, C, OH, OW]
//   indices        [N, C, OH, OW]  int64, flat position ih·W + iw inside the input plane
#include "engine/tensor.h"
#include "ops/cpu/pool_cpu.h"

namespace atebm::cuda {

/// out = window sums / count (count_include_pad: kh·kw clipped to the padded input, else the
/// in-bounds positions), summed in double in row-major window order. Dilation must be 1.
void avg_pool2d(const Tensor& out, const Tensor& x, const cpu::Pool2dGeometry& geo, bool count_include_pad);
/// The adjoint of avg_pool2d in gather form: one thread per dx element sums its windows (no atomics).
void avg_pool2d_grad(const Tensor& dx, const Tensor& g, const cpu::Pool2dGeometry& geo, bool count_include_pad);
/// Max over each window's in-bounds positions and where it was found: the first maximum in
/// row-major window order, a later NaN replacing anything (exactly the CPU kernel's rule);
/// padding is never selected.
void max_pool2d(const Tensor& values, const Tensor& indices, const Tensor& x, const cpu::Pool2dGeometry& geo);

}  // namespace atebm::cuda
