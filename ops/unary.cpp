#include "ops/unary.h"

#include "ops/arith.h"
#include "ops/cuda/elementwise_cuda.h"
#include "ops/detail.h"

namespace atebm {

using cpu::UnaryOp;
using detail::output_for_backward;
using detail::unary_raw;

namespace {

Tensor forward(UnaryOp op, const char* name, const Tensor& x, double a = 0.0, double b = 0.0) {
  detail::check_floating(name, x);
  return unary_raw(op, x, a, b);
}

// g · mask(x) for the piecewise-linear functions. The mask is a graph constant; without
// create_graph one fused pass computes the product directly.
Tensor masked_backward(UnaryOp mask_op, const Tensor& g, const Tensor& x, double a, double b) {
  if (!GradMode::is_enabled()) {
    Tensor out = detail::new_like(g, g.shape());
    if (g.device().is_cuda()) {
      ATEBM_CUDA_CALL("masked_grad", cuda::masked_grad(mask_op, out, g, x, a, b));
    } else {
      cpu::masked_grad(mask_op, out, g, x, a, b);
    }
    return out;
  }
  return mul(g, unary_raw(mask_op, x, a, b));
}

Tensor piecewise(UnaryOp op, UnaryOp mask_op, const char* name, const Tensor& x, double a, double b) {
  Tensor out = forward(op, name, x, a, b);
  if (any_requires_grad({x})) {
    record(name, {x}, {out}, [x_ = SavedTensor(x), mask_op, a, b](const Tensors& g) -> Tensors {
      return {masked_backward(mask_op, g[0], x_.unpack(), a, b)};
    });
  }
  return out;
}

}  // namespace

Tensor exp(const Tensor& x) {
  Tensor out = forward(UnaryOp::Exp, "exp", x);
  if (any_requires_grad({x})) {
    record("exp", {x}, {out}, [x_ = SavedTensor(x), y_ = SavedTensor(detach(out))](const Tensors& g) -> Tensors {
      return {mul(g[0], output_for_backward(y_, [&] { return exp(x_.unpack()); }))};
    });
  }
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = forward(UnaryOp::Log, "log", x);
  if (any_requires_grad({x})) {
    record("log", {x}, {out}, [x_ = SavedTensor(x)](const Tensors& g) -> Tensors { return {div(g[0], x_.unpack())}; });
  }
  return out;
}

Tensor log1p(const Tensor& x) {
  Tensor out = forward(UnaryOp::Log1p, "log1p", x);
  if (any_requires_grad({x})) {
    record("log1p", {x}, {out},
           [x_ = SavedTensor(x)](const Tensors& g) -> Tensors { return {div(g[0], add(x_.unpack(), 1.0))}; });
  }
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = forward(UnaryOp::Sqrt, "sqrt", x);
  if (any_requires_grad({x})) {
    record("sqrt", {x}, {out}, [x_ = SavedTensor(x), y_ = SavedTensor(detach(out))](const Tensors& g) -> Tensors {
      const Tensor y = output_for_backward(y_, [&] { return sqrt(x_.unpack()); });
      return {div(g[0], mul(y, 2.0))};
    });
  }
  return out;
}

Tensor rsqrt(const Tensor& x) {
  Tensor out = forward(UnaryOp::Rsqrt, "rsqrt", x);
  if (any_requires_grad({x})) {
    record("rsqrt", {x}, {out}, [x_ = SavedTensor(x), y_ = SavedTensor(detach(out))](const Tensors& g) -> Tensors {
      // d/dx x^(-1/2) = -1/2 · y^3
      const Tensor y = output_for_backward(y_, [&] { return rsqrt(x_.unpack()); });
      return {mul(mul(g[0], pow(y, 3.0)), -0.5)};
    });
  }
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = forward(UnaryOp::Abs, "abs", x);
  if (any_requires_grad({x})) {
    record("abs", {x}, {out}, [x_ = SavedTensor(x)](const Tensors& g) -> Tensors {
      return {mul(g[0], unary_raw(UnaryOp::Sign, x_.unpack()))};
    });
  }
  return out;
}

Tensor sign(const Tensor& x) { return forward(UnaryOp::Sign, "sign", x); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  ATEBM_CHECK(lo <= hi, "clamp: lo ({}) must not exceed hi ({})", lo, hi);
  return piecewise(UnaryOp::Clamp, UnaryOp::ClampMask, "clamp", x, lo, hi);
}

Tensor relu(const Tensor& x) { return piecewise(UnaryOp::Relu, UnaryOp::ReluMask, "relu", x, 0.0, 0.0); }

Tensor leaky_relu(const Tensor& x, double slope) {
  return piecewise(UnaryOp::LeakyRelu, UnaryOp::LeakyMask, "leaky_relu", x, slope, 0.0);
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = forward(UnaryOp::Sigmoid, "sigmoid", x);
  if (any_requires_grad({x})) {
    record("sigmoid", {x}, {out}, [x_ = SavedTensor(x), y_ = SavedTensor(detach(out))](const Tensors& g) -> Tensors {
      const Tensor s = output_for_backward(y_, [&] { return sigmoid(x_.unpack()); });
      return {mul(g[0], mul(s, rsub(1.0, s)))};
    });
  }
  return out;
}

Tensor softplus(const Tensor& x) {
  Tensor out = forward(UnaryOp::Softplus, "softplus", x);
  if (any_requires_grad({x})) {
    record("softplus", {x}, {out},
           [x_ = SavedTensor(x)](const Tensors& g) -> Tensors { return {mul(g[0], sigmoid(x_.unpack()))}; });
  }
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = forward(UnaryOp::Tanh, "tanh", x);
  if (any_requires_grad({x})) {
    record("tanh", {x}, {out}, [x_ = SavedTensor(x), y_ = SavedTensor(detach(out))](const Tensors& g) -> Tensors {
      const Tensor y = output_for_backward(y_, [&] { return tanh(x_.unpack()); });
      return {mul(g[0], rsub(1.0, square(y)))};
    });
  }
  return out;
}

Tensor silu(const Tensor& x) {
  Tensor out = forward(UnaryOp::Silu, "silu", x);
  if (any_requires_grad({x})) {
    record("silu", {x}, {out}, [x_ = SavedTensor(x)](const Tensors& g) -> Tensors {
      // d/dx x·s(x) = s · (1 + x · (1 − s))
      const Tensor& xv = x_.unpack();
      const Tensor s = sigmoid(xv);
      return {mul(g[0], mul(s, add(mul(xv, rsub(1.0, s)), 1.0)))};
    });
  }
  return out;
}

}  // namespace atebm
