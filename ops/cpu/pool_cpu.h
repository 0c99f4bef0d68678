#pragma once
// CPU pooling kernels (tier 1 of DESIGN.md: no autograd). Every tensor is contiguous NCHW and
// float32 or float64; the caller (ops/pool.cpp) has validated the geometry:
//   x, dx          [N, C, H, W]       seen as `planes` = N·C planes of H×W
//   out, g, values [N, C, OH, OW]     OH = (H + 2·ph − dh·(kh − 1) − 1) / sh + 1 (floor), same for W
//   indices        [N, C, OH, OW]     int64, flat position ih·W + iw inside the input plane
// Window (oh, ow) covers input rows oh·sh − ph + t·dh for t in [0, kh) (columns likewise);
// positions outside [0, H) × [0, W) are padding.
#include <cstdint>

#include "engine/tensor.h"

namespace atebm::cpu {

struct Pool2dGeometry {
  int64_t planes = 0, h = 0, w = 0, oh = 0, ow = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
};

/// out[p, oh, ow] = Σ window x / count. count = kh·kw (padding counts as zeros) when
/// count_include_pad, else the number of in-bounds positions of the window. Dilation must be 1.
void avg_pool2d(const Tensor& out, const Tensor& x, const Pool2dGeometry& geo, bool count_include_pad);

/// The adjoint of avg_pool2d: dx[p, ih, iw] = Σ over windows (oh, ow) covering (ih, iw) of
/// g[p, oh, ow] / count(oh, ow). Written in gather form (each dx element sums its windows), so
/// rows parallelise without atomics.
void avg_pool2d_grad(const Tensor& dx, const Tensor& g, const Pool2dGeometry& geo, bool count_include_pad);

/// values[p, oh, ow] = max over the window's in-bounds positions (padding acts as −inf and is
/// never selected: the caller guarantees every window holds at least one input element);
/// indices = where it was found. Ties keep the first position in row-major window order; a NaN
/// wins (as in PyTorch).
void max_pool2d(const Tensor& values, const Tensor& indices, const Tensor& x, const Pool2dGeometry& geo);

}  // namespace atebm::cpu
