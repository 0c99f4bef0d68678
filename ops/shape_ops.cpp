#include "ops/shape_ops.h"

#include <algorithm>
#include <optional>

#include "ops/arith.h"
#include "ops/detail.h"
#include "ops/reduce.h"

namespace atebm {
namespace {

// Strides that let `x` be seen with `shape` without a copy, if any (PyTorch's rule: each run
// of merged source dims must be contiguous among itself).
std::optional<Shape> view_strides(const Tensor& x, const Shape& shape) {
  const Shape& old = x.shape();
  const Shape& olds = x.strides();
  if (numel_of(old) == 0 || old.empty()) return contiguous_strides(shape);
  Shape out(shape.size());
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = olds.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old.size()) - 1; d >= 0; --d) {
    tensor_numel *= old[d];
    const bool chunk_end = d == 0 || (old[d - 1] != 1 && olds[d - 1] != tensor_numel * chunk_base_stride);
    if (chunk_end) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = olds[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const Tensor& x, Shape shape, const char* op) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      ATEBM_CHECK(infer < 0, "{}: only one dim can be -1 in {}", op, shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      ATEBM_CHECK(shape[i] >= 0, "{}: invalid size {} in {}", op, shape[i], shape_str(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    ATEBM_CHECK(known != 0 && x.numel() % known == 0, "{}: cannot infer -1 in {} for {} elements of shape {}", op,
                shape_str(shape), x.numel(), shape_str(x.shape()));
    shape[infer] = x.numel() / known;
  }
  ATEBM_CHECK(numel_of(shape) == x.numel(), "{}: shape {} ({} elements) is invalid for input of shape {} ({} elements)",
              op, shape_str(shape), numel_of(shape), shape_str(x.shape()), x.numel());
  return shape;
}

// A view of x with history: its backward is `back(g)`.
template <typename Back>
Tensor view_with_history(const char* name, const Tensor& x, Shape shape, Shape strides, int64_t offset, Back back) {
  Tensor out = make_view(x, std::move(shape), std::move(strides), offset);
  if (any_requires_grad({x})) record(name, {x}, {out}, [back](const Tensors& g) -> Tensors { return {back(g[0])}; });
  return out;
}

}  // namespace

Tensor view(const Tensor& x, Shape shape) {
  detail::check_defined("view", x);
  shape = infer_shape(x, std::move(shape), "view");
  const auto st = view_strides(x, shape);
  ATEBM_CHECK(st.has_value(), "view: shape {} is not compatible with input shape {} strides {}; use reshape() (copies)",
              shape_str(shape), shape_str(x.shape()), shape_str(x.strides()));
  return view_with_history("view", x, shape, *st, x.offset(), [xs = x.shape()](const Tensor& g) { return reshape(g, xs); });
}

Tensor reshape(const Tensor& x, Shape shape) {
  detail::check_defined("reshape", x);
  shape = infer_shape(x, std::move(shape), "reshape");
  if (shape == x.shape()) return x;
  if (view_strides(x, shape).has_value()) return view(x, shape);
  return view(contiguous(x), shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  detail::check_defined("permute", x);
  ATEBM_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute: {} dims given for a tensor of shape {}",
              dims.size(), shape_str(x.shape()));
  std::vector<int64_t> inv(dims.size(), -1);
  Shape shape(dims.size()), strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], x.dim(), "permute");
    ATEBM_CHECK(inv[d] < 0, "permute: dim {} repeated in {}", d, shape_str(dims));
    inv[d] = static_cast<int64_t>(i);
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  return view_with_history("permute", x, shape, strides, x.offset(), [inv](const Tensor& g) { return permute(g, inv); });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  detail::check_defined("transpose", x);
  std::vector<int64_t> perm(static_cast<size_t>(x.dim()));
  for (int64_t i = 0; i < x.dim(); ++i) perm[i] = i;
  std::swap(perm[wrap_dim(d0, x.dim(), "transpose")], perm[wrap_dim(d1, x.dim(), "transpose")]);
  return permute(x, perm);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  detail::check_defined("slice", x);
  ATEBM_CHECK(x.dim() >= 1, "slice: cannot slice a 0-dim tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "slice");
  ATEBM_CHECK(step >= 1, "slice: step must be >= 1, got {}", step);
  const int64_t n = x.shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  shape[d] = (end - start + step - 1) / step;
  strides[d] = x.strides()[d] * step;
  const int64_t offset = x.offset() + (shape[d] > 0 ? start * x.strides()[d] : 0);
  return view_with_history("slice", x, shape, strides, offset, [xs = x.shape(), d, start, end, step](const Tensor& g) {
    return slice_backward(g, xs, d, start, end, step);
  });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  detail::check_defined("narrow", x);
  const int64_t d = wrap_dim(dim, x.dim(), "narrow");
  const int64_t n = x.shape()[d];
  ATEBM_CHECK(start >= 0 && length >= 0 && start + length <= n,
              "narrow: range [{}, {}) is outside dim {} of size {} (shape {})", start, start + length, dim, n,
              shape_str(x.shape()));
  return slice(x, d, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  detail::check_defined("select", x);
  const int64_t d = wrap_dim(dim, x.dim(), "select");
  const int64_t n = x.shape()[d];
  ATEBM_CHECK(index >= -n && index < n, "select: index {} is out of range for dim {} of size {}", index, dim, n);
  if (index < 0) index += n;
  return squeeze(narrow(x, d, index, 1), d);
}

Tensor slice_backward(const Tensor& g, const Shape& shape, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor out = zeros(shape, {.dtype = g.dtype(), .device = g.device()});
  {
    NoGradGuard no_grad;  // the raw fill below is not part of any graph
    copy_into(slice(out, dim, start, end, step), g);
  }
  if (any_requires_grad({g})) {
    record("slice_backward", {g}, {out},
           [dim, start, end, step](const Tensors& gg) -> Tensors { return {slice(gg[0], dim, start, end, step)}; });
  }
  return out;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  detail::check_defined("expand", x);
  const int64_t lead = static_cast<int64_t>(shape.size()) - x.dim();
  ATEBM_CHECK(lead >= 0, "expand: target {} has fewer dims than input {}", shape_str(shape), shape_str(x.shape()));
  Shape out(shape.size()), strides(shape.size());
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (i < lead) {
      ATEBM_CHECK(shape[i] >= 0, "expand: new leading dim {} must have a size, got {}", i, shape[i]);
      out[i] = shape[i];
      strides[i] = 0;
      continue;
    }
    const int64_t have = x.shape()[i - lead];
    const int64_t want = shape[i] == -1 ? have : shape[i];
    ATEBM_CHECK(want == have || have == 1, "expand: cannot expand shape {} to {} (dim {}: {} vs {})",
                shape_str(x.shape()), shape_str(shape), i, have, want);
    out[i] = want;
    strides[i] = want == have ? x.strides()[i - lead] : 0;
  }
  if (out == x.shape()) return x;
  return view_with_history("expand", x, out, strides, x.offset(), [xs = x.shape()](const Tensor& g) { return sum_to(g, xs); });
}

Tensor squeeze(const Tensor& x) {
  detail::check_defined("squeeze", x);
  Shape shape;
  for (int64_t s : x.shape())
    if (s != 1) shape.push_back(s);
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  detail::check_defined("squeeze", x);
  const int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.shape()[d] != 1) return x;
  Shape shape = x.shape();
  shape.erase(shape.begin() + d);
  return reshape(x, shape);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  detail::check_defined("unsqueeze", x);
  const int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  shape.insert(shape.begin() + d, 1);
  return reshape(x, shape);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  detail::check_defined("flatten", x);
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  ATEBM_CHECK(s <= e, "flatten: start_dim {} is after end_dim {}", start_dim, end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t merged = 1;
  for (int64_t d = s; d <= e; ++d) merged *= x.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor clone(const Tensor& x) {
  detail::check_defined("clone", x);
  Tensor out = copy_to(x, x.device(), x.dtype());
  if (any_requires_grad({x})) record("clone", {x}, {out}, [](const Tensors& g) -> Tensors { return {g[0]}; });
  return out;
}

Tensor contiguous(const Tensor& x) {
  detail::check_defined("contiguous", x);
  return x.is_contiguous() ? x : clone(x);
}

Tensor to(const Tensor& x, DType dtype) {
  detail::check_defined("to", x);
  if (x.dtype() == dtype) return x;
  Tensor out = copy_to(x, x.device(), dtype);
  if (is_floating(dtype) && any_requires_grad({x})) {
    record("to_dtype", {x}, {out}, [from = x.dtype()](const Tensors& g) -> Tensors { return {to(g[0], from)}; });
  }
  return out;
}

Tensor to(const Tensor& x, Device device) {
  detail::check_defined("to", x);
  if (x.device() == device) return x;
  Tensor out = copy_to(x, device, x.dtype());
  if (any_requires_grad({x})) {
    record("to_device", {x}, {out}, [from = x.device()](const Tensors& g) -> Tensors { return {to(g[0], from)}; });
  }
  return out;
}

}  // namespace atebm
