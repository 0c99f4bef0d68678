#include "ops/resize.h"

#include "engine/backend.h"
#include "ops/cpu/resize_cpu.h"
#include "ops/cuda/resize_cuda.h"
#include "ops/detail.h"
#include "ops/index_ops.h"
#include "ops/shape_ops.h"

namespace atebm {
namespace {

void check_image(const char* op, const Shape& xs, int64_t out_h, int64_t out_w) {
  ATEBM_CHECK(xs.size() == 4, "{}: expected an NCHW input [N, C, H, W], got shape {}", op, shape_str(xs));
  ATEBM_CHECK(xs[2] >= 1 && xs[3] >= 1, "{}: input {} has an empty plane", op, shape_str(xs));
  ATEBM_CHECK(out_h >= 1 && out_w >= 1, "{}: output size must be at least 1×1, got {}×{} for input {}", op, out_h,
              out_w, shape_str(xs));
}


}  // namespace

Tensor upsample_nearest2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  detail::check_floating("upsample_nearest2d", x);
  check_image("upsample_nearest2d", x.shape(), out_h, out_w);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // Flat source position of every output pixel; oy·h / out_h < h since oy < out_h.
  Tensor idx = empty({out_h * out_w}, {.dtype = DType::Int64});
  int64_t* p = idx.data<int64_t>();
  for (int64_t oy = 0; oy < out_h; ++oy)
    for (int64_t ox = 0; ox < out_w; ++ox) p[oy * out_w + ox] = (oy * h / out_h) * w + ox * w / out_w;
  if (!x.device().is_cpu()) idx = copy_to(idx, x.device(), DType::Int64);
  return reshape(index_select(reshape(x, {n, c, h * w}), 2, idx), {n, c, out_h, out_w});
}

Tensor resize_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners, bool antialias) {
  detail::check_floating("resize_bilinear2d", x);
  check_image("resize_bilinear2d", x.shape(), out_h, out_w);
  const cpu::ResampleMatrix rows = cpu::bilinear_matrix(x.size(2), out_h, align_corners, antialias);
  const cpu::ResampleMatrix cols = cpu::bilinear_matrix(x.size(3), out_w, align_corners, antialias);
  Tensor out = detail::new_like(x, {x.size(0), x.size(1), out_h, out_w});
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL("resize_bilinear2d", cuda::resample_separable(out, contiguous_raw(x), rows, cols));
  } else {
    cpu::resample_separable(out, contiguous_raw(x), rows, cols);
  }
  if (any_requires_grad({x})) {
    record("resize_bilinear2d", {x}, {out}, [xs = x.shape(), align_corners, antialias](const Tensors& g) -> Tensors {
      return {resize_bilinear2d_grad(g[0], xs, align_corners, antialias)};
    });
  }
  return out;
}

Tensor resize_bilinear2d_grad(const Tensor& g, const Shape& input_shape, bool align_corners, bool antialias) {
  detail::check_floating("resize_bilinear2d_grad", g);
  ATEBM_CHECK(g.dim() == 4, "resize_bilinear2d_grad: expected a gradient [N, C, out_h, out_w], got shape {}",
              shape_str(g.shape()));
  check_image("resize_bilinear2d_grad", input_shape, g.size(2), g.size(3));
  ATEBM_CHECK(g.size(0) == input_shape[0] && g.size(1) == input_shape[1],
              "resize_bilinear2d_grad: gradient {} and input {} differ in N or C", shape_str(g.shape()),
              shape_str(input_shape));
  const int64_t out_h = g.size(2), out_w = g.size(3);
  const cpu::ResampleMatrix rows = cpu::bilinear_matrix(input_shape[2], out_h, align_corners, antialias);
  const cpu::ResampleMatrix cols = cpu::bilinear_matrix(input_shape[3], out_w, align_corners, antialias);
  Tensor dx = detail::new_like(g, input_shape);
  if (g.device().is_cuda()) {
    ATEBM_CUDA_CALL("resize_bilinear2d_grad",
                    cuda::resample_separable(dx, contiguous_raw(g), rows.transposed(), cols.transposed()));
  } else {
    cpu::resample_separable(dx, contiguous_raw(g), rows.transposed(), cols.transposed());
  }
  if (any_requires_grad({g})) {
    record("resize_bilinear2d_grad", {g}, {dx}, [out_h, out_w, align_corners, antialias](const Tensors& gg) -> Tensors {
      return {resize_bilinear2d(gg[0], out_h, out_w, align_corners, antialias)};
    });
  }
  return dx;
}

}  // namespace atebm
