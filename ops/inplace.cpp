#include "ops/inplace.h"

#include <algorithm>

#include "ops/cuda/inplace_cuda.h"
#include "ops/detail.h"

namespace atebm {
namespace {

// Byte range [lo, hi] touched by a tensor's elements inside its storage (numel > 0).
std::pair<int64_t, int64_t> byte_range(const Tensor& t) {
  int64_t lo = t.offset(), hi = t.offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t span = (t.size(d) - 1) * t.stride(d);
    (span < 0 ? lo : hi) += span;
  }
  const auto item = static_cast<int64_t>(t.itemsize());
  return {lo * item, (hi + 1) * item - 1};
}

// The rules every in-place write obeys (see the header).
void check_writable(const char* op, const Tensor& t) {
  detail::check_defined(op, t, "the written tensor");
  if (GradMode::is_enabled()) {
    ATEBM_CHECK(t.grad_fn() == nullptr,
                "{}: in-place update of a tensor of shape {} that has a grad_fn ({}); autograd does not record "
                "in-place ops: compute the new value out of place, or detach() first",
                op, shape_str(t.shape()), t.grad_fn()->name());
    ATEBM_CHECK(!t.requires_grad(),
                "{}: in-place update of a leaf that requires grad; wrap it in NoGradGuard (shape {})", op,
                shape_str(t.shape()));
  }
  for (int64_t d = 0; d < t.dim(); ++d) {
    ATEBM_CHECK(t.size(d) <= 1 || t.stride(d) != 0,
                "{}: the written tensor of shape {} is an expanded view (stride 0 in dim {}), so several of its "
                "elements share one address; write into a contiguous copy instead",
                op, shape_str(t.shape()), d);
  }
}

// An operand that is read while `t` is written may alias t exactly (each element is read
// before it is written) but not partially: the result would depend on the loop order.
void check_no_partial_overlap(const char* op, const Tensor& t, const Tensor& other) {
  if (t.numel() == 0 || other.numel() == 0 || t.storage() != other.storage()) return;
  if (t.shape() == other.shape() && t.strides() == other.strides() && t.offset() == other.offset() &&
      t.dtype() == other.dtype())
    return;
  const auto [a_lo, a_hi] = byte_range(t);
  const auto [b_lo, b_hi] = byte_range(other);
  ATEBM_CHECK(a_hi < b_lo || b_hi < a_lo,
              "{}: an operand of shape {} partially overlaps the written tensor of shape {} in memory; clone one "
              "of them first",
              op, shape_str(other.shape()), shape_str(t.shape()));
}

// Same dtype and device as t, broadcastable to t's shape, no partial overlap.
void check_operand(const char* op, const Tensor& t, const Tensor& other) {
  detail::check_same(op, t, other);
  ATEBM_CHECK(broadcast_shapes(t.shape(), other.shape(), op) == t.shape(),
              "{}: an operand of shape {} does not broadcast to the written tensor's shape {}", op,
              shape_str(other.shape()), shape_str(t.shape()));
  check_no_partial_overlap(op, t, other);
}

// Checks shared by the arithmetic updates.
void check_arith(const char* op, const Tensor& t) {
  check_writable(op, t);
  detail::check_floating(op, t);
}

}  // namespace

Tensor add_(const Tensor& t, const Tensor& other, double alpha) {
  check_arith("add_", t);
  check_operand("add_", t, other);
  if (t.device().is_cuda()) {
    ATEBM_CUDA_CALL("add_", cuda::add_scaled_inplace(t, other, alpha));
  } else {
    cpu::add_scaled_inplace(t, other, alpha);
  }
  t.storage()->bump_version();
  return t;
}

Tensor mul_(const Tensor& t, double s) {
  check_arith("mul_", t);
  if (t.device().is_cuda()) {
    ATEBM_CUDA_CALL("mul_", cuda::mul_scalar_inplace(t, s));
  } else {
    cpu::mul_scalar_inplace(t, s);
  }
  t.storage()->bump_version();
  return t;
}

Tensor zero_(const Tensor& t) {
  check_writable("zero_", t);
  fill_into(t, 0.0);  // bumps the version
  return t;
}

Tensor copy_(const Tensor& dst, const Tensor& src) {
  check_writable("copy_", dst);
  detail::check_defined("copy_", src, "source");
  ATEBM_CHECK(dst.shape() == src.shape(), "copy_: destination shape {} differs from source shape {}",
              shape_str(dst.shape()), shape_str(src.shape()));
  check_no_partial_overlap("copy_", dst, src);
  copy_into(dst, src);  // bumps the version
  return dst;
}

Tensor lerp_(const Tensor& t, const Tensor& other, double w) {
  check_arith("lerp_", t);
  check_operand("lerp_", t, other);
  if (t.device().is_cuda()) {
    ATEBM_CUDA_CALL("lerp_", cuda::lerp_inplace(t, other, w));
  } else {
    cpu::lerp_inplace(t, other, w);
  }
  t.storage()->bump_version();
  return t;
}

Tensor addcmul_(const Tensor& t, const Tensor& a, const Tensor& b, double value) {
  check_arith("addcmul_", t);
  check_operand("addcmul_", t, a);
  check_operand("addcmul_", t, b);
  if (t.device().is_cuda()) {
    ATEBM_CUDA_CALL("addcmul_", cuda::addcmul_inplace(t, a, b, value));
  } else {
    cpu::addcmul_inplace(t, a, b, value);
  }
  t.storage()->bump_version();
  return t;
}

Tensor addcdiv_(const Tensor& t, const Tensor& a, const Tensor& b, double value) {
  check_arith("addcdiv_", t);
  check_operand("addcdiv_", t, a);
  check_operand("addcdiv_", t, b);
  if (t.device().is_cuda()) {
    ATEBM_CUDA_CALL("addcdiv_", cuda::addcdiv_inplace(t, a, b, value));
  } else {
    cpu::addcdiv_inplace(t, a, b, value);
  }
  t.storage()->bump_version();
  return t;
}

void adam_update_(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const cpu::AdamScalars& s) {
  const char* op = "adam_update_";
  check_arith(op, p);
  check_writable(op, m);
  check_writable(op, v);
  for (const Tensor* o : {&g, &m, &v}) {
    detail::check_same(op, p, *o);
    ATEBM_CHECK(o->shape() == p.shape(), "{}: parameter of shape {} but gradient/moment of shape {}", op,
                shape_str(p.shape()), shape_str(o->shape()));
  }
  ATEBM_CHECK(p.storage() != m.storage() && p.storage() != v.storage() && m.storage() != v.storage(),
              "{}: the parameter and its two moments must not share memory", op);
  for (const Tensor* o : {&p, &m, &v}) check_no_partial_overlap(op, *o, g);

  // The fused kernel wants flat memory: work on contiguous copies of whatever is strided.
  const Tensor pc = contiguous_raw(p), gc = contiguous_raw(g), mc = contiguous_raw(m), vc = contiguous_raw(v);
  ATEBM_DISPATCH_FLOATING(p.dtype(), op, [&] {
    if (p.device().is_cuda()) {
      ATEBM_CUDA_CALL(op, cuda::adam_update<scalar_t>(pc.data<scalar_t>(), gc.data<scalar_t>(), mc.data<scalar_t>(),
                                                      vc.data<scalar_t>(), p.numel(), s));
    } else {
      cpu::adam_update<scalar_t>(pc.data<scalar_t>(), gc.data<scalar_t>(), mc.data<scalar_t>(),
                                 vc.data<scalar_t>(), p.numel(), s);
    }
  });
  for (auto [dst, src] : {std::pair{&p, &pc}, std::pair{&m, &mc}, std::pair{&v, &vc}}) {
    if (!dst->is_same(*src)) copy_into(*dst, *src);  // bumps too; harmless
    dst->storage()->bump_version();
  }
}

}  // namespace atebm
