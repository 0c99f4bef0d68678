#pragma once
// Gradient checking, as a library feature: compare the gradients autograd computes with
// central finite differences, in float64.
//
//   auto f = [](const Tensors& in) -> Tensors { return {sum(mul(in[0], exp(in[1])))}; };
//   GradcheckResult r = gradcheck(f, {x, y});     // x, y: float64 leaves with requires_grad
//   if (!r.ok) fmt::print("{}\n", r.message);
//
// gradcheck builds, for every input that requires grad, the full Jacobian of every output two
// ways: numerically, column by column, with (f(x + eps·e_k) − f(x − eps·e_k)) / 2eps, and
// analytically, row by row, with grad() and a one-hot grad_output. An entry passes when
// |analytic − numeric| <= atol + rtol · |numeric|.
//
// gradgradcheck checks second derivatives the way PyTorch does: it applies gradcheck to the
// function (inputs, v) ↦ grad(f(inputs), inputs, v, create_graph = true), with random v. That
// covers d/dx of the gradient and the mixed terms (what R1 regularisation differentiates).
#include <functional>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"

namespace atebm {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

struct GradcheckInputError {
  double max_abs = 0.0;  // max |analytic − numeric| over this input's Jacobian entries
  double max_rel = 0.0;  // max |analytic − numeric| / max(|analytic|, |numeric|), where either is > 1e-8
};

struct GradcheckResult {
  bool ok = true;
  std::vector<GradcheckInputError> inputs;  // one per input (zeros for inputs without grad)
  double max_abs = 0.0;
  double max_rel = 0.0;
  std::string message;  // the first failing entry, or "ok"
};

using GradcheckFn = std::function<Tensors(const Tensors&)>;

/// inputs: float64 tensors; those with requires_grad are checked. Non-contiguous inputs are
/// fine (perturbed in place through their strides) but must not overlap themselves (no
/// expanded, stride-0 inputs). Outputs must be float64.
GradcheckResult gradcheck(const GradcheckFn& f, const Tensors& inputs, GradcheckOptions opt = {});

/// Second-order check; grad_outputs are drawn from `gen` (standard normal), or from a fixed
/// seed when gen is null, so results are reproducible.
GradcheckResult gradgradcheck(const GradcheckFn& f, const Tensors& inputs, GradcheckOptions opt = {},
                              Generator* gen = nullptr);

}  // namespace atebm
