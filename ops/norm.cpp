#include "ops/norm.h"

#include <cmath>

#include "engine/backend.h"
#include "ops/arith.h"
#include "ops/cpu/norm_cpu.h"
#include "ops/cuda/norm_cuda.h"
#include "ops/detail.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/unary.h"

namespace atebm {
namespace {

constexpr const char* kOp = "batch_norm";

// A per-channel tensor must be [C] with x's dtype and device (or undefined when allowed).
void check_channel_param(const Tensor& p, const char* what, const Tensor& x) {
  if (!p.defined()) return;
  ATEBM_CHECK(p.shape() == Shape{x.size(1)}, "{}: {} has shape {} but x {} has {} channels (expected [{}])", kOp,
              what, shape_str(p.shape()), shape_str(x.shape()), x.size(1), x.size(1));
  ATEBM_CHECK(p.dtype() == x.dtype() && p.device() == x.device(), "{}: {} is {} on {} but x {} is {} on {}", kOp, what,
              p.dtype(), p.device(), shape_str(x.shape()), x.dtype(), x.device());
}


struct Layout {
  Shape param_shape;           // [1, C, 1, 1] or [1, C]: a channel vector broadcast against x
  std::vector<int64_t> dims;   // every dim but C
};

Layout layout_of(const Tensor& x) {
  if (x.dim() == 4) return {{1, x.size(1), 1, 1}, {0, 2, 3}};
  return {{1, x.size(1)}, {0}};
}

Tensor training_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, double momentum, double eps, const Layout& l) {
  const int64_t n = x.numel() / x.size(1);
  ATEBM_CHECK(n > 1, "{}: training mode needs more than one value per channel, got x of shape {}", kOp,
              shape_str(x.shape()));
  const Tensor mu = mean(x, l.dims, true);
  const Tensor xc = sub(x, mu);
  const Tensor var = mean(square(xc), l.dims, true);  // biased, as used for normalising
  Tensor y = mul(xc, rsqrt(add(var, eps)));
  if (weight.defined()) y = mul(y, reshape(weight, l.param_shape));
  if (bias.defined()) y = add(y, reshape(bias, l.param_shape));
  if (running_mean.defined()) {
    NoGradGuard no_grad;
    const Shape c = {x.size(1)};
    const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
    const Tensor new_mean = add(mul(running_mean, 1.0 - momentum), mul(reshape(mu, c), momentum));
    const Tensor new_var = add(mul(running_var, 1.0 - momentum), mul(reshape(var, c), momentum * unbias));
    copy_into(running_mean, new_mean);
    copy_into(running_var, new_var);
  }
  return y;
}

Tensor eval_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                    const Tensor& running_var, double eps, const Layout& l) {
  ATEBM_CHECK(running_mean.defined(), "{}: evaluation mode needs running_mean and running_var (x {})", kOp,
              shape_str(x.shape()));
  // Per-channel constants (ops/kernels/norm_math.h; one kernel), fresh tensors: later in-place
  // updates of the buffers cannot reach what backward saved.
  const Shape c = {x.size(1)};
  const Tensor inv_std = detail::new_like(running_mean, c), scale = detail::new_like(running_mean, c),
               shift = detail::new_like(running_mean, c), mean_c = detail::new_like(running_mean, c);
  {
    const Tensor m = contiguous_raw(running_mean), v = contiguous_raw(running_var);
    const Tensor w = weight.defined() ? contiguous_raw(weight) : Tensor();
    const Tensor b = bias.defined() ? contiguous_raw(bias) : Tensor();
    if (x.device().is_cuda()) {
      ATEBM_CUDA_CALL(kOp, cuda::bn_eval_constants(m, v, w, b, eps, inv_std, scale, shift, mean_c));
    } else {
      cpu::bn_eval_constants(m, v, w, b, eps, inv_std, scale, shift, mean_c);
    }
  }
  Tensor out = detail::new_like(x, x.shape());
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL(kOp, cuda::channel_affine(out, contiguous_raw(x), scale, shift));
  } else {
    cpu::channel_affine(out, contiguous_raw(x), scale, shift);
  }

  if (any_requires_grad({x, weight, bias})) {
    const bool nx = x.requires_grad();
    const bool nw = weight.defined() && weight.requires_grad();
    const bool nb = bias.defined() && bias.requires_grad();
    record(kOp, {x, weight, bias}, {out},
           [nx, nw, nb, l, inv_std, scale, mean_c, x_ = SavedTensor(nw ? x : Tensor()),
            w_ = SavedTensor(nx && nw ? weight : Tensor())](const Tensors& g) -> Tensors {
             const Tensor& gy = g[0];
             Tensor gx, gw, gb;
             if (nx) {
               // dy/dx = scale; rebuilt from the weight when it requires grad, so the mixed
               // second derivative (d/dweight of the x-gradient) is recorded.
               const Tensor s = nw ? mul(w_.unpack(), inv_std) : scale;
               gx = mul(gy, reshape(s, l.param_shape));
             }
             if (nw) {
               // dy/dweight = (x − running_mean) · inv_std, summed over everything but C.
               const Tensor xc = sub(x_.unpack(), reshape(mean_c, l.param_shape));
               gw = mul(sum(mul(gy, xc), l.dims), inv_std);
             }
             if (nb) gb = sum(gy, l.dims);
             return {gx, gw, gb};
           });
  }
  return out;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  detail::check_floating(kOp, x);
  ATEBM_CHECK(x.dim() == 4 || x.dim() == 2, "{}: expected x of shape [N, C, H, W] or [N, C], got {}", kOp,
              shape_str(x.shape()));
  check_channel_param(weight, "weight", x);
  check_channel_param(bias, "bias", x);
  check_channel_param(running_mean, "running_mean", x);
  check_channel_param(running_var, "running_var", x);
  ATEBM_CHECK(running_mean.defined() == running_var.defined(),
              "{}: running_mean and running_var must be both defined or both undefined (x {})", kOp,
              shape_str(x.shape()));
  ATEBM_CHECK(eps >= 0.0 && std::isfinite(eps), "{}: eps must be a finite non-negative number, got {}", kOp, eps);
  const Layout l = layout_of(x);
  if (training) return training_forward(x, weight, bias, running_mean, running_var, momentum, eps, l);
  return eval_forward(x, weight, bias, running_mean, running_var, eps, l);
}

}  // namespace atebm
