// `atebm graph`: draws the autograd graph of a tiny R1 computation, the double backward the
// method depends on. f(x) = Σ leaky_relu(x·w, 0.2); g = ∂f/∂x with create_graph, so g has its
// own graph; R1 = 0.5 · mean_i Σ_j g_ij². Differentiating R1 walks back through g's graph.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "engine/autograd/dot.h"
#include "ops/ops.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

std::string r1_example_dot() {
  Generator gen(0);
  const Tensor x = randn({2, 3}, {.dtype = DType::Float64, .requires_grad = true}, &gen);
  const Tensor w = randn({3}, {.dtype = DType::Float64, .requires_grad = true}, &gen);
  const Tensor f = sum(leaky_relu(mul(x, w), 0.2));
  const Tensor g = grad({f}, {x}, {}, {.create_graph = true})[0];
  const Tensor r1 = mul(mean(sum(square(g), {1})), 0.5);
  return to_dot({{"f", f}, {"df/dx", g}, {"R1", r1}});
}

int run_graph(const std::string& out) {
  const std::string dot = r1_example_dot();
  if (out.empty()) {
    fmt::print("{}", dot);
    return 0;
  }
  std::ofstream file(out);
  ATEBM_CHECK(file.good(), "graph: cannot open {} for writing", out);
  file << dot;
  file.close();
  ATEBM_CHECK(file.good(), "graph: writing {} failed", out);
  fmt::print("wrote the autograd graph of f, df/dx and R1 to {}\nrender it with: dot -Tpng {} -o graph.png\n", out,
             out);
  return 0;
}

}  // namespace

Command add_graph_command(CLI::App& parent) {
  auto out = std::make_shared<std::string>();
  CLI::App* sub = parent.add_subcommand("graph", "Write the DOT graph of a small double-backward (R1) example");
  sub->add_option("--out", *out, "Output file (default: print the DOT to stdout)");
  return {sub, [out] { return run_graph(*out); }};
}

}  // namespace atebm::cli
