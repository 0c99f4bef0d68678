#pragma once
// Helpers shared by the op test files: float64 leaves, first + second order checks, error
// message checks, value comparisons.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/autograd/gradcheck.h"
#include "ops/ops.h"
#include "tests/common/expect.h"

namespace atebm::test {

inline Tensor leaf(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {.dtype = DType::Float64}, &gen).set_requires_grad(true);
}

// Distinct values (a permutation of 0.1·k), so no max window has ties even after a ±eps nudge.
inline Tensor distinct_leaf(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor p = copy_to(randperm(numel_of(shape), &gen), Device::cpu(), DType::Float64);
  Tensor x = mul(reshape(p, shape), 0.1);
  return detach(x).set_requires_grad(true);
}

inline Tensor t64(const std::vector<double>& v, const Shape& shape) {
  return from_vector<double>(v, shape, {.dtype = DType::Float64});
}

inline void expect_first_and_second_order(const GradcheckFn& f, const Tensors& in, const std::string& what) {
  const GradcheckResult r1 = gradcheck(f, in);
  EXPECT_TRUE(r1.ok) << what << " gradcheck: " << r1.message;
  const GradcheckResult r2 = gradgradcheck(f, in);
  EXPECT_TRUE(r2.ok) << what << " gradgradcheck: " << r2.message;
}


inline void expect_near(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  const std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

}  // namespace atebm::test
