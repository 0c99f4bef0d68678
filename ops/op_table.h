#pragma once
// The table of every differentiable op with sample inputs (PyTorch's OpInfo idea, kept small).
// One table drives three consumers, so an op added here is checked everywhere at once:
//   - tests/ops/test_gradcheck_table.cpp: gradcheck + gradgradcheck of every case, float64, CPU;
//   - `atebm gradcheck`: the same checks as a printed table;
//   - the CUDA parity tests: each case's inputs built on both devices, outputs compared.
// So a case never hard-codes a device: make_inputs builds its inputs with the given options
// (dtype + device) and draws every random value from the given Generator.
//
//   for (const OpCase& c : op_table()) {
//     Generator gen(c.seed);
//     Tensors in = c.make_inputs(gen, {.dtype = DType::Float64});
//     Tensors out = c.fn(in);
//   }
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd/gradcheck.h"
#include "engine/generator.h"
#include "engine/tensor.h"

namespace atebm {

struct OpCase {
  std::string op;      // the engine's op name ("add", "leaky_relu", ...); several cases may share one
  std::string shapes;  // what the case feeds the op, e.g. "[2,3] + [3]" or "[3,4]^T dim 1"
  std::function<Tensors(const Tensors&)> fn;                         // inputs → outputs
  std::function<Tensors(Generator&, TensorOptions)> make_inputs;    // leaves (grad) + constants
  bool second_order = true;        // also run gradgradcheck
  GradcheckOptions tolerance = {};  // eps / atol / rtol for this case
  uint64_t seed = 0;               // Generator seed for make_inputs; op_table() sets 1000 + index
};

/// Every case, built once.
const std::vector<OpCase>& op_table();

/// "017_leaky_relu": index + op, only [A-Za-z0-9_] (usable as a GoogleTest name).
std::string op_case_id(size_t index, const OpCase& c);

/// The outcome of checking one case on the CPU in float64.
struct OpCaseCheck {
  GradcheckResult first;
  GradcheckResult second;  // ok with zero errors when not run
  bool second_run = false;
  bool ok() const { return first.ok && second.ok; }
};

/// Builds the case's inputs (float64, CPU, Generator(c.seed)) and runs gradcheck, then, when
/// `second_order` and the case allows it, gradgradcheck.
OpCaseCheck check_op_case(const OpCase& c, bool second_order = true);

}  // namespace atebm
