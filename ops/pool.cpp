#include "ops/pool.h"

#include <string>

#include "engine/backend.h"
#include "ops/cpu/pool_cpu.h"
#include "ops/cuda/pool_cuda.h"
#include "ops/detail.h"
#include "ops/index_ops.h"
#include "ops/shape_ops.h"

namespace atebm {
namespace {

using Pair = std::array<int64_t, 2>;

std::string params_str(Pair kernel, Pair stride, Pair padding, Pair dilation) {
  return fmt::format("kernel {} stride {} padding {} dilation {}", kernel, stride, padding, dilation);
}

// Validates the parameters against an input shape and returns the kernel geometry.
cpu::Pool2dGeometry geometry(const char* op, const Shape& xs, Pair kernel, Pair stride, Pair padding,
                             Pair dilation) {
  const std::string params = params_str(kernel, stride, padding, dilation);
  ATEBM_CHECK(xs.size() == 4, "{}: expected an NCHW input [N, C, H, W], got shape {} ({})", op, shape_str(xs),
              params);
  int64_t out[2];
  for (int a = 0; a < 2; ++a) {
    ATEBM_CHECK(kernel[a] >= 1 && stride[a] >= 1 && dilation[a] >= 1,
                "{}: kernel, stride and dilation must be positive; got {} for input {}", op, params, shape_str(xs));
    ATEBM_CHECK(padding[a] >= 0, "{}: padding must be non-negative; got {} for input {}", op, params, shape_str(xs));
    ATEBM_CHECK(padding[a] <= kernel[a] / 2, "{}: padding must be at most half the kernel size; got {} for input {}",
                op, params, shape_str(xs));
    const int64_t span = dilation[a] * (kernel[a] - 1) + 1;
    const int64_t padded = xs[2 + a] + 2 * padding[a];
    ATEBM_CHECK(padded >= span,
                "{}: the window ({} {}) is larger than the padded input ({} + 2·{} = {}): input {}, {}", op, span,
                a == 0 ? "rows" : "columns", xs[2 + a], padding[a], padded, shape_str(xs), params);
    out[a] = (padded - span) / stride[a] + 1;
  }
  return {.planes = xs[0] * xs[1], .h = xs[2], .w = xs[3], .oh = out[0], .ow = out[1],
          .kh = kernel[0], .kw = kernel[1], .sh = stride[0], .sw = stride[1],
          .ph = padding[0], .pw = padding[1], .dh = dilation[0], .dw = dilation[1]};
}

// With dilation a window may skip every input element and see only padding (its max would be
// −inf with no position to route the gradient to): refuse such parameters up front.
void check_windows_hit_input(const char* op, const Shape& xs, const cpu::Pool2dGeometry& g, Pair kernel,
                             Pair stride, Pair padding, Pair dilation) {
  const int64_t size[2] = {g.h, g.w}, outs[2] = {g.oh, g.ow};
  for (int a = 0; a < 2; ++a)
    for (int64_t o = 0; o < outs[a]; ++o) {
      bool hit = false;
      for (int64_t t = 0; t < kernel[a] && !hit; ++t) {
        const int64_t i = o * stride[a] - padding[a] + t * dilation[a];
        hit = i >= 0 && i < size[a];
      }
      ATEBM_CHECK(hit, "{}: output {} {} has a window made only of padding: input {}, {}", op,
                  a == 0 ? "row" : "column", o, shape_str(xs), params_str(kernel, stride, padding, dilation));
    }
}


}  // namespace

Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, bool count_include_pad) {
  detail::check_floating("avg_pool2d", x);
  const cpu::Pool2dGeometry geo = geometry("avg_pool2d", x.shape(), kernel, stride, padding, {1, 1});
  Tensor out = detail::new_like(x, {x.size(0), x.size(1), geo.oh, geo.ow});
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL("avg_pool2d", cuda::avg_pool2d(out, contiguous_raw(x), geo, count_include_pad));
  } else {
    cpu::avg_pool2d(out, contiguous_raw(x), geo, count_include_pad);
  }
  if (any_requires_grad({x})) {
    record("avg_pool2d", {x}, {out},
           [xs = x.shape(), kernel, stride, padding, count_include_pad](const Tensors& g) -> Tensors {
             return {avg_pool2d_grad(g[0], xs, kernel, stride, padding, count_include_pad)};
           });
  }
  return out;
}

Tensor avg_pool2d_grad(const Tensor& g, const Shape& input_shape, Pair kernel, Pair stride, Pair padding,
                       bool count_include_pad) {
  detail::check_floating("avg_pool2d_grad", g);
  const cpu::Pool2dGeometry geo = geometry("avg_pool2d_grad", input_shape, kernel, stride, padding, {1, 1});
  const Shape expect = {input_shape[0], input_shape[1], geo.oh, geo.ow};
  ATEBM_CHECK(g.shape() == expect, "avg_pool2d_grad: gradient has shape {}, expected {} for input {} ({})",
              shape_str(g.shape()), shape_str(expect), shape_str(input_shape),
              params_str(kernel, stride, padding, {1, 1}));
  Tensor dx = detail::new_like(g, input_shape);
  if (g.device().is_cuda()) {
    ATEBM_CUDA_CALL("avg_pool2d_grad", cuda::avg_pool2d_grad(dx, contiguous_raw(g), geo, count_include_pad));
  } else {
    cpu::avg_pool2d_grad(dx, contiguous_raw(g), geo, count_include_pad);
  }
  if (any_requires_grad({g})) {
    record("avg_pool2d_grad", {g}, {dx}, [kernel, stride, padding, count_include_pad](const Tensors& gg) -> Tensors {
      return {avg_pool2d(gg[0], kernel, stride, padding, count_include_pad)};
    });
  }
  return dx;
}

Tensor global_avg_pool2d(const Tensor& x) {
  detail::check_floating("global_avg_pool2d", x);
  ATEBM_CHECK(x.dim() == 4, "global_avg_pool2d: expected an NCHW input [N, C, H, W], got shape {}",
              shape_str(x.shape()));
  return mean(x, {2, 3});
}

ValuesIndices max_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, Pair dilation) {
  detail::check_floating("max_pool2d", x);
  const cpu::Pool2dGeometry geo = geometry("max_pool2d", x.shape(), kernel, stride, padding, dilation);
  check_windows_hit_input("max_pool2d", x.shape(), geo, kernel, stride, padding, dilation);
  const Shape out_shape = {x.size(0), x.size(1), geo.oh, geo.ow};
  Tensor values = detail::new_like(x, out_shape);
  Tensor indices = empty(out_shape, {.dtype = DType::Int64, .device = x.device()});
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL("max_pool2d", cuda::max_pool2d(values, indices, contiguous_raw(x), geo));
  } else {
    cpu::max_pool2d(values, indices, contiguous_raw(x), geo);
  }
  if (any_requires_grad({x})) {
    // values = gather(x viewed [N, C, H·W], 2, indices viewed [N, C, OH·OW]); its backward is
    // scatter_add, whose own backward is gather again, so every order is covered. The indices
    // are a constant of the graph (the argmax does not move under an infinitesimal change).
    record("max_pool2d", {x}, {values}, [xs = x.shape(), idx = SavedTensor(indices)](const Tensors& g) -> Tensors {
      const Tensor& i = idx.unpack();
      const Shape flat_in = {xs[0], xs[1], xs[2] * xs[3]};
      const Shape flat_out = {xs[0], xs[1], i.size(2) * i.size(3)};
      return {reshape(scatter_add(flat_in, 2, reshape(i, flat_out), reshape(g[0], flat_out)), xs)};
    });
  }
  return {values, indices};
}

}  // namespace atebm
