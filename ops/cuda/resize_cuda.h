#pragma once
// CUDA twin of ops/cpu/resize_cpu.h (defined in ops/cuda/resize.cu, built with ATEBM_WITH_CUDA).
// The matrices are built on the host with cpu::bilinear_matrix (and transposed() for the
// gradient), exactly as the CPU path does; this kernel uploads and applies them.
#include "engine/tensor.h"
#include "ops/cpu/resize_cpu.h"

namespace atebm::cuda {

/// out [N, C, rows.rows, cols.rows] = rows · x[n, c] · colsᵀ for every plane of
/// x [N, C, rows.cols, cols.cols]; both contiguous CUDA tensors of one float dtype on one
/// device. Accumulates in double, in the CPU kernel's order (W pass, then H pass).
void resample_separable(const Tensor& out, const Tensor& x, const cpu::ResampleMatrix& rows,
                        const cpu::ResampleMatrix& cols);

}  // namespace atebm::cuda
