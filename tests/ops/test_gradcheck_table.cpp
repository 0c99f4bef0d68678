// Every case of the op table (ops/op_table.h) passes gradcheck and gradgradcheck in float64 on
// the CPU, and the table covers every differentiable op of the engine.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "ops/op_table.h"

using namespace atebm;

namespace {

class OpTableGradcheck : public ::testing::TestWithParam<size_t> {};

TEST_P(OpTableGradcheck, FirstAndSecondOrder) {
  const OpCase& c = op_table().at(GetParam());
  SCOPED_TRACE(c.op + " " + c.shapes);
  const OpCaseCheck r = check_op_case(c);
  EXPECT_TRUE(r.first.ok) << "gradcheck: " << r.first.message;
  if (r.second_run) {
    EXPECT_TRUE(r.second.ok) << "gradgradcheck: " << r.second.message;
  }
}

std::vector<size_t> all_case_indices() {
  std::vector<size_t> idx(op_table().size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  return idx;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTableGradcheck, ::testing::ValuesIn(all_case_indices()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return op_case_id(info.param, op_table().at(info.param));
                         });

// Removing an op from the table (or renaming it) must fail here, not silently shrink coverage.
TEST(OpTable, CoversEveryRequiredOp) {
  const std::vector<std::string> required = {
      "add", "sub", "rsub", "mul", "div", "rdiv", "neg", "pow", "square", "reciprocal",
      "exp", "log", "log1p", "sqrt", "rsqrt", "abs", "clamp", "relu", "leaky_relu", "sigmoid",
      "softplus", "tanh", "silu", "where", "masked_select", "sum", "mean", "max", "min",
      "l2_norm_per_sample", "sum_to", "cat", "stack", "index_select", "index_add", "gather",
      "scatter_add", "reshape", "view", "permute", "transpose", "slice", "slice_backward", "narrow",
      "select", "expand", "squeeze", "unsqueeze", "flatten", "contiguous", "clone", "to"};
  std::set<std::string> present;
  for (const OpCase& c : op_table()) present.insert(c.op);
  for (const std::string& op : required) EXPECT_TRUE(present.count(op)) << "no op-table case for " << op;
}

TEST(OpTable, CasesAreWellFormed) {
  std::set<std::string> ids;
  for (size_t i = 0; i < op_table().size(); ++i) {
    const OpCase& c = op_table()[i];
    EXPECT_FALSE(c.shapes.empty()) << c.op;
    EXPECT_TRUE(c.fn && c.make_inputs) << c.op;
    EXPECT_TRUE(ids.insert(op_case_id(i, c)).second);
    // A case without an input or an output that carries grad would pass while checking nothing.
    Generator gen(c.seed);
    const Tensors in = c.make_inputs(gen, {.dtype = DType::Float64});
    EXPECT_TRUE(std::any_of(in.begin(), in.end(), [](const Tensor& t) { return t.requires_grad(); })) << c.op;
    const Tensors out = c.fn(in);
    EXPECT_TRUE(std::any_of(out.begin(), out.end(), [](const Tensor& t) { return t.requires_grad(); })) << c.op;
  }
  EXPECT_GE(op_table().size(), 80u);
}

TEST(OpTable, InputsAreReproducible) {
  // Same seed, same inputs: what lets the CUDA parity tests rebuild a case on each device.
  for (const OpCase& c : op_table()) {
    Generator g1(c.seed), g2(c.seed);
    const Tensors a = c.make_inputs(g1, {.dtype = DType::Float64});
    const Tensors b = c.make_inputs(g2, {.dtype = DType::Float64});
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].dtype() == DType::Int64) EXPECT_EQ(a[i].to_vector<int64_t>(), b[i].to_vector<int64_t>()) << c.op;
      else EXPECT_EQ(a[i].to_vector<double>(), b[i].to_vector<double>()) << c.op;
    }
  }
}

}  // namespace
