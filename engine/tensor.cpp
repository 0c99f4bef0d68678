#include "engine/tensor.h"

#include "engine/factories.h"

namespace atebm {

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape().size(); i-- > 0;) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(storage()->data()) + offset() * static_cast<int64_t>(itemsize());
}

double Tensor::item() const {
  ATEBM_CHECK(numel() == 1, "item(): expected a tensor with one element, got shape {}", shape_str(shape()));
  const Tensor c = copy_to(*this, Device::cpu(), DType::Float64);
  return *c.data<double>();
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  const Tensor c = copy_to(*this, Device::cpu(), dtype_of<T>::value);
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

template <>
std::vector<bool> Tensor::to_vector<bool>() const {
  const Tensor c = copy_to(*this, Device::cpu(), DType::Bool);
  const bool* p = c.data<bool>();
  return std::vector<bool>(p, p + c.numel());
}

Tensor& Tensor::set_requires_grad(bool r) {
  ATEBM_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can be marked; this tensor is the output of an "
                         "op (use detach() to make a new leaf)");
  ATEBM_CHECK(!r || is_floating(dtype()), "set_requires_grad: only float tensors can require grad, got {}",
              dtype());
  impl_->requires_grad = r;
  return *this;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined()) {
    ATEBM_CHECK(g.shape() == shape() && g.dtype() == dtype() && g.device() == device(),
                "set_grad: gradient {} {} {} does not match tensor {} {} {}", shape_str(g.shape()),
                g.dtype(), g.device(), shape_str(shape()), dtype(), device());
  }
  checked();
  impl_->grad = g.impl_ptr();
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  ATEBM_CHECK(shape.size() == strides.size(), "view: {} sizes but {} strides", shape.size(), strides.size());
  // Bounds: the lowest and highest element addressed must lie inside the storage.
  int64_t lo = offset, hi = offset;
  bool empty = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    ATEBM_CHECK(shape[i] >= 0, "view: negative size {} in shape {}", shape[i], shape_str(shape));
    if (shape[i] == 0) empty = true;
    const int64_t span = (shape[i] - 1) * strides[i];
    (span < 0 ? lo : hi) += span;
  }
  const int64_t capacity = static_cast<int64_t>(base.storage()->nbytes() / base.itemsize());
  ATEBM_CHECK(empty || (lo >= 0 && hi < capacity),
              "view: shape {} strides {} offset {} reaches elements [{}, {}] outside a storage of {} elements",
              shape_str(shape), shape_str(strides), offset, lo, hi, capacity);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

Tensor detach(const Tensor& t) { return make_view(t, t.shape(), t.strides(), t.offset()); }

}  // namespace atebm
