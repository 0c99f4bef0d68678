#include "ops/arith.h"

#include "ops/detail.h"
#include "ops/reduce.h"

namespace atebm {

using cpu::BinaryOp;
using cpu::UnaryOp;
using detail::binary_raw;
using detail::unary_raw;

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Add, "add", a, b);
  if (any_requires_grad({a, b})) {
    record("add", {a, b}, {out}, [sa = a.shape(), sb = b.shape()](const Tensors& g) -> Tensors {
      return {sum_to(g[0], sa), sum_to(g[0], sb)};
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Sub, "sub", a, b);
  if (any_requires_grad({a, b})) {
    record("sub", {a, b}, {out}, [sa = a.shape(), sb = b.shape(), nb = b.requires_grad()](const Tensors& g) -> Tensors {
      return {sum_to(g[0], sa), nb ? sum_to(neg(g[0]), sb) : Tensor()};
    });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Mul, "mul", a, b);
  if (any_requires_grad({a, b})) {
    const bool na = a.requires_grad(), nb = b.requires_grad();
    // Save each operand only if the other one needs its gradient.
    record("mul", {a, b}, {out},
           [sa = a.shape(), sb = b.shape(), na, nb, a_ = SavedTensor(nb ? a : Tensor()),
            b_ = SavedTensor(na ? b : Tensor())](const Tensors& g) -> Tensors {
             return {na ? sum_to(mul(g[0], b_.unpack()), sa) : Tensor(),
                     nb ? sum_to(mul(g[0], a_.unpack()), sb) : Tensor()};
           });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Div, "div", a, b);
  if (any_requires_grad({a, b})) {
    const bool na = a.requires_grad(), nb = b.requires_grad();
    record("div", {a, b}, {out},
           [sa = a.shape(), sb = b.shape(), na, nb, a_ = SavedTensor(nb ? a : Tensor()),
            b_ = SavedTensor(b)](const Tensors& g) -> Tensors {
             const Tensor& bv = b_.unpack();
             Tensor ga, gb;
             if (na) ga = sum_to(div(g[0], bv), sa);
             if (nb) gb = sum_to(neg(div(mul(g[0], a_.unpack()), square(bv))), sb);
             return {ga, gb};
           });
  }
  return out;
}

namespace {

// A unary op with a scalar parameter whose derivative is a constant c: backward = g * c.
Tensor affine_scalar(UnaryOp op, const char* name, const Tensor& a, double s, double c) {
  detail::check_floating(name, a);
  Tensor out = unary_raw(op, a, s);
  if (any_requires_grad({a})) {
    record(name, {a}, {out}, [c](const Tensors& g) -> Tensors { return {c == 1.0 ? g[0] : mul(g[0], c)}; });
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, double s) { return affine_scalar(UnaryOp::AddScalar, "add_scalar", a, s, 1.0); }
Tensor sub(const Tensor& a, double s) { return affine_scalar(UnaryOp::AddScalar, "sub_scalar", a, -s, 1.0); }
Tensor rsub(double s, const Tensor& a) { return affine_scalar(UnaryOp::RsubScalar, "rsub_scalar", a, s, -1.0); }
Tensor mul(const Tensor& a, double s) { return affine_scalar(UnaryOp::MulScalar, "mul_scalar", a, s, s); }
Tensor div(const Tensor& a, double s) { return affine_scalar(UnaryOp::MulScalar, "div_scalar", a, 1.0 / s, 1.0 / s); }
Tensor neg(const Tensor& a) { return affine_scalar(UnaryOp::Neg, "neg", a, 0.0, -1.0); }
Tensor rdiv(double s, const Tensor& a) { return mul(reciprocal(a), s); }

Tensor reciprocal(const Tensor& a) {
  detail::check_floating("reciprocal", a);
  Tensor out = unary_raw(UnaryOp::Reciprocal, a);
  if (any_requires_grad({a})) {
    record("reciprocal", {a}, {out}, [a_ = SavedTensor(a)](const Tensors& g) -> Tensors {
      return {neg(div(g[0], square(a_.unpack())))};
    });
  }
  return out;
}

Tensor square(const Tensor& a) {
  detail::check_floating("square", a);
  Tensor out = unary_raw(UnaryOp::Square, a);
  if (any_requires_grad({a})) {
    record("square", {a}, {out}, [a_ = SavedTensor(a)](const Tensors& g) -> Tensors {
      return {mul(mul(g[0], a_.unpack()), 2.0)};
    });
  }
  return out;
}

Tensor pow(const Tensor& a, double p) {
  detail::check_floating("pow", a);
  Tensor out = unary_raw(UnaryOp::PowScalar, a, p);
  if (any_requires_grad({a})) {
    record("pow", {a}, {out}, [a_ = SavedTensor(a), p](const Tensors& g) -> Tensors {
      if (p == 0.0) return {zeros_like(g[0])};
      if (p == 1.0) return {g[0]};
      if (p == 2.0) return {mul(mul(g[0], a_.unpack()), 2.0)};
      return {mul(mul(g[0], pow(a_.unpack(), p - 1.0)), p)};
    });
  }
  return out;
}

}  // namespace atebm
