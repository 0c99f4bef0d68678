#include "ops/reduce.h"

#include <algorithm>

#include "engine/backend.h"
#include "ops/arith.h"
#include "ops/compare.h"
#include "ops/cpu/reduce_cpu.h"
#include "ops/cuda/reduce_cuda.h"
#include "ops/detail.h"
#include "ops/index_ops.h"
#include "ops/shape_ops.h"
#include "ops/unary.h"

namespace atebm {
namespace {

// Validated, sorted, unique dims → a per-dim flag and the keepdim shape.
std::vector<bool> reduce_flags(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  std::vector<bool> flags(static_cast<size_t>(x.dim()), false);
  for (int64_t d : dims) {
    ATEBM_CHECK(d >= -std::max<int64_t>(x.dim(), 1) && d < std::max<int64_t>(x.dim(), 1),
                "{}: dim {} is out of range for a tensor of shape {}", op, d, shape_str(x.shape()));
    const int64_t w = wrap_dim(d, x.dim(), op);
    ATEBM_CHECK(!flags[w], "{}: dim {} appears twice in the dims list", op, d);
    flags[w] = true;
  }
  return flags;
}

Shape keepdim_shape(const Shape& shape, const std::vector<bool>& flags) {
  Shape out = shape;
  for (size_t d = 0; d < out.size(); ++d)
    if (flags[d]) out[d] = 1;
  return out;
}

Shape dropdim_shape(const Shape& shape, const std::vector<bool>& flags) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!flags[d]) out.push_back(shape[d]);
  return out;
}

// The backends' sum of x over `flags` into out (contiguous, x's keepdim shape). The backends read
// x in place when the reduced dims form one run (size-1 dims aside); with more runs, e.g. dims
// (0, 2, 3) of [N, C, H, W] in every batch-norm gradient, they would permute x into a copy
// first (ops/kernels/reduce_layout.h). Here the last run is summed first, into a temporary
// whose reduced dims are then of size 1, and the rest the same way: no copy of x, and after the
// first pass only the smaller temporaries are read again. Deterministic as every sum: the
// order is fixed by the shape.
void sum_into(const Tensor& out, const Tensor& x, const std::vector<bool>& flags) {
  int runs = 0;
  int64_t last_run = 0;  // first dim of the last run of reduced dims
  bool prev = false;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.shape()[d] == 1) continue;
    if (flags[d] && !prev) {
      ++runs;
      last_run = d;
    }
    prev = flags[d];
  }
  if (runs > 1) {
    std::vector<bool> last(flags.size(), false);
    for (int64_t d = last_run; d < x.dim(); ++d) last[d] = flags[d];
    const Tensor partial = detail::new_like(x, keepdim_shape(x.shape(), last));
    sum_into(partial, x, last);
    sum_into(out, partial, flags);  // one run fewer: the summed dims have size 1 now
    return;
  }
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL("sum", cuda::reduce_sum(out, x, flags));
  } else {
    cpu::reduce_sum(out, x, flags);
  }
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_floating("sum", x);
  const std::vector<bool> flags = reduce_flags(x, dims, "sum");
  const Shape keep = keepdim_shape(x.shape(), flags);
  Tensor out = detail::new_like(x, keep);
  sum_into(out, x, flags);
  if (!keepdim) out = make_view(out, dropdim_shape(x.shape(), flags), contiguous_strides(dropdim_shape(x.shape(), flags)), 0);
  if (any_requires_grad({x})) {
    record("sum", {x}, {out}, [keep, xs = x.shape()](const Tensors& g) -> Tensors {
      return {expand(reshape(g[0], keep), xs)};
    });
  }
  return out;
}

Tensor sum(const Tensor& x) {
  std::vector<int64_t> all(static_cast<size_t>(x.dim()));
  for (int64_t d = 0; d < x.dim(); ++d) all[d] = d;
  return sum(x, all, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_floating("mean", x);
  const std::vector<bool> flags = reduce_flags(x, dims, "mean");
  int64_t count = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (flags[d]) count *= x.shape()[d];
  ATEBM_CHECK(count > 0, "mean: reducing {} elements of shape {} (mean of nothing)", count, shape_str(x.shape()));
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Tensor mean(const Tensor& x) {
  std::vector<int64_t> all(static_cast<size_t>(x.dim()));
  for (int64_t d = 0; d < x.dim(); ++d) all[d] = d;
  return mean(x, all, false);
}

namespace {

ValuesIndices extreme(bool is_max, const Tensor& x, int64_t dim, bool keepdim) {
  const char* op = is_max ? "max" : "min";
  detail::check_floating(op, x);
  ATEBM_CHECK(x.dim() >= 1, "{}: expected a tensor with at least 1 dim, got a 0-dim tensor", op);
  const int64_t d = wrap_dim(dim, x.dim(), op);
  ATEBM_CHECK(x.shape()[d] > 0, "{}: dim {} of shape {} is empty", op, dim, shape_str(x.shape()));
  Shape keep = x.shape();
  keep[d] = 1;
  Tensor values = detail::new_like(x, keep);
  Tensor indices = empty(keep, {.dtype = DType::Int64, .device = x.device()});
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL(op, cuda::reduce_max_min(is_max, values, indices, x, d));
  } else {
    cpu::reduce_max_min(is_max, values, indices, x, d);
  }
  if (!keepdim) {
    Shape drop = x.shape();
    drop.erase(drop.begin() + d);
    values = make_view(values, drop, contiguous_strides(drop), 0);
    indices = make_view(indices, drop, contiguous_strides(drop), 0);
  }
  if (any_requires_grad({x})) {
    record(op, {x}, {values}, [keep, xs = x.shape(), d, idx = SavedTensor(indices)](const Tensors& g) -> Tensors {
      return {scatter_add(xs, d, reshape(idx.unpack(), keep), reshape(g[0], keep))};
    });
  }
  return {values, indices};
}

}  // namespace

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) { return extreme(true, x, dim, keepdim); }
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) { return extreme(false, x, dim, keepdim); }

Tensor l2_norm_per_sample(const Tensor& x) {
  detail::check_floating("l2_norm_per_sample", x);
  ATEBM_CHECK(x.dim() >= 1, "l2_norm_per_sample: expected [N, ...], got a 0-dim tensor");
  std::vector<int64_t> rest;
  for (int64_t d = 1; d < x.dim(); ++d) rest.push_back(d);
  Tensor n;
  {
    NoGradGuard no_grad;
    n = sqrt(sum(square(x), rest));
  }
  if (any_requires_grad({x})) {
    record("l2_norm_per_sample", {x}, {n}, [x_ = SavedTensor(x), n_ = SavedTensor(detach(n))](const Tensors& g) -> Tensors {
      // d||x_i||/dx_i = x_i / ||x_i||, and 0 for a zero sample. The where() pair keeps every
      // branch finite, so higher derivatives carry no NaN from the masked-out side.
      const Tensor& xv = x_.unpack();
      const Tensor nv = detail::output_for_backward(n_, [&] { return l2_norm_per_sample(xv); });
      const Tensor pos = gt(nv, 0.0);
      const Tensor safe = where(pos, nv, 1.0);
      const Tensor coef = where(pos, div(g[0], safe), 0.0);
      Shape bshape(static_cast<size_t>(xv.dim()), 1);
      bshape[0] = xv.shape()[0];
      return {mul(xv, reshape(coef, bshape))};
    });
  }
  return n;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  detail::check_defined("sum_to", x);
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  ATEBM_CHECK(lead >= 0, "sum_to: cannot reduce shape {} to the larger rank shape {}", shape_str(x.shape()),
              shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    const int64_t want = shape[d - lead];
    ATEBM_CHECK(want == x.shape()[d] || want == 1, "sum_to: shape {} does not broadcast to {} (dim {}: {} vs {})",
                shape_str(shape), shape_str(x.shape()), d, want, x.shape()[d]);
    if (want == 1 && x.shape()[d] != 1) dims.push_back(d);
  }
  return reshape(sum(x, dims, true), shape);
}

}  // namespace atebm
