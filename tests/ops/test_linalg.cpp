// matmul / linear: values against naive loops (every operand layout GEMM can read in place,
// and layouts it must copy), first and second derivatives in float64, error messages, and the
// GEMM thread-ownership rule.
#include <gtest/gtest.h>

#include "tests/common/expect.h"

#include "engine/autograd/gradcheck.h"
#include "engine/parallel.h"
#include "ops/cpu/gemm_cpu.h"
#include "ops/ops.h"

using namespace atebm;

namespace {

TensorOptions f64(bool grad = false) { return {.dtype = DType::Float64, .requires_grad = grad}; }

// A float64 leaf of `shape` whose storage is laid out transposed in the last two dims: GEMM
// must read it with the transpose flag.
Tensor transposed_leaf(Shape shape, Generator& gen) {
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  Tensor base = randn(shape, f64(), &gen);
  return detach(transpose(base, -1, -2)).set_requires_grad(true);
}

// out[b, i, j] = Σ_k a[b, i, k] · b[b, k, j], on logical values (any strides).
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  const bool batched = a.dim() == 3;
  const int64_t B = batched ? a.size(0) : 1, m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> out(static_cast<size_t>(B * m * n), 0.0);
  for (int64_t s = 0; s < B; ++s)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0.0;
        for (int64_t q = 0; q < k; ++q) acc += va[(s * m + i) * k + q] * vb[(s * k + q) * n + j];
        out[(s * m + i) * n + j] = acc;
      }
  return out;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

using atebm::test::expect_error;

}  // namespace

TEST(Matmul, KnownValues) {
  // [1 2 3; 4 5 6] · [1 0; 0 1; 1 1] = [4 5; 10 11]
  Tensor a = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<double>({1, 0, 0, 1, 1, 1}, {3, 2});
  EXPECT_EQ(matmul(a, b).to_vector<double>(), (std::vector<double>{4, 5, 10, 11}));
  Tensor af = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}, {.dtype = DType::Float32});
  Tensor bf = from_vector<float>({1, 0, 0, 1, 1, 1}, {3, 2}, {.dtype = DType::Float32});
  EXPECT_EQ(matmul(af, bf).to_vector<float>(), (std::vector<float>{4, 5, 10, 11}));
}

TEST(Matmul, EveryOperandLayoutMatchesNaive) {
  Generator gen(7);
  for (DType dt : {DType::Float32, DType::Float64}) {
    const double tol = dt == DType::Float32 ? 1e-4 : 1e-12;
    Tensor a = randn({5, 7}, {.dtype = dt}, &gen), b = randn({7, 3}, {.dtype = dt}, &gen);
    Tensor at = transpose(randn({7, 5}, {.dtype = dt}, &gen), 0, 1);  // column-major: read with the flag
    Tensor bt = transpose(randn({3, 7}, {.dtype = dt}, &gen), 0, 1);
    Tensor as = slice(randn({5, 14}, {.dtype = dt}, &gen), 1, 0, 14, 2);  // neither layout: copied
    Tensor be = expand(randn({1, 3}, {.dtype = dt}, &gen), {7, 3});       // stride 0: copied
    Tensor ar = narrow(randn({5, 9}, {.dtype = dt}, &gen), 1, 1, 7);      // row stride 9 > 7: in place
    for (const Tensor& x : {a, at, as, ar})
      for (const Tensor& y : {b, bt, be}) expect_near_all(matmul(x, y).to_vector<double>(), naive_matmul(x, y), tol);
    // Batched, with a transposed batch member and a non-contiguous batch stride.
    Tensor ba = randn({3, 4, 6}, {.dtype = dt}, &gen);
    Tensor bb = transpose(randn({3, 5, 6}, {.dtype = dt}, &gen), 1, 2);
    Tensor bs = slice(randn({6, 6, 5}, {.dtype = dt}, &gen), 0, 0, 6, 2);
    expect_near_all(matmul(ba, bb).to_vector<double>(), naive_matmul(ba, bb), tol);
    expect_near_all(matmul(ba, bs).to_vector<double>(), naive_matmul(ba, bs), tol);
  }
}

TEST(Matmul, DegenerateSizes) {
  // k = 0 gives zeros; m = 0 gives an empty result; vectors as 1-row / 1-column matrices.
  EXPECT_EQ(matmul(zeros({2, 0}), zeros({0, 3})).to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(matmul(zeros({0, 4}), zeros({4, 3})).shape(), (Shape{0, 3}));
  Tensor row = from_vector<double>({1, 2}, {1, 2}), col = from_vector<double>({3, 4}, {2, 1});
  EXPECT_EQ(matmul(row, col).to_vector<double>(), (std::vector<double>{11}));
  EXPECT_EQ(matmul(col, row).to_vector<double>(), (std::vector<double>{3, 6, 4, 8}));
}

TEST(Matmul, GradcheckAndGradgradcheck) {
  Generator gen(11);
  auto f = [](const Tensors& in) -> Tensors { return {matmul(in[0], in[1])}; };
  const std::vector<Tensors> cases = {
      {randn({3, 4}, f64(true), &gen), randn({4, 2}, f64(true), &gen)},
      {transposed_leaf({3, 4}, gen), transposed_leaf({4, 2}, gen)},
      {randn({2, 3, 4}, f64(true), &gen), transposed_leaf({2, 4, 3}, gen)},
      {randn({3, 4}, f64(true), &gen), randn({4, 2}, f64(false), &gen)},  // one constant operand
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    GradcheckResult r1 = gradcheck(f, cases[i]);
    EXPECT_TRUE(r1.ok) << "case " << i << ": " << r1.message;
    GradcheckResult r2 = gradgradcheck(f, cases[i]);
    EXPECT_TRUE(r2.ok) << "case " << i << ": " << r2.message;
  }
}

TEST(Linear, MatchesMatmulPlusBiasAndChecksGradients) {
  Generator gen(3);
  Tensor x = randn({4, 3}, f64(true), &gen), w = randn({5, 3}, f64(true), &gen), b = randn({5}, f64(true), &gen);
  Tensor ref = add(matmul(x, contiguous(transpose(w, 0, 1))), b);
  expect_near_all(linear(x, w, b).to_vector<double>(), ref.to_vector<double>(), 1e-12);
  auto with_bias = [](const Tensors& in) -> Tensors { return {linear(in[0], in[1], in[2])}; };
  auto without = [](const Tensors& in) -> Tensors { return {linear(in[0], in[1])}; };
  for (const auto& [f, in] : std::vector<std::pair<GradcheckFn, Tensors>>{{with_bias, {x, w, b}}, {without, {x, w}}}) {
    GradcheckResult r1 = gradcheck(f, in);
    EXPECT_TRUE(r1.ok) << r1.message;
    GradcheckResult r2 = gradgradcheck(f, in);
    EXPECT_TRUE(r2.ok) << r2.message;
  }
  // Leading dims are flattened: [2, 4, 3] → [2, 4, 5].
  Tensor x3 = randn({2, 4, 3}, f64(), &gen);
  Tensor y3 = linear(x3, w, b);
  EXPECT_EQ(y3.shape(), (Shape{2, 4, 5}));
  expect_near_all(y3.to_vector<double>(), linear(reshape(x3, {8, 3}), w, b).to_vector<double>(), 1e-12);
}

TEST(Matmul, BadInputsNameOpAndShapes) {
  expect_error([] { matmul(zeros({2, 3}), zeros({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]", "3 vs 4"});
  expect_error([] { matmul(zeros({2, 3}), zeros({1, 3, 5})); }, {"matmul", "[2, 3]", "[1, 3, 5]"});
  expect_error([] { matmul(zeros({3}), zeros({3})); }, {"matmul", "[3]"});
  expect_error([] { matmul(zeros({2, 2, 3}), zeros({3, 3, 5})); }, {"matmul", "[2, 2, 3]", "[3, 3, 5]", "batch"});
  expect_error([] { matmul(zeros({2, 3}), zeros({3, 2}, f64())); }, {"matmul", "dtype", "[2, 3]", "[3, 2]"});
  expect_error(
      [] {
        matmul(zeros({2, 3}, {.dtype = DType::Int64}), zeros({3, 2}, {.dtype = DType::Int64}));
      },
      {"matmul", "float"});
  expect_error([] { linear(zeros({2, 3}), zeros({4, 5})); }, {"linear", "[2, 3]", "[4, 5]"});
  expect_error([] { linear(zeros({2, 3}), zeros({4, 3}), zeros({5})); }, {"linear", "bias", "[5]", "[4, 3]"});
}

TEST(Gemm, ThreadOwnership) {
  // Default (OpenMP policy): OpenBLAS stays single-threaded and large GEMMs are split over
  // parallel_for; results equal the unsplit product bit for bit. OpenBLAS policy: GEMM follows
  // set_num_threads() outside regions, and runs single-threaded inside a parallel_for under a
  // SingleThreadedBlas guard.
  const int saved = num_threads();
  const cpu::GemmThreading saved_policy = cpu::gemm_threading();
  set_num_threads(2);
  Tensor a = randn({96, 200}), b = randn({200, 130});
  cpu::set_gemm_threading(cpu::GemmThreading::OpenMP);
  const std::vector<float> split = matmul(a, b).to_vector<float>();
  EXPECT_EQ(cpu::blas_threads(), 1);
  set_num_threads(1);
  EXPECT_EQ(matmul(a, b).to_vector<float>(), split);
  set_num_threads(2);

  cpu::set_gemm_threading(cpu::GemmThreading::OpenBLAS);
  EXPECT_EQ(matmul(a, b).to_vector<float>(), split);
  EXPECT_EQ(cpu::blas_threads(), 2);
  Tensor o = ones({64, 64});
  std::vector<float> c(4 * 8 * 8, -1.0f);
  {
    cpu::SingleThreadedBlas guard;
    EXPECT_EQ(cpu::blas_threads(), 1);
    const float* po = o.data<float>();
    parallel_for(0, 4, 1, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s)
        cpu::gemm(false, true, 8, 8, 64, 1.0f, po, 64, po, 64, 0.0f, c.data() + s * 64, 8);
    });
  }
  for (float v : c) EXPECT_FLOAT_EQ(v, 64.0f);
  matmul(o, o);
  EXPECT_EQ(cpu::blas_threads(), 2);  // the guard's end lets the next call restore the count
  set_num_threads(1);
  matmul(o, o);
  EXPECT_EQ(cpu::blas_threads(), 1);
  set_num_threads(saved);
  cpu::set_gemm_threading(saved_policy);
}
