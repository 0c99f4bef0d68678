#pragma once
// Tensor: a handle (shared_ptr) to a TensorImpl, i.e. an N-d strided view of a Storage plus
// its autograd metadata. Copying a Tensor copies the handle, never the data.
//
// Layout: element (i0, ..., in) lives at storage.data + (offset + Σ ik·strides[k]) · itemsize.
// Views (reshape, permute, narrow, expand, ...) share the storage and differ only in shape,
// strides and offset; expand gives stride 0. The differentiable view functions live in ops/.
//
// Autograd metadata (PyTorch's model): a leaf created by the user may `requires_grad`; its
// gradient accumulates into `grad()`. A tensor computed by a differentiable op from inputs that
// require grad has `grad_fn`: the graph Node that maps the gradient of this tensor (its
// `output_nr`-th output) to gradients of the node's inputs.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace atebm {

class Node;
class Tensor;

struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = Device::cpu();
  bool requires_grad = false;
  /// CPU tensors only: allocate in page-locked host memory, so uploads to the GPU are DMA copies
  /// that do not block the host (see engine/pinned.h; needs the CUDA backend and a GPU).
  bool pinned = false;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::Float32;

  // autograd
  bool requires_grad = false;             // set on leaves by the user
  std::shared_ptr<TensorImpl> grad;       // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;          // producer node; null for leaves
  uint32_t output_nr = 0;                 // which output of grad_fn this is
  std::weak_ptr<Node> grad_accumulator;   // the AccumulateGrad node of a leaf, if any
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- metadata ----
  const Shape& shape() const { return checked().shape; }
  const Shape& strides() const { return checked().strides; }
  int64_t offset() const { return checked().offset; }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  /// Size of dim d; negative d counts from the end.
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t numel() const { return numel_of(shape()); }
  DType dtype() const { return checked().dtype; }
  size_t itemsize() const { return dtype_size(dtype()); }
  Device device() const { return checked().storage->device(); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return checked().storage; }

  // ---- raw data (no autograd) ----
  /// Pointer to element (0, ..., 0); checks that T matches the dtype.
  template <typename T>
  T* data() const {
    ATEBM_CHECK(dtype_of<T>::value == dtype(), "data<{}>(): tensor has dtype {}",
                dtype_name(dtype_of<T>::value), dtype());
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;
  /// The single value of a one-element tensor, as double (copies from the GPU if needed).
  double item() const;
  /// All values in logical (row-major) order, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- autograd ----
  bool requires_grad() const { return checked().requires_grad || checked().grad_fn != nullptr; }
  /// Marks a leaf as requiring grad. Only floating leaves may; returns *this for chaining.
  Tensor& set_requires_grad(bool r = true);
  bool is_leaf() const { return checked().grad_fn == nullptr; }
  /// The accumulated gradient of a leaf (undefined until a backward reaches it).
  Tensor grad() const { return Tensor(checked().grad); }
  void set_grad(const Tensor& g);
  const std::shared_ptr<Node>& grad_fn() const { return checked().grad_fn; }
  uint32_t output_nr() const { return checked().output_nr; }
  /// Version of the underlying storage; bumped by every in-place write.
  uint64_t version() const { return storage()->version(); }

  /// Human-readable summary + values (NumPy-like abbreviation); see engine/print.h.
  std::string str() const;

 private:
  const TensorImpl& checked() const {
    ATEBM_CHECK(impl_ != nullptr, "operation on an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

using Tensors = std::vector<Tensor>;

/// A new tensor sharing `base`'s storage with the given geometry, without autograd history.
/// Bounds are checked against the storage size. (ops/ wraps it in differentiable views.)
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

/// The same data, shape and strides as `t`, cut from the graph (requires_grad = false).
Tensor detach(const Tensor& t);

}  // namespace atebm
