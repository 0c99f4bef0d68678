#include "ops/pgd_update.h"

#include <cmath>

#include "ops/cpu/pgd_cpu.h"
#include "ops/cuda/pgd_cuda.h"
#include "ops/detail.h"
#include "ops/shape_ops.h"

namespace atebm {
namespace {

constexpr const char* kOp = "pgd_update_";

// The operand must have x's shape, dtype and device, and may share x's memory only as the very
// same view (the kernel reads element j before writing it, nothing else).
void check_operand(const Tensor& x, const Tensor& t, const char* what) {
  ATEBM_CHECK(t.defined(), "{}: {} is an undefined tensor", kOp, what);
  detail::check_same(kOp, x, t);
  ATEBM_CHECK(t.shape() == x.shape(), "{}: {} has shape {}, expected x's shape {}", kOp, what, shape_str(t.shape()),
              shape_str(x.shape()));
  const bool same_view = t.strides() == x.strides() && t.offset() == x.offset();
  ATEBM_CHECK(t.storage() != x.storage() || same_view,
              "{}: {} shares memory with x without being the same view; clone one of them first", kOp, what);
}

void check_arguments(const Tensor& x, const Tensor& g, const Tensor& x0, const PgdStep& s) {
  detail::check_floating(kOp, x);
  ATEBM_CHECK(x.dim() >= 1, "{}: expected x of shape [N, ...], got a 0-dim tensor", kOp);
  check_operand(x, g, "the gradient g");
  check_operand(x, x0, "the start x0");
  ATEBM_CHECK(!(GradMode::is_enabled() && x.requires_grad()),
              "{}: x (shape {}) requires grad while grad mode is on; the update is not recorded by autograd: "
              "run it under NoGradGuard on a tensor without history",
              kOp, shape_str(x.shape()));
  for (int64_t d = 0; d < x.dim(); ++d) {
    ATEBM_CHECK(x.size(d) <= 1 || x.stride(d) != 0,
                "{}: x of shape {} is an expanded view (stride 0 in dim {}); write into a contiguous copy", kOp,
                shape_str(x.shape()), d);
  }
  ATEBM_CHECK(s.step_size >= 0.0 && std::isfinite(s.step_size),
              "{}: step size must be finite and >= 0, got {}", kOp, s.step_size);
  ATEBM_CHECK(s.eps >= 0.0, "{}: eps must be >= 0 (infinity: no projection), got {}", kOp, s.eps);
  ATEBM_CHECK(s.lo <= s.hi, "{}: clamp bounds must satisfy lo <= hi (NaN not allowed), got lo = {}, hi = {}", kOp,
              s.lo, s.hi);
}

// The mask as a contiguous tensor of x's shape and dtype (the kernel reads it flat).
Tensor expanded_mask(const Tensor& x, const Tensor& mask) {
  ATEBM_CHECK(mask.device() == x.device(), "{}: mask is on {} but x is on {}", kOp, mask.device(), x.device());
  ATEBM_CHECK(is_floating(mask.dtype()) || mask.dtype() == DType::Bool,
              "{}: mask must be bool or floating (0/1), got {}", kOp, mask.dtype());
  ATEBM_CHECK(broadcasts_to(mask.shape(), x.shape()),
              "{}: mask of shape {} does not broadcast to x's shape {}", kOp, shape_str(mask.shape()),
              shape_str(x.shape()));
  if (mask.shape() == x.shape() && mask.dtype() == x.dtype() && mask.is_contiguous()) return detach(mask);
  NoGradGuard no_grad;
  Tensor m = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
  copy_into(m, expand(detach(mask), x.shape()));
  return m;
}


}  // namespace

void pgd_update_(const Tensor& x, const Tensor& g, const Tensor& x0, const PgdStep& step, const Tensor& mask) {
  detail::check_defined(kOp, x, "x");
  check_arguments(x, g, x0, step);
  const Tensor m = mask.defined() ? expanded_mask(x, mask) : Tensor();
  if (x.numel() == 0) return;

  const Tensor xc = contiguous_raw(x), gc = contiguous_raw(g);
  // x0 may be x itself: then the kernel must read the same buffer it writes.
  const Tensor x0c = x0.is_same(x) || (x0.storage() == x.storage()) ? xc : contiguous_raw(x0);
  const int64_t n = x.size(0), d = x.numel() / n;
  ATEBM_DISPATCH_FLOATING(x.dtype(), kOp, [&] {
    using T = scalar_t;
    const T* mp = m.defined() ? m.data<T>() : nullptr;
    if (x.device().is_cuda()) {
      ATEBM_CUDA_CALL(kOp, cuda::pgd_update<T>(xc.data<T>(), gc.data<T>(), x0c.data<T>(), mp, n, d, step));
    } else {
      cpu::pgd_update<T>(xc.data<T>(), gc.data<T>(), x0c.data<T>(), mp, n, d, step);
    }
  });
  if (!xc.is_same(x)) copy_into(x, xc);
  x.storage()->bump_version();
}

}  // namespace atebm
