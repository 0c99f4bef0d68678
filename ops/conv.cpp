#include "ops/conv.h"

#include "engine/backend.h"
#include "ops/cpu/conv_cpu.h"
#include "ops/cuda/conv_cudnn_cuda.h"
#include "ops/cuda/conv_implicit_gemm_cuda.h"
#include "ops/detail.h"
#include "ops/math_mode.h"
#include "ops/reduce.h"

namespace atebm {
namespace {

std::string params_str(const Conv2dParams& p) {
  return fmt::format("stride [{}, {}] padding [{}, {}] dilation [{}, {}] groups {}", p.stride[0], p.stride[1],
                     p.padding[0], p.padding[1], p.dilation[0], p.dilation[1], p.groups);
}

// Validates one call of the trio and returns its geometry. `x_shape` / `w_shape` are the
// input and weight shapes (given or taken from tensors); every message names the op, both
// shapes and the parameters.
cpu::Conv2dGeometry make_geometry(const char* op, const Shape& x_shape, const Shape& w_shape, const Conv2dParams& p) {
  const std::string ctx = fmt::format("input {}, weight {}, {}", shape_str(x_shape), shape_str(w_shape), params_str(p));
  ATEBM_CHECK(x_shape.size() == 4, "{}: expected a 4-D input [N, C, H, W]; got {}", op, ctx);
  ATEBM_CHECK(w_shape.size() == 4, "{}: expected a 4-D weight [C_out, C_in, kh, kw]; got {}", op, ctx);
  for (int d = 0; d < 2; ++d) {
    ATEBM_CHECK(p.stride[d] >= 1, "{}: stride must be >= 1; got {}", op, ctx);
    ATEBM_CHECK(p.dilation[d] >= 1, "{}: dilation must be >= 1; got {}", op, ctx);
    ATEBM_CHECK(p.padding[d] >= 0, "{}: padding must be >= 0; got {}", op, ctx);
  }
  ATEBM_CHECK(p.groups == 1, "{}: groups != 1 is not implemented; got {}", op, ctx);
  for (int64_t s : x_shape) ATEBM_CHECK(s >= 0, "{}: negative size in {}", op, ctx);
  ATEBM_CHECK(w_shape[0] >= 1 && w_shape[2] >= 1 && w_shape[3] >= 1 && w_shape[1] >= 1,
              "{}: weight sizes must be >= 1; got {}", op, ctx);
  ATEBM_CHECK(x_shape[1] == w_shape[1] * p.groups,
              "{}: input has {} channels but the weight expects {} (dim 1 of each); got {}", op, x_shape[1],
              w_shape[1] * p.groups, ctx);
  cpu::Conv2dGeometry g{.n = x_shape[0],
                        .c_in = x_shape[1],
                        .h = x_shape[2],
                        .w = x_shape[3],
                        .c_out = w_shape[0],
                        .kh = w_shape[2],
                        .kw = w_shape[3],
                        .stride_h = p.stride[0],
                        .stride_w = p.stride[1],
                        .pad_h = p.padding[0],
                        .pad_w = p.padding[1],
                        .dil_h = p.dilation[0],
                        .dil_w = p.dilation[1],
                        .groups = p.groups};
  ATEBM_CHECK(g.h + 2 * g.pad_h - g.dil_h * (g.kh - 1) - 1 >= 0 && g.w + 2 * g.pad_w - g.dil_w * (g.kw - 1) - 1 >= 0,
              "{}: the (dilated) kernel {}x{} is larger than the padded input {}x{}, so the output would be empty; "
              "got {}",
              op, g.dil_h * (g.kh - 1) + 1, g.dil_w * (g.kw - 1) + 1, g.h + 2 * g.pad_h, g.w + 2 * g.pad_w, ctx);
  return g;
}

Shape output_shape(const cpu::Conv2dGeometry& g) { return {g.n, g.c_out, g.h_out(), g.w_out()}; }

void check_tensor(const char* op, const Tensor& t, const char* what, const Tensor& like) {
  detail::check_defined(op, t, what);
  detail::check_floating(op, t);
  if (like.defined()) detail::check_same(op, like, t);
}

// The raw kernels read contiguous arrays; other layouts are copied (no history needed here).

template <typename T>
const T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// ---- raw (no history) ----

#ifdef ATEBM_WITH_CUDA
// The CUDA kernels (ops/cuda/conv_cudnn_cuda.h, conv_implicit_gemm_cuda.h) on dense tensors.
// Forward runs a hand-written implicit GEMM instead of cuDNN when conv_algo() asks for it.
template <typename T>
void forward_cuda(const cpu::Conv2dGeometry& geo, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  switch (conv_algo()) {
    case ConvAlgo::ImplicitGemm:
      cuda::conv2d_forward_implicit_gemm<T>(geo, x.data<T>(), w.data<T>(), ptr<T>(b), y.data<T>());
      break;
    case ConvAlgo::ImplicitGemmPipelined:
      cuda::conv2d_forward_implicit_gemm_pipelined<T>(geo, x.data<T>(), w.data<T>(), ptr<T>(b), y.data<T>());
      break;
    case ConvAlgo::Cudnn:
      cuda::conv2d_forward_cudnn<T>(geo, x.data<T>(), w.data<T>(), ptr<T>(b), y.data<T>());
      break;
  }
}
#endif

Tensor forward_raw(const cpu::Conv2dGeometry& geo, const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = detail::new_like(x, output_shape(geo));
  const Tensor xc = contiguous_raw(x), wc = contiguous_raw(w), bc = b.defined() ? contiguous_raw(b) : Tensor();
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL("conv2d", x.dtype() == DType::Float32 ? forward_cuda<float>(geo, xc, wc, bc, y)
                                                          : forward_cuda<double>(geo, xc, wc, bc, y));
  } else if (x.dtype() == DType::Float32) {
    cpu::conv2d_forward_cpu<float>(geo, xc.data<float>(), wc.data<float>(), ptr<float>(bc), y.data<float>());
  } else {
    cpu::conv2d_forward_cpu<double>(geo, xc.data<double>(), wc.data<double>(), ptr<double>(bc), y.data<double>());
  }
  return y;
}

Tensor grad_input_raw(const cpu::Conv2dGeometry& geo, const Tensor& g, const Tensor& w) {
  Tensor dx = detail::new_like(g, {geo.n, geo.c_in, geo.h, geo.w});
  const Tensor gc = contiguous_raw(g), wc = contiguous_raw(w);
  if (g.device().is_cuda()) {
    ATEBM_CUDA_CALL("conv2d_grad_input",
                    g.dtype() == DType::Float32
                        ? cuda::conv2d_grad_input_cudnn<float>(geo, gc.data<float>(), wc.data<float>(),
                                                               dx.data<float>())
                        : cuda::conv2d_grad_input_cudnn<double>(geo, gc.data<double>(), wc.data<double>(),
                                                                dx.data<double>()));
  } else if (g.dtype() == DType::Float32) {
    cpu::conv2d_grad_input_cpu<float>(geo, gc.data<float>(), wc.data<float>(), dx.data<float>());
  } else {
    cpu::conv2d_grad_input_cpu<double>(geo, gc.data<double>(), wc.data<double>(), dx.data<double>());
  }
  return dx;
}

Tensor grad_weight_raw(const cpu::Conv2dGeometry& geo, const Tensor& x, const Tensor& g) {
  Tensor dw = detail::new_like(x, {geo.c_out, geo.c_in / geo.groups, geo.kh, geo.kw});
  const Tensor xc = contiguous_raw(x), gc = contiguous_raw(g);
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL("conv2d_grad_weight",
                    x.dtype() == DType::Float32
                        ? cuda::conv2d_grad_weight_cudnn<float>(geo, xc.data<float>(), gc.data<float>(),
                                                                dw.data<float>())
                        : cuda::conv2d_grad_weight_cudnn<double>(geo, xc.data<double>(), gc.data<double>(),
                                                                 dw.data<double>()));
  } else if (x.dtype() == DType::Float32) {
    cpu::conv2d_grad_weight_cpu<float>(geo, xc.data<float>(), gc.data<float>(), dw.data<float>());
  } else {
    cpu::conv2d_grad_weight_cpu<double>(geo, xc.data<double>(), gc.data<double>(), dw.data<double>());
  }
  return dw;
}

// ctx() describes the call for the message; it runs only when the check fails (these checks run
// on every call of the gradient ops, where formatting three shapes would be wasted work).
template <typename Ctx>
void check_grad_shape(const char* op, const char* what, const Tensor& g, const Shape& expected, Ctx&& ctx) {
  if (g.shape() == expected) return;
  ATEBM_FAIL("{}: {} has shape {} but the convolution's output is {}; {}", op, what, shape_str(g.shape()),
             shape_str(expected), ctx());
}

}  // namespace

int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dil) {
  const int64_t span = in + 2 * pad - dil * (kernel - 1) - 1;
  ATEBM_CHECK(stride >= 1 && span >= 0,
              "conv2d_output_size: input {} with kernel {}, stride {}, padding {}, dilation {} gives no output", in,
              kernel, stride, pad, dil);
  return span / stride + 1;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  check_tensor("conv2d", x, "input x", Tensor());
  check_tensor("conv2d", w, "weight w", x);
  const cpu::Conv2dGeometry geo = make_geometry("conv2d", x.shape(), w.shape(), p);
  if (b.defined()) {
    check_tensor("conv2d", b, "bias b", x);
    ATEBM_CHECK(b.dim() == 1 && b.shape()[0] == geo.c_out,
                "conv2d: bias must be [{}] (one per output channel); got {} with input {}, weight {}", geo.c_out,
                shape_str(b.shape()), shape_str(x.shape()), shape_str(w.shape()));
  }
  Tensor y = forward_raw(geo, x, w, b);
  if (any_requires_grad({x, w, b})) {
    const bool nx = x.requires_grad(), nw = w.requires_grad(), nb = b.defined() && b.requires_grad();
    record("conv2d", {x, w, b}, {y},
           [nx, nw, nb, p, xs = x.shape(), ws = w.shape(), x_ = SavedTensor(nw ? x : Tensor()),
            w_ = SavedTensor(nx ? w : Tensor())](const Tensors& g) -> Tensors {
             return {nx ? conv2d_grad_input(g[0], w_.unpack(), xs, p) : Tensor(),
                     nw ? conv2d_grad_weight(x_.unpack(), g[0], ws, p) : Tensor(),
                     nb ? sum(g[0], {0, 2, 3}) : Tensor()};
           });
  }
  return y;
}

Tensor conv2d_grad_input(const Tensor& g, const Tensor& w, const Shape& input_shape, const Conv2dParams& p) {
  const char* op = "conv2d_grad_input";
  check_tensor(op, g, "grad_output g", Tensor());
  check_tensor(op, w, "weight w", g);
  const cpu::Conv2dGeometry geo = make_geometry(op, input_shape, w.shape(), p);
  check_grad_shape(op, "grad_output g", g, output_shape(geo), [&] {
    return fmt::format("input_shape {}, weight {}, {}", shape_str(input_shape), shape_str(w.shape()), params_str(p));
  });
  Tensor dx = grad_input_raw(geo, g, w);
  if (any_requires_grad({g, w})) {
    const bool ng = g.requires_grad(), nw = w.requires_grad();
    record(op, {g, w}, {dx},
           [ng, nw, p, ws = w.shape(), g_ = SavedTensor(nw ? g : Tensor()),
            w_ = SavedTensor(ng ? w : Tensor())](const Tensors& gg) -> Tensors {
             // <grad_input(g, w), gg> = <conv2d(gg, w), g>
             return {ng ? conv2d(gg[0], w_.unpack(), Tensor(), p) : Tensor(),
                     nw ? conv2d_grad_weight(gg[0], g_.unpack(), ws, p) : Tensor()};
           });
  }
  return dx;
}

Tensor conv2d_grad_weight(const Tensor& x, const Tensor& g, const Shape& weight_shape, const Conv2dParams& p) {
  const char* op = "conv2d_grad_weight";
  check_tensor(op, x, "input x", Tensor());
  check_tensor(op, g, "grad_output g", x);
  const cpu::Conv2dGeometry geo = make_geometry(op, x.shape(), weight_shape, p);
  check_grad_shape(op, "grad_output g", g, output_shape(geo), [&] {
    return fmt::format("input {}, weight_shape {}, {}", shape_str(x.shape()), shape_str(weight_shape), params_str(p));
  });
  Tensor dw = grad_weight_raw(geo, x, g);
  if (any_requires_grad({x, g})) {
    const bool nx = x.requires_grad(), ng = g.requires_grad();
    record(op, {x, g}, {dw},
           [nx, ng, p, xs = x.shape(), x_ = SavedTensor(ng ? x : Tensor()),
            g_ = SavedTensor(nx ? g : Tensor())](const Tensors& gg) -> Tensors {
             // <grad_weight(x, g), gg> = <conv2d(x, gg), g>
             return {nx ? conv2d_grad_input(g_.unpack(), gg[0], xs, p) : Tensor(),
                     ng ? conv2d(x_.unpack(), gg[0], Tensor(), p) : Tensor()};
           });
  }
  return dw;
}

}  // namespace atebm
