#include "ops/compare.h"

#include "ops/arith.h"
#include "ops/cpu/index_cpu.h"
#include "ops/cuda/elementwise_cuda.h"
#include "ops/detail.h"
#include "ops/index_ops.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace atebm {

using cpu::CompareOp;

namespace {

Tensor compare(CompareOp op, const char* name, const Tensor& a, const Tensor& b) {
  detail::check_same(name, a, b);
  Tensor out = empty(broadcast_shapes(a.shape(), b.shape(), name), {.dtype = DType::Bool, .device = a.device()});
  if (a.device().is_cuda()) {
    ATEBM_CUDA_CALL(name, cuda::compare(op, out, a, b));
  } else {
    cpu::compare(op, out, a, b);
  }
  return out;
}

Tensor compare(CompareOp op, const char* name, const Tensor& a, double s) {
  detail::check_defined(name, a);
  Tensor out = empty(a.shape(), {.dtype = DType::Bool, .device = a.device()});
  if (a.device().is_cuda()) {
    ATEBM_CUDA_CALL(name, cuda::compare_scalar(op, out, a, s));
  } else {
    cpu::compare_scalar(op, out, a, s);
  }
  return out;
}

void check_mask(const char* op, const Tensor& mask, const Tensor& data) {
  detail::check_defined(op, mask, "mask");
  ATEBM_CHECK(mask.dtype() == DType::Bool || mask.dtype() == data.dtype(),
              "{}: mask must be bool or {} (0/1), got {} (mask shape {}, data shape {})", op, data.dtype(), mask.dtype(),
              shape_str(mask.shape()), shape_str(data.shape()));
  ATEBM_CHECK(mask.device() == data.device(), "{}: mask is on {} but the data is on {}", op, mask.device(),
              data.device());
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(CompareOp::Eq, "eq", a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(CompareOp::Ne, "ne", a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(CompareOp::Lt, "lt", a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(CompareOp::Le, "le", a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(CompareOp::Gt, "gt", a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(CompareOp::Ge, "ge", a, b); }
Tensor eq(const Tensor& a, double s) { return compare(CompareOp::Eq, "eq", a, s); }
Tensor ne(const Tensor& a, double s) { return compare(CompareOp::Ne, "ne", a, s); }
Tensor lt(const Tensor& a, double s) { return compare(CompareOp::Lt, "lt", a, s); }
Tensor le(const Tensor& a, double s) { return compare(CompareOp::Le, "le", a, s); }
Tensor gt(const Tensor& a, double s) { return compare(CompareOp::Gt, "gt", a, s); }
Tensor ge(const Tensor& a, double s) { return compare(CompareOp::Ge, "ge", a, s); }

Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
  detail::check_same("where", a, b);
  detail::check_floating("where", a);
  check_mask("where", mask, a);
  const Shape shape = broadcast_shapes(broadcast_shapes(mask.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = detail::new_like(a, shape);
  if (a.device().is_cuda()) {
    ATEBM_CUDA_CALL("where", cuda::where(out, mask, a, b));
  } else {
    cpu::where(out, mask, a, b);
  }
  if (any_requires_grad({a, b})) {
    record("where", {a, b}, {out}, [m = SavedTensor(mask), sa = a.shape(), sb = b.shape(),
                                    na = a.requires_grad(), nb = b.requires_grad()](const Tensors& g) -> Tensors {
      const Tensor zero = zeros({}, {.dtype = g[0].dtype(), .device = g[0].device()});
      return {na ? sum_to(where(m.unpack(), g[0], zero), sa) : Tensor(),
              nb ? sum_to(where(m.unpack(), zero, g[0]), sb) : Tensor()};
    });
  }
  return out;
}

Tensor where(const Tensor& mask, const Tensor& a, double s) {
  detail::check_defined("where", a);
  return where(mask, a, full({}, s, {.dtype = a.dtype(), .device = a.device()}));
}

Tensor nonzero_flat(const Tensor& t) {
  detail::check_defined("nonzero", t);
  if (t.device().is_cuda()) {
    // No CUDA kernel: the result's length is data-dependent (a device scan plus a size read-back
    // would sync anyway), so copy t to the CPU, run the CPU kernel there and copy the int64
    // positions back to t's device. copy_to synchronises, which is acceptable: no training or
    // sampling loop calls nonzero (only masked_select does).
    const Tensor positions = cpu::nonzero_flat(copy_to(t, Device::cpu(), t.dtype()));
    return copy_to(positions, t.device(), DType::Int64);
  }
  return cpu::nonzero_flat(contiguous_raw(t));
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  detail::check_floating("masked_select", x);
  check_mask("masked_select", mask, x);
  const Shape shape = broadcast_shapes(x.shape(), mask.shape(), "masked_select");
  const Tensor idx = nonzero_flat(expand(mask, shape));
  return index_select(reshape(expand(x, shape), {-1}), 0, idx);
}

}  // namespace atebm
