#include "ops/detail.h"

#include "ops/cuda/elementwise_cuda.h"

namespace atebm::detail {

void check_defined(const char* op, const Tensor& t, const char* what) {
  ATEBM_CHECK(t.defined(), "{}: {} is an undefined tensor", op, what);
}

void check_floating(const char* op, const Tensor& t) {
  check_defined(op, t);
  ATEBM_CHECK(is_floating(t.dtype()), "{}: expected a float32 or float64 tensor, got {} of shape {}", op,
              t.dtype(), shape_str(t.shape()));
}

void check_same(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a, "first operand");
  check_defined(op, b, "second operand");
  ATEBM_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch: {} {} vs {} {} (convert one with to())", op, a.dtype(),
              shape_str(a.shape()), b.dtype(), shape_str(b.shape()));
  ATEBM_CHECK(a.device() == b.device(), "{}: device mismatch: {} on {} vs {} on {} (move one with to())", op,
              shape_str(a.shape()), a.device(), shape_str(b.shape()), b.device());
}

void no_cuda_kernel(const char* op) {
  ATEBM_FAIL("{}: no CUDA kernel yet (the CUDA op kernels arrive with the CUDA backend); run it on the CPU", op);
}

Tensor unary_raw(cpu::UnaryOp op, const Tensor& x, double a, double b) {
  Tensor out = new_like(x, x.shape());
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL("unary", cuda::unary(op, out, x, a, b));
  } else {
    cpu::unary(op, out, x, a, b);
  }
  return out;
}

Tensor binary_raw(cpu::BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  check_same(name, a, b);
  check_floating(name, a);
  Tensor out = new_like(a, broadcast_shapes(a.shape(), b.shape(), name));
  if (a.device().is_cuda()) {
    ATEBM_CUDA_CALL(name, cuda::binary(op, out, a, b));
  } else {
    cpu::binary(op, out, a, b);
  }
  return out;
}

}  // namespace atebm::detail
