#pragma once
// Tensor factories. Every factory returns a contiguous tensor with no autograd history; pass
// `.requires_grad = true` in the options to get a leaf that collects gradients.
//   zeros({2, 3}, {.dtype = DType::Float64})
//   randn({8, 3, 28, 28}, {}, &gen)         // from a given generator (default: the global one)
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"

namespace atebm {

Tensor empty(const Shape& shape, TensorOptions opt = {});
Tensor zeros(const Shape& shape, TensorOptions opt = {});
Tensor ones(const Shape& shape, TensorOptions opt = {});
Tensor full(const Shape& shape, double value, TensorOptions opt = {});
/// [start, end) in steps of `step` (like numpy.arange).
Tensor arange(double start, double end, double step = 1.0, TensorOptions opt = {});
Tensor arange(double end, TensorOptions opt = {});
/// Uniform on [0, 1) / standard normal, from the Philox stream of `gen`.
Tensor rand(const Shape& shape, TensorOptions opt = {}, Generator* gen = nullptr);
Tensor randn(const Shape& shape, TensorOptions opt = {}, Generator* gen = nullptr);
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions opt = {}, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, TensorOptions opt = {}, Generator* gen = nullptr);
/// A random permutation of 0..n-1 (int64), Fisher–Yates driven by the Philox stream.
Tensor randperm(int64_t n, Generator* gen = nullptr);

Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);

/// A tensor holding `data` (row-major) with the given shape; data.size() must equal numel.
/// The element type T is converted to opt.dtype.
template <typename T>
Tensor from_vector(const std::vector<T>& data, const Shape& shape, TensorOptions opt = {});
/// 1-D convenience: from_vector({1.0, 2.0}) has shape [2].
Tensor from_vector(const std::vector<double>& data, TensorOptions opt = {});
/// A 0-dim tensor holding `value`.
Tensor scalar_tensor(double value, TensorOptions opt = {});

/// A contiguous copy of `t` on `device` with dtype `dtype` (no autograd; see ops/ for the
/// differentiable to()).
Tensor copy_to(const Tensor& t, Device device, DType dtype);
/// `t` itself when it is contiguous, else a contiguous copy on its device in its dtype: the dense
/// operand a raw kernel needs (no autograd).
Tensor contiguous_raw(const Tensor& t);

/// Element-wise copy src → dst (same shape, any strides/dtypes/devices). Bumps dst's version.
void copy_into(const Tensor& dst, const Tensor& src);
/// Fills dst with a value. Bumps dst's version.
void fill_into(const Tensor& dst, double value);

}  // namespace atebm
