// Tensor printing (engine/print.h) and Graphviz export of autograd graphs (engine/autograd/dot.h).
// Graphs are built by hand with record(), so these tests need nothing from ops/.
#include <gtest/gtest.h>

#include <sstream>

#include "engine/autograd/dot.h"
#include "engine/autograd/node.h"
#include "engine/factories.h"
#include "engine/print.h"

namespace atebm {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + what.size())) ++n;
  return n;
}

// A stand-in op: records a node `name` over `inputs` and returns its (zero-valued) output.
// The backward is never run here; only the graph's shape matters.
Tensor fake_op(const std::string& name, const Tensors& inputs, const Shape& out_shape) {
  Tensor out = zeros(out_shape);
  record(name, inputs, {out}, [](const Tensors&) { return Tensors{}; });
  return out;
}

TEST(Print, Float32Matrix) {
  const Tensor t = from_vector<float>({1.0f, -2.5f, 3.0f, 4.0f}, {2, 2});
  EXPECT_EQ(t.str(),
            "tensor([[ 1.0000, -2.5000],\n"
            "        [ 3.0000,  4.0000]], shape=[2, 2], dtype=float32, device=cpu)");
}

TEST(Print, Float64Scalar) {
  EXPECT_EQ(scalar_tensor(3.14159265, {.dtype = DType::Float64}).str(), "tensor(3.1416, dtype=float64, device=cpu)");
}

TEST(Print, ScientificWhenTinyOrHuge) {
  EXPECT_NE(from_vector({1e-5, 1.0}).str().find("1.0000e-05"), std::string::npos);
  EXPECT_NE(from_vector({2e9, 1.0}).str().find("2.0000e+09"), std::string::npos);
  EXPECT_NE(from_vector({0.0, 1.0}).str().find("0.0000"), std::string::npos);  // zero does not force sci
}

TEST(Print, Int64AndBool) {
  EXPECT_EQ(from_vector<int64_t>({1, -20, 300}, {3}, {.dtype = DType::Int64}).str(),
            "tensor([  1, -20, 300], shape=[3], dtype=int64, device=cpu)");
  EXPECT_EQ(from_vector<bool>({true, false}, {2}, {.dtype = DType::Bool}).str(),
            "tensor([ True, False], shape=[2], dtype=bool, device=cpu)");
}

TEST(Print, TransposedView) {
  const Tensor a = arange(6.0);                           // [0..5] as a 2x3 row-major block
  const Tensor t = make_view(a, {3, 2}, {1, 3}, 0);      // its transpose: [[0, 3], [1, 4], [2, 5]]
  EXPECT_EQ(t.str(),
            "tensor([[0.0000, 3.0000],\n"
            "        [1.0000, 4.0000],\n"
            "        [2.0000, 5.0000]], shape=[3, 2], dtype=float32, device=cpu)");
}

TEST(Print, ThreeDimsSeparatedByBlankLine) {
  const std::string s = zeros({2, 2, 2}, {.dtype = DType::Int64}).str();
  EXPECT_NE(s.find("]],\n\n        [["), std::string::npos) << s;
}

TEST(Print, EmptyAndUndefined) {
  EXPECT_EQ(zeros({0, 3}).str(), "tensor([], shape=[0, 3], dtype=float32, device=cpu)");
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
  EXPECT_EQ(fmt::format("{}", Tensor()), "tensor(undefined)");
}

TEST(Print, LargeTensorIsSummarised) {
  const std::string s = arange(2000.0).str();
  EXPECT_NE(s.find("..."), std::string::npos);
  EXPECT_LT(s.size(), 2000u);
  EXPECT_NE(s.find("1999.0000]"), std::string::npos) << s;
  EXPECT_EQ(s.find("1000.0000"), std::string::npos) << s;  // the middle is left out
}

TEST(Print, SummarisedViewKeepsCorners) {
  // A 50x40 transposed view of 0..1999: only the 3 edge rows/columns of each dim are shown.
  const Tensor a = arange(2000.0, {.dtype = DType::Int64});
  const std::string s = make_view(a, {50, 40}, {1, 50}, 0).str();
  EXPECT_EQ(s.rfind("tensor([[   0,   50,  100,  ..., 1850, 1900, 1950],\n", 0), 0u) << s;
  EXPECT_NE(s.find("        ...,\n"), std::string::npos) << s;
  EXPECT_NE(s.find("[  49,   99,  149,  ..., 1899, 1949, 1999]], shape=[50, 40]"), std::string::npos) << s;
}

TEST(Print, LongRowsWrap) {
  const std::string s = arange(100.0).str();  // not summarised (100 <= 1000) but wider than 80 columns
  EXPECT_GT(count(s, "\n"), 5u);
  for (size_t start = 0, end; start < s.size(); start = end + 1) {
    end = s.find('\n', start);
    if (end == std::string::npos) break;  // the last line also holds the metadata
    EXPECT_LE(end - start, 80u);
  }
}

TEST(Print, AutogradSuffix) {
  Tensor a = ones({2}, {.requires_grad = true});
  EXPECT_EQ(a.str(), "tensor([1.0000, 1.0000], shape=[2], dtype=float32, device=cpu, requires_grad=True)");
  const Tensor y = fake_op("mul", {a, a}, {2});
  EXPECT_NE(y.str().find(", grad_fn=<mul>)"), std::string::npos) << y.str();
  EXPECT_EQ(y.str().find("requires_grad"), std::string::npos);
}

TEST(Print, FormatterAndStream) {
  const Tensor t = from_vector({1.0, 2.0});
  std::ostringstream os;
  os << t;
  EXPECT_EQ(os.str(), t.str());
  EXPECT_EQ(fmt::format("{}", t), t.str());
}

TEST(Dot, LeafAlone) {
  const Tensor a = ones({2, 3}, {.requires_grad = true});
  const std::string d = to_dot(a);
  EXPECT_NE(d.find("digraph"), std::string::npos);
  EXPECT_NE(d.find("output\\n[2, 3]"), std::string::npos) << d;
  EXPECT_EQ(count(d, "->"), 0u);
}

TEST(Dot, MulOfTwoLeaves) {
  const Tensor a = ones({2}, {.requires_grad = true});
  const Tensor b = ones({2}, {.requires_grad = true});
  const Tensor c = ones({2});  // needs no gradient: drawn nowhere
  const Tensor y = fake_op("mul", {a, b, c}, {2});
  const std::string d = to_dot(y);
  EXPECT_NE(d.find("digraph"), std::string::npos);
  EXPECT_NE(d.find("mul\\n[2]"), std::string::npos) << d;
  EXPECT_EQ(count(d, "leaf\\n[2]\\nrequires_grad"), 2u) << d;
  EXPECT_EQ(count(d, "->"), 3u) << d;  // a -> mul, b -> mul, mul -> output
  EXPECT_NE(d.find("n1 -> n0"), std::string::npos) << d;  // forward direction: op -> its output
}

TEST(Dot, NodeReachedTwiceIsDrawnOnce) {
  // a -> neg -> {exp, sin} -> add: neg is reached along two paths.
  const Tensor a = ones({3}, {.requires_grad = true});
  const Tensor y = fake_op("neg", {a}, {3});
  const Tensor z = fake_op("add", {fake_op("exp", {y}, {3}), fake_op("sin", {y}, {3})}, {3});
  const std::string d = to_dot(z);
  EXPECT_EQ(count(d, "label=\"neg"), 1u) << d;
  EXPECT_EQ(count(d, "label=\"leaf"), 1u) << d;
  EXPECT_EQ(count(d, "->"), 6u) << d;  // add->out, exp->add, sin->add, neg->exp, neg->sin, leaf->neg
  EXPECT_NE(d.find("n5 ["), std::string::npos) << d;  // ids n0..n5, one per drawn node
  EXPECT_EQ(d.find("n6"), std::string::npos) << d;

  // The same leaf used twice by one op: one leaf, two edges into the op.
  const std::string sq = to_dot(fake_op("mul", {a, a}, {3}));
  EXPECT_EQ(count(sq, "label=\"leaf"), 1u) << sq;
  EXPECT_EQ(count(sq, "->"), 3u) << sq;
}

TEST(Dot, SeveralRootsShareNodesAndLabelsAreEscaped) {
  const Tensor a = ones({3}, {.requires_grad = true});
  const Tensor y = fake_op("neg", {a}, {3});
  const std::string d = to_dot({{"say \"u\"", fake_op("exp", {y}, {3})}, {"v", fake_op("sin", {y}, {3})}});
  EXPECT_NE(d.find("say \\\"u\\\"\\n[3]"), std::string::npos) << d;
  EXPECT_EQ(count(d, "lightgreen"), 2u) << d;
  EXPECT_EQ(count(d, "label=\"neg"), 1u) << d;
  EXPECT_EQ(count(d, "->"), 5u) << d;  // exp->u, sin->v, neg->exp, neg->sin, leaf->neg
}

}  // namespace
}  // namespace atebm
