#include "ops/loss.h"

#include "ops/arith.h"
#include "ops/detail.h"
#include "ops/index_ops.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/unary.h"

namespace atebm {

Tensor binary_cross_entropy_with_logits(const Tensor& z, const Tensor& target) {
  constexpr const char* op = "binary_cross_entropy_with_logits";
  detail::check_floating(op, z);
  detail::check_defined(op, target, "target");
  detail::check_same(op, z, target);
  // The target broadcasts to z (trailing-aligned, size 1 or equal) but never enlarges it.
  bool ok = target.dim() <= z.dim();
  for (int64_t k = 1; ok && k <= target.dim(); ++k) {
    const int64_t t = target.size(-k), s = z.size(-k);
    ok = t == s || t == 1;
  }
  ATEBM_CHECK(ok, "{}: target shape {} does not broadcast to the logits' shape {}", op, shape_str(target.shape()),
              shape_str(z.shape()));
  return mean(sub(softplus(z), mul(z, target)));
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  detail::check_floating("log_softmax", x);
  ATEBM_CHECK(x.dim() >= 1, "log_softmax: expected a tensor with at least 1 dim, got a 0-dim tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "log_softmax");
  Tensor m;
  {
    NoGradGuard no_grad;  // a constant shift: exp never sees a positive argument
    m = max(x, d, true).values;
  }
  const Tensor s = sub(x, m);
  return sub(s, log(sum(exp(s), {d}, true)));
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  constexpr const char* op = "cross_entropy";
  detail::check_floating(op, logits);
  detail::check_defined(op, labels, "labels");
  ATEBM_CHECK(logits.dim() == 2, "{}: expected logits [N, C], got shape {}", op, shape_str(logits.shape()));
  ATEBM_CHECK(labels.dtype() == DType::Int64, "{}: labels must be int64, got {} of shape {}", op, labels.dtype(),
              shape_str(labels.shape()));
  const int64_t n = logits.size(0), c = logits.size(1);
  ATEBM_CHECK(labels.shape() == Shape{n}, "{}: labels have shape {}, expected [{}] for logits {}", op,
              shape_str(labels.shape()), n, shape_str(logits.shape()));
  ATEBM_CHECK(n > 0, "{}: empty batch (logits {})", op, shape_str(logits.shape()));
  const std::vector<int64_t> lv = labels.to_vector<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    ATEBM_CHECK(lv[i] >= 0 && lv[i] < c, "{}: label {} at position {} is out of range [0, {}) (logits {})", op, lv[i],
                i, c, shape_str(logits.shape()));
  const Tensor picked = gather(log_softmax(logits, 1), 1, reshape(labels, {n, 1}));  // [N, 1]
  return neg(mean(picked));
}

Tensor mse_loss(const Tensor& a, const Tensor& b) {
  detail::check_same("mse_loss", a, b);
  detail::check_floating("mse_loss", a);
  ATEBM_CHECK(a.shape() == b.shape(), "mse_loss: shapes differ: {} vs {} (broadcasting is not applied to losses)",
              shape_str(a.shape()), shape_str(b.shape()));
  return mean(square(sub(a, b)));
}

}  // namespace atebm
