#include "ops/index_ops.h"

#include "engine/backend.h"
#include "ops/cpu/index_cpu.h"
#include "ops/cuda/index_cuda.h"
#include "ops/kernels/index_math.h"
#include "ops/detail.h"
#include "ops/shape_ops.h"

namespace atebm {
namespace {

[[noreturn]] void report_bad_index(const char* op, int64_t value, int64_t position, int64_t n, const Tensor& like) {
  ATEBM_FAIL("{}: index {} at position {} is out of range [0, {}) for data of shape {}", op, value, position, n,
             shape_str(like.shape()));
}

// A contiguous int64 index with every value in [0, n), or an error naming the first bad one.
// On the GPU the range check runs there and only the first bad position comes back (one sync).
Tensor checked_index(const char* op, const Tensor& index, int64_t n, const Tensor& like) {
  detail::check_defined(op, index, "index");
  ATEBM_CHECK(index.dtype() == DType::Int64, "{}: index must be int64, got {}", op, index.dtype());
  ATEBM_CHECK(index.device() == like.device(), "{}: index is on {} but the data is on {}", op, index.device(),
              like.device());
  Tensor idx = index.is_contiguous() ? index : copy_to(index, index.device(), DType::Int64);
  if (idx.device().is_cuda()) {
    ATEBM_CUDA_CALL(op, {
      const cuda::BadIndex bad = cuda::find_out_of_range(idx, n);
      if (bad.position >= 0) report_bad_index(op, bad.value, bad.position, n, like);
    });
    return idx;
  }
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i)
    if (!kernels::index::in_range(p[i], n)) report_bad_index(op, p[i], i, n, like);
  return idx;
}


}  // namespace

Tensor cat(const Tensors& xs, int64_t dim) {
  ATEBM_CHECK(!xs.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = xs[0];
  detail::check_defined("cat", first);
  ATEBM_CHECK(first.dim() >= 1, "cat: zero-dim tensors cannot be concatenated (use stack), got shape {}",
              shape_str(first.shape()));
  const int64_t d = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    detail::check_same("cat", first, xs[i]);
    ATEBM_CHECK(xs[i].dim() == first.dim(), "cat: tensor {} has shape {} but tensor 0 has shape {} (ranks differ)", i,
                shape_str(xs[i].shape()), shape_str(first.shape()));
    for (int64_t k = 0; k < first.dim(); ++k)
      ATEBM_CHECK(k == d || xs[i].shape()[k] == first.shape()[k],
                  "cat: tensor {} has shape {} but tensor 0 has shape {} (dim {} differs; only dim {} may)", i,
                  shape_str(xs[i].shape()), shape_str(first.shape()), k, d);
    shape[d] += xs[i].shape()[d];
  }
  Tensor out = detail::new_like(first, shape);
  std::vector<int64_t> offsets;
  int64_t off = 0;
  for (const Tensor& x : xs) {
    offsets.push_back(off);
    Shape st = out.strides();
    copy_into(make_view(out, x.shape(), st, off * out.strides()[d]), x);
    off += x.shape()[d];
  }
  if (any_requires_grad(xs)) {
    std::vector<int64_t> lengths;
    for (const Tensor& x : xs) lengths.push_back(x.shape()[d]);
    record("cat", xs, {out}, [d, offsets, lengths](const Tensors& g) -> Tensors {
      Tensors parts;
      for (size_t i = 0; i < offsets.size(); ++i) parts.push_back(narrow(g[0], d, offsets[i], lengths[i]));
      return parts;
    });
  }
  return out;
}

Tensor stack(const Tensors& xs, int64_t dim) {
  ATEBM_CHECK(!xs.empty(), "stack: expected a non-empty list of tensors");
  const int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  Tensors us;
  for (size_t i = 0; i < xs.size(); ++i) {
    detail::check_defined("stack", xs[i]);
    ATEBM_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor {} has shape {} but tensor 0 has shape {}", i,
                shape_str(xs[i].shape()), shape_str(xs[0].shape()));
    us.push_back(unsqueeze(xs[i], d));
  }
  return cat(us, d);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  detail::check_floating("index_select", x);
  ATEBM_CHECK(x.dim() >= 1, "index_select: expected a tensor with at least 1 dim");
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  ATEBM_CHECK(index.defined() && index.dim() == 1, "index_select: index must be 1-D, got shape {}",
              index.defined() ? shape_str(index.shape()) : "undefined");
  const Tensor idx = checked_index("index_select", index, x.shape()[d], x);
  Shape shape = x.shape();
  shape[d] = idx.numel();
  Tensor out = detail::new_like(x, shape);
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL("index_select", cuda::index_select(out, contiguous_raw(x), d, idx));
  } else {
    cpu::index_select(out, contiguous_raw(x), d, idx);
  }
  if (any_requires_grad({x})) {
    record("index_select", {x}, {out}, [xs = x.shape(), d, idx](const Tensors& g) -> Tensors {
      return {index_add(xs, d, idx, g[0])};
    });
  }
  return out;
}

Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  detail::check_floating("index_add", src);
  ATEBM_CHECK(!shape.empty(), "index_add: expected a target shape with at least 1 dim, got []");
  const int64_t d = wrap_dim(dim, static_cast<int64_t>(shape.size()), "index_add");
  ATEBM_CHECK(index.defined() && index.dim() == 1, "index_add: index must be 1-D");
  Shape expect = shape;
  expect[d] = index.numel();
  ATEBM_CHECK(src.shape() == expect, "index_add: src has shape {}, expected {} for {} indices into {}",
              shape_str(src.shape()), shape_str(expect), index.numel(), shape_str(shape));
  const Tensor idx = checked_index("index_add", index, shape[d], src);
  Tensor out = zeros(shape, {.dtype = src.dtype(), .device = src.device()});
  if (src.device().is_cuda()) {
    ATEBM_CUDA_CALL("index_add", cuda::index_add(out, d, idx, contiguous_raw(src)));
  } else {
    cpu::index_add(out, d, idx, contiguous_raw(src));
  }
  if (any_requires_grad({src})) {
    record("index_add", {src}, {out},
           [d, idx](const Tensors& g) -> Tensors { return {index_select(g[0], d, idx)}; });
  }
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  detail::check_floating("gather", x);
  ATEBM_CHECK(x.dim() >= 1, "gather: expected a tensor with at least 1 dim, got shape []");
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  ATEBM_CHECK(index.defined() && index.dim() == x.dim(), "gather: index must have x's rank {}, got shape {}",
              x.dim(), index.defined() ? shape_str(index.shape()) : "undefined");
  for (int64_t k = 0; k < x.dim(); ++k)
    ATEBM_CHECK(k == d || index.shape()[k] == x.shape()[k],
                "gather: index shape {} must equal x shape {} except in dim {}", shape_str(index.shape()),
                shape_str(x.shape()), d);
  const Tensor idx = checked_index("gather", index, x.shape()[d], x);
  Tensor out = detail::new_like(x, index.shape());
  if (x.device().is_cuda()) {
    ATEBM_CUDA_CALL("gather", cuda::gather(out, contiguous_raw(x), d, idx));
  } else {
    cpu::gather(out, contiguous_raw(x), d, idx);
  }
  if (any_requires_grad({x})) {
    record("gather", {x}, {out}, [xs = x.shape(), d, idx](const Tensors& g) -> Tensors {
      return {scatter_add(xs, d, idx, g[0])};
    });
  }
  return out;
}

Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  detail::check_floating("scatter_add", src);
  ATEBM_CHECK(!shape.empty(), "scatter_add: expected a target shape with at least 1 dim, got []");
  const int64_t d = wrap_dim(dim, static_cast<int64_t>(shape.size()), "scatter_add");
  ATEBM_CHECK(index.defined() && index.shape() == src.shape(),
              "scatter_add: index shape {} must equal src shape {}", index.defined() ? shape_str(index.shape()) : "undefined",
              shape_str(src.shape()));
  ATEBM_CHECK(src.dim() == static_cast<int64_t>(shape.size()), "scatter_add: src rank {} differs from target {}",
              src.dim(), shape_str(shape));
  for (int64_t k = 0; k < src.dim(); ++k)
    ATEBM_CHECK(k == d || src.shape()[k] == shape[k], "scatter_add: src shape {} must equal target {} except in dim {}",
                shape_str(src.shape()), shape_str(shape), d);
  const Tensor idx = checked_index("scatter_add", index, shape[d], src);
  Tensor out = zeros(shape, {.dtype = src.dtype(), .device = src.device()});
  if (src.device().is_cuda()) {
    ATEBM_CUDA_CALL("scatter_add", cuda::scatter_add(out, d, idx, contiguous_raw(src)));
  } else {
    cpu::scatter_add(out, d, idx, contiguous_raw(src));
  }
  if (any_requires_grad({src})) {
    record("scatter_add", {src}, {out}, [d, idx](const Tensors& g) -> Tensors { return {gather(g[0], d, idx)}; });
  }
  return out;
}

}  // namespace atebm
