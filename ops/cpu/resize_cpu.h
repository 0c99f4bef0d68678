#pragma once
// CPU kernels of separable 2-D resampling (tier 1: no autograd).
//
// A resize along one axis is a sparse matrix R [out × in] (each output a weighted sum of a few
// inputs); a 2-D resize of an image X [H × W] is Ry · X · Rxᵀ, and its adjoint (the gradient with
// respect to X) is Ryᵀ · G · Rx. So one kernel, given the matrices or their transposes, runs
// both the forward and the gradient.
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace atebm::cpu {

/// A sparse [rows × cols] matrix in compressed rows: row r holds the entries
/// (idx[k], w[k]) for k in [ptr[r], ptr[r + 1]).
struct ResampleMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> ptr, idx;
  std::vector<double> w;
  ResampleMatrix transposed() const;
};

/// The [out × in] bilinear interpolation matrix of one axis, PyTorch's conventions:
/// align_corners = false samples at half-pixel centres, src = (dst + 0.5)·in/out − 0.5 clamped
/// at 0; align_corners = true maps corner pixels to corner pixels, src = dst·(in − 1)/(out − 1).
/// antialias = true uses PyTorch's / PIL's separable triangle filter whose support widens by
/// the scale factor in/out when shrinking (when enlarging it equals plain bilinear for
/// align_corners = false); weights of each output are normalised to sum to 1.
ResampleMatrix bilinear_matrix(int64_t in, int64_t out, bool align_corners, bool antialias);

/// out [N, C, rows.rows, cols.rows] = rows · x[n, c] · colsᵀ for every plane of
/// x [N, C, rows.cols, cols.cols]; both contiguous, one float dtype. Accumulates in double.
void resample_separable(const Tensor& out, const Tensor& x, const ResampleMatrix& rows, const ResampleMatrix& cols);

}  // namespace atebm::cpu
