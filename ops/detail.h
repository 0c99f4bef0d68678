#pragma once
// Shared plumbing of the differentiable ops (tier 2): argument checks with clear messages,
// output allocation and device dispatch of the raw kernels. Not part of the public API.
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/factories.h"
#include "ops/cpu/elementwise_cpu.h"

namespace atebm::detail {

void check_defined(const char* op, const Tensor& t, const char* what = "input");
/// Float dtype required (ops with gradients).
void check_floating(const char* op, const Tensor& t);
/// Same dtype and device, or an error naming both.
void check_same(const char* op, const Tensor& a, const Tensor& b);
/// CUDA kernels of ops/ arrive with the CUDA backend issue; until then, say so clearly.
[[noreturn]] void no_cuda_kernel(const char* op);

/// A new contiguous tensor like `like` (dtype, device) with the given shape.
inline Tensor new_like(const Tensor& like, const Shape& shape) {
  return empty(shape, {.dtype = like.dtype(), .device = like.device()});
}

/// Runs a raw unary kernel (no history).
Tensor unary_raw(cpu::UnaryOp op, const Tensor& x, double a = 0.0, double b = 0.0);
/// Runs a raw binary kernel with broadcasting (no history).
Tensor binary_raw(cpu::BinaryOp op, const char* name, const Tensor& a, const Tensor& b);

/// For backward formulas that want the forward output y = f(x): with create_graph (grad mode
/// on) y must carry its graph, so it is recomputed from x; otherwise the saved, detached output
/// is used as is. Saving y with its own grad_fn would make a reference cycle.
template <typename Recompute>
Tensor output_for_backward(const SavedTensor& saved_y, Recompute&& recompute) {
  return GradMode::is_enabled() ? recompute() : saved_y.unpack();
}

}  // namespace atebm::detail
