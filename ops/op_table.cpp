#include "ops/op_table.h"

#include <cctype>
#include <cmath>

#include "engine/factories.h"
#include "ops/ops.h"

namespace atebm {
namespace {

using Make = std::function<Tensors(Generator&, TensorOptions)>;

// ---- input builders ----------------------------------------------------------------------------
// Every random value comes from `g`, every tensor lands on o.device: the same case builds the
// same values on any device.

TensorOptions leaf_opts(TensorOptions o) {
  o.requires_grad = true;
  return o;
}

TensorOptions const_opts(TensorOptions o) {
  o.requires_grad = false;
  return o;
}

// A CPU vector of values → a leaf (or constant) on o.device.
Tensor from_values(const std::vector<double>& v, const Shape& s, TensorOptions o, bool grad = true) {
  Tensor t = from_vector<double>(v, s, const_opts(o));
  if (grad) t.set_requires_grad(true);
  return t;
}

Tensor normal_leaf(Generator& g, TensorOptions o, const Shape& s) { return randn(s, leaf_opts(o), &g); }

// Uniform on [lo, hi): for ops defined only there (log, sqrt, pow with a fractional exponent).
Tensor uniform_leaf(Generator& g, TensorOptions o, const Shape& s, double lo, double hi) {
  return uniform(s, lo, hi, leaf_opts(o), &g);
}

// Values with |x| in [0.5, 1.5] and a random sign: denominators of div/reciprocal, where a
// value near 0 would make the second derivative huge and finite differences meaningless.
Tensor signed_leaf(Generator& g, TensorOptions o, const Shape& s) {
  std::vector<double> mag = uniform(s, 0.5, 1.5, {.dtype = DType::Float64}, &g).to_vector<double>();
  const std::vector<double> coin = rand(s, {.dtype = DType::Float64}, &g).to_vector<double>();
  for (size_t i = 0; i < mag.size(); ++i) mag[i] = coin[i] < 0.5 ? -mag[i] : mag[i];
  return from_values(mag, s, o);
}

// Uniform on [-1.5, 1.5] but at least 0.05 away from every kink: central differences with
// eps = 1e-6 are exact on each linear piece and wrong across a kink, where the derivative is
// not defined anyway (relu/abs/leaky_relu at 0, clamp at its bounds).
Tensor kink_free_leaf(Generator& g, TensorOptions o, const Shape& s, const std::vector<double>& kinks) {
  std::vector<double> v = uniform(s, -1.5, 1.5, {.dtype = DType::Float64}, &g).to_vector<double>();
  for (double& x : v)
    for (double k : kinks)
      if (std::abs(x - k) < 0.05) x = x < k ? k - 0.1 : k + 0.1;
  return from_values(v, s, o);
}

// Distinct values (a random permutation of 0..n-1, scaled): max/min have no ties, so their
// derivative is defined and a perturbation of eps cannot change the arg-extreme.
Tensor distinct_leaf(Generator& g, TensorOptions o, const Shape& s) {
  std::vector<double> v = randperm(numel_of(s), &g).to_vector<double>();
  for (double& x : v) x = 0.3 * x - 1.0;
  return from_values(v, s, o);
}

// A non-contiguous leaf of shape s: the last two dims of a contiguous buffer swapped with
// make_view (gradcheck perturbs it through its strides).
Tensor strided_leaf(Generator& g, TensorOptions o, Shape s) {
  const size_t n = s.size();
  Shape base_shape = s;
  std::swap(base_shape[n - 1], base_shape[n - 2]);
  const Tensor base = randn(base_shape, const_opts(o), &g);
  Shape strides = base.strides();
  std::swap(strides[n - 1], strides[n - 2]);
  Tensor t = make_view(base, s, strides, 0);
  t.set_requires_grad(true);
  return t;
}

Tensor index_tensor(TensorOptions o, const std::vector<int64_t>& v, const Shape& s) {
  return from_vector<int64_t>(v, s, {.dtype = DType::Int64, .device = o.device});
}

// A bool mask with both values present (drawn on the CPU, then moved).
Tensor bool_mask(Generator& g, TensorOptions o, const Shape& s) {
  std::vector<double> u = rand(s, {.dtype = DType::Float64}, &g).to_vector<double>();
  u[0] = 1.0;
  if (u.size() > 1) u[1] = 0.0;
  const Tensor m = from_vector<double>(u, s, {.dtype = DType::Float64});
  return copy_to(gt(m, 0.5), o.device, DType::Bool);
}

// The same mask as 0/1 values of the data's dtype.
Tensor float_mask(Generator& g, TensorOptions o, const Shape& s) {
  return copy_to(bool_mask(g, o, s), o.device, o.dtype);
}

// ---- makers: Generator + options → the case's inputs -------------------------------------------

Make normal(std::vector<Shape> shapes) {
  return [shapes](Generator& g, TensorOptions o) {
    Tensors t;
    for (const Shape& s : shapes) t.push_back(normal_leaf(g, o, s));
    return t;
  };
}
Make uniform_in(Shape s, double lo, double hi) {
  return [s, lo, hi](Generator& g, TensorOptions o) { return Tensors{uniform_leaf(g, o, s, lo, hi)}; };
}
Make signed_of(Shape s) {
  return [s](Generator& g, TensorOptions o) { return Tensors{signed_leaf(g, o, s)}; };
}
// a ~ normal, b bounded away from 0 (for div).
Make normal_over_signed(Shape a, Shape b) {
  return [a, b](Generator& g, TensorOptions o) { return Tensors{normal_leaf(g, o, a), signed_leaf(g, o, b)}; };
}
Make kink_free(Shape s, std::vector<double> kinks) {
  return [s, kinks](Generator& g, TensorOptions o) { return Tensors{kink_free_leaf(g, o, s, kinks)}; };
}
Make distinct(Shape s) {
  return [s](Generator& g, TensorOptions o) { return Tensors{distinct_leaf(g, o, s)}; };
}
Make strided(Shape s) {
  return [s](Generator& g, TensorOptions o) { return Tensors{strided_leaf(g, o, s)}; };
}
// Fixed values (extremes such as +-30 for sigmoid) followed by a few random ones.
Make fixed_plus_normal(std::vector<double> fixed, int64_t n_random) {
  return [fixed, n_random](Generator& g, TensorOptions o) {
    std::vector<double> v = fixed;
    const std::vector<double> r = randn({n_random}, {.dtype = DType::Float64}, &g).to_vector<double>();
    v.insert(v.end(), r.begin(), r.end());
    return Tensors{from_values(v, {static_cast<int64_t>(v.size())}, o)};
  };
}
// x ~ normal leaf, then a constant int64 index.
Make with_index(Shape x, std::vector<int64_t> idx, Shape idx_shape) {
  return [x, idx, idx_shape](Generator& g, TensorOptions o) {
    return Tensors{normal_leaf(g, o, x), index_tensor(o, idx, idx_shape)};
  };
}
// mask (bool or 0/1 float) without grad, then normal leaves.
Make mask_and(bool float_valued, Shape m, std::vector<Shape> shapes) {
  return [float_valued, m, shapes](Generator& g, TensorOptions o) {
    Tensors t{float_valued ? float_mask(g, o, m) : bool_mask(g, o, m)};
    for (const Shape& s : shapes) t.push_back(normal_leaf(g, o, s));
    return t;
  };
}
// A normal leaf and a normal tensor without grad (an operand that is a constant of the graph).
Make normal_and_const(Shape a, Shape b) {
  return [a, b](Generator& g, TensorOptions o) { return Tensors{normal_leaf(g, o, a), randn(b, const_opts(o), &g)}; };
}

// fn bodies: `x` is the input list; FN(expr, ...) returns {expr, ...}.
#define FN(...) [](const Tensors& x) -> Tensors { return {__VA_ARGS__}; }

// A float32 round trip is piecewise constant at the 1e-7 scale, so its finite differences need
// a step far larger than float32 rounding: eps = 1e-2 leaves an error of ~1e-5.
constexpr GradcheckOptions kFloat32RoundTrip{.eps = 1e-2, .atol = 1e-4, .rtol = 1e-3};

std::vector<OpCase> build_table() {
  std::vector<OpCase> t = {
      // ---- arithmetic: equal shapes, broadcasting both ways, 0-dim operands, scalars ----
      {"add", "[2,3] + [2,3]", FN(add(x[0], x[1])), normal({{2, 3}, {2, 3}})},
      {"add", "[2,3] + [3]", FN(add(x[0], x[1])), normal({{2, 3}, {3}})},
      {"add", "[3] + [2,3]", FN(add(x[0], x[1])), normal({{3}, {2, 3}})},
      {"add", "[2,1,4] + [3,1]", FN(add(x[0], x[1])), normal({{2, 1, 4}, {3, 1}})},
      {"add", "[2,3] + []", FN(add(x[0], x[1])), normal({{2, 3}, {}})},
      {"add", "[2,3] + 2.5", FN(add(x[0], 2.5)), normal({{2, 3}})},
      {"add", "[3,2]^T + [3]", FN(add(x[0], x[1])), [](Generator& g, TensorOptions o) {
         return Tensors{strided_leaf(g, o, {2, 3}), normal_leaf(g, o, {3})};
       }},
      {"sub", "[2,3] - [2,3]", FN(sub(x[0], x[1])), normal({{2, 3}, {2, 3}})},
      {"sub", "[2,3] - [3]", FN(sub(x[0], x[1])), normal({{2, 3}, {3}})},
      {"sub", "[] - [2,1,4]", FN(sub(x[0], x[1])), normal({{}, {2, 1, 4}})},
      {"sub", "[2,3] - 1.5", FN(sub(x[0], 1.5)), normal({{2, 3}})},
      {"rsub", "1.5 - [2,3]", FN(rsub(1.5, x[0])), normal({{2, 3}})},
      {"mul", "[2,3] * [2,3]", FN(mul(x[0], x[1])), normal({{2, 3}, {2, 3}})},
      {"mul", "[2,1,4] * [3,1]", FN(mul(x[0], x[1])), normal({{2, 1, 4}, {3, 1}})},
      {"mul", "[3] * [2,3]", FN(mul(x[0], x[1])), normal({{3}, {2, 3}})},
      {"mul", "[2,3] * []", FN(mul(x[0], x[1])), normal({{2, 3}, {}})},
      {"mul", "[2,3] * -3", FN(mul(x[0], -3.0)), normal({{2, 3}})},
      {"mul", "[2,3] * [3] (no grad)", FN(mul(x[0], x[1])), normal_and_const({2, 3}, {3})},
      {"mul", "x * x, x [2,3]", FN(mul(x[0], x[0])), normal({{2, 3}})},
      {"div", "[2,3] / [2,3]", FN(div(x[0], x[1])), normal_over_signed({2, 3}, {2, 3})},
      {"div", "[2,1,4] / [3,1]", FN(div(x[0], x[1])), normal_over_signed({2, 1, 4}, {3, 1})},
      {"div", "[3] / [2,3]", FN(div(x[0], x[1])), normal_over_signed({3}, {2, 3})},
      {"div", "[2,3] / []", FN(div(x[0], x[1])), normal_over_signed({2, 3}, {})},
      {"div", "[2,3] / 4", FN(div(x[0], 4.0)), normal({{2, 3}})},
      {"rdiv", "2 / [2,3]", FN(rdiv(2.0, x[0])), signed_of({2, 3})},
      {"neg", "[2,3]", FN(neg(x[0])), normal({{2, 3}})},
      {"neg", "[3,2]^T", FN(neg(x[0])), strided({2, 3})},
      {"pow", "[2,3] ^ 2", FN(pow(x[0], 2.0)), normal({{2, 3}})},
      {"pow", "[2,3] ^ 3", FN(pow(x[0], 3.0)), normal({{2, 3}})},
      {"pow", "[2,3] ^ 0.5, x > 0", FN(pow(x[0], 0.5)), uniform_in({2, 3}, 0.5, 2.0)},
      {"pow", "[2,3] ^ -1.5, x > 0", FN(pow(x[0], -1.5)), uniform_in({2, 3}, 0.5, 2.0)},
      {"pow", "[2,3] ^ 1", FN(pow(x[0], 1.0)), normal({{2, 3}})},
      {"square", "[2,3]", FN(square(x[0])), normal({{2, 3}})},
      {"square", "[3,2]^T", FN(square(x[0])), strided({2, 3})},
      {"reciprocal", "[2,3], |x| >= 0.5", FN(reciprocal(x[0])), signed_of({2, 3})},

      // ---- pointwise functions ----
      {"exp", "[2,3]", FN(exp(x[0])), normal({{2, 3}})},
      {"exp", "[3,2]^T", FN(exp(x[0])), strided({2, 3})},
      {"exp", "transpose([2,3])", FN(exp(transpose(x[0], 0, 1))), normal({{2, 3}})},
      {"log", "[2,3], x > 0", FN(log(x[0])), uniform_in({2, 3}, 0.5, 2.0)},
      {"log1p", "[2,3], x > -1", FN(log1p(x[0])), uniform_in({2, 3}, -0.5, 2.0)},
      {"sqrt", "[2,3], x > 0", FN(sqrt(x[0])), uniform_in({2, 3}, 0.5, 2.0)},
      {"rsqrt", "[2,3], x > 0", FN(rsqrt(x[0])), uniform_in({2, 3}, 0.5, 2.0)},
      // Piecewise ops: inputs keep >= 0.05 from the kinks (see kink_free_leaf); the second
      // derivative is zero almost everywhere and gradgradcheck confirms it.
      {"abs", "[3,4], |x| >= 0.05", FN(abs(x[0])), kink_free({3, 4}, {0.0})},
      {"clamp", "[3,4] to [-0.5, 0.5]", FN(clamp(x[0], -0.5, 0.5)), kink_free({3, 4}, {-0.5, 0.5})},
      {"clamp", "transpose([3,4]) to [-1, 0.3]", FN(clamp(transpose(x[0], 0, 1), -1.0, 0.3)),
       kink_free({3, 4}, {-1.0, 0.3})},
      {"relu", "[3,4]", FN(relu(x[0])), kink_free({3, 4}, {0.0})},
      {"relu", "transpose([3,4])", FN(relu(transpose(x[0], 0, 1))), kink_free({3, 4}, {0.0})},
      {"leaky_relu", "[3,4], slope 0.2", FN(leaky_relu(x[0], 0.2)), kink_free({3, 4}, {0.0})},
      {"sigmoid", "[2,3]", FN(sigmoid(x[0])), normal({{2, 3}})},
      {"sigmoid", "[+-30, +-8, 5 random]", FN(sigmoid(x[0])), fixed_plus_normal({-30.0, 30.0, -8.0, 8.0}, 5)},
      {"softplus", "[2,3]", FN(softplus(x[0])), normal({{2, 3}})},
      {"softplus", "[+-50, +-20, 5 random]", FN(softplus(x[0])), fixed_plus_normal({-50.0, 50.0, -20.0, 20.0}, 5)},
      {"tanh", "[2,3]", FN(tanh(x[0])), normal({{2, 3}})},
      {"tanh", "[+-10, 5 random]", FN(tanh(x[0])), fixed_plus_normal({-10.0, 10.0}, 5)},
      {"silu", "[2,3]", FN(silu(x[0])), normal({{2, 3}})},
      {"silu", "[3,2]^T", FN(silu(x[0])), strided({2, 3})},

      // ---- selection by a mask ----
      {"where", "bool [2,3] ? [2,3] : [2,3]", FN(where(x[0], x[1], x[2])), mask_and(false, {2, 3}, {{2, 3}, {2, 3}})},
      {"where", "bool [2,3] ? [2,3] : [3]", FN(where(x[0], x[1], x[2])), mask_and(false, {2, 3}, {{2, 3}, {3}})},
      {"where", "bool [3,1] ? [3,4] : []", FN(where(x[0], x[1], x[2])), mask_and(false, {3, 1}, {{3, 4}, {}})},
      {"where", "0/1 [2,3] ? [2,3] : [2,3]", FN(where(x[0], x[1], x[2])), mask_and(true, {2, 3}, {{2, 3}, {2, 3}})},
      {"where", "0/1 [3] ? [2,3] : [2,1]", FN(where(x[0], x[1], x[2])), mask_and(true, {3}, {{2, 3}, {2, 1}})},
      {"where", "bool [2,3] ? [2,3] : 0.5", FN(where(x[0], x[1], 0.5)), mask_and(false, {2, 3}, {{2, 3}})},
      {"masked_select", "[3,4] by bool [3,4]", FN(masked_select(x[1], x[0])), mask_and(false, {3, 4}, {{3, 4}})},
      {"masked_select", "[3,4] by bool [4]", FN(masked_select(x[1], x[0])), mask_and(false, {4}, {{3, 4}})},
      {"masked_select", "transpose([4,3]) by 0/1 [3,4]", FN(masked_select(transpose(x[1], 0, 1), x[0])),
       mask_and(true, {3, 4}, {{4, 3}})},

      // ---- reductions ----
      {"sum", "[2,3,4] all", FN(sum(x[0])), normal({{2, 3, 4}})},
      {"sum", "[2,3,4] dims {1}", FN(sum(x[0], {1})), normal({{2, 3, 4}})},
      {"sum", "[2,3,4] dims {0,2}", FN(sum(x[0], {0, 2})), normal({{2, 3, 4}})},
      {"sum", "[2,3,4] dims {1} keepdim", FN(sum(x[0], {1}, true)), normal({{2, 3, 4}})},
      {"sum", "[3,4]^T dims {-1}", FN(sum(x[0], {-1})), strided({3, 4})},
      {"sum", "[] all", FN(sum(x[0])), normal({{}})},
      {"mean", "[2,3,4] all", FN(mean(x[0])), normal({{2, 3, 4}})},
      {"mean", "[2,3,4] dims {1}", FN(mean(x[0], {1})), normal({{2, 3, 4}})},
      {"mean", "[2,3,4] dims {0,2}", FN(mean(x[0], {0, 2})), normal({{2, 3, 4}})},
      {"mean", "[2,3,4] dims {0,2} keepdim", FN(mean(x[0], {0, 2}, true)), normal({{2, 3, 4}})},
      {"mean", "[3,4]^T dims {0}", FN(mean(x[0], {0})), strided({3, 4})},
      {"max", "[3,4] dim 1", FN(max(x[0], 1).values), distinct({3, 4})},
      {"max", "[3,4] dim 0 keepdim", FN(max(x[0], 0, true).values), distinct({3, 4})},
      {"max", "transpose([4,3]) dim -1", FN(max(transpose(x[0], 0, 1), -1).values), distinct({4, 3})},
      {"min", "[3,4] dim 1", FN(min(x[0], 1).values), distinct({3, 4})},
      {"min", "[2,3,4] dim -1 keepdim", FN(min(x[0], -1, true).values), distinct({2, 3, 4})},
      {"l2_norm_per_sample", "[4,3,2,2]", FN(l2_norm_per_sample(x[0])), normal({{4, 3, 2, 2}})},
      {"l2_norm_per_sample", "[3,5]", FN(l2_norm_per_sample(x[0])), normal({{3, 5}})},
      {"l2_norm_per_sample", "[5,3]^T", FN(l2_norm_per_sample(x[0])), strided({5, 3})},
      {"sum_to", "[2,3,4] -> [3,1]", FN(sum_to(x[0], {3, 1})), normal({{2, 3, 4}})},
      {"sum_to", "[2,3] -> [1,3]", FN(sum_to(x[0], {1, 3})), normal({{2, 3}})},
      {"sum_to", "[2,3] -> []", FN(sum_to(x[0], {})), normal({{2, 3}})},

      // ---- joining and indexing (index tensors: int64, no grad) ----
      {"cat", "[1,3], [2,3], [3,3] dim 0", FN(cat({x[0], x[1], x[2]}, 0)), normal({{1, 3}, {2, 3}, {3, 3}})},
      {"cat", "[2,1], [2,3], [2,2] dim 1", FN(cat({x[0], x[1], x[2]}, 1)), normal({{2, 1}, {2, 3}, {2, 2}})},
      {"cat", "[2,3], [2,3] (no grad) dim -1", FN(cat({x[0], x[1]}, -1)), normal_and_const({2, 3}, {2, 3})},
      {"cat", "[3,2]^T, [2,2] dim 1", FN(cat({x[0], x[1]}, 1)), [](Generator& g, TensorOptions o) {
         return Tensors{strided_leaf(g, o, {2, 3}), normal_leaf(g, o, {2, 2})};
       }},
      {"stack", "3 x [2,3] dim 0", FN(stack({x[0], x[1], x[2]}, 0)), normal({{2, 3}, {2, 3}, {2, 3}})},
      {"stack", "3 x [2,3] dim 1", FN(stack({x[0], x[1], x[2]}, 1)), normal({{2, 3}, {2, 3}, {2, 3}})},
      {"stack", "2 x [2,3] dim -1", FN(stack({x[0], x[1]}, -1)), normal({{2, 3}, {2, 3}})},
      {"index_select", "[4,3] dim 0 [2,0,2,3]", FN(index_select(x[0], 0, x[1])), with_index({4, 3}, {2, 0, 2, 3}, {4})},
      {"index_select", "[2,5] dim 1 [4,4,1]", FN(index_select(x[0], 1, x[1])), with_index({2, 5}, {4, 4, 1}, {3})},
      {"index_select", "transpose([3,4]) dim 0 [1,1]", FN(index_select(transpose(x[0], 0, 1), 0, x[1])),
       with_index({3, 4}, {1, 1}, {2})},
      {"index_add", "[3,2] into [4,2] dim 0 [1,3,1]", FN(index_add({4, 2}, 0, x[1], x[0])),
       with_index({3, 2}, {1, 3, 1}, {3})},
      {"gather", "[3,4] dim 1 index [3,2]", FN(gather(x[0], 1, x[1])),
       with_index({3, 4}, {3, 0, 1, 1, 2, 0}, {3, 2})},
      {"gather", "[3,4] dim 0 index [2,4]", FN(gather(x[0], 0, x[1])),
       with_index({3, 4}, {0, 2, 1, 1, 2, 2, 0, 1}, {2, 4})},
      {"scatter_add", "[3,2] into [3,4] dim 1", FN(scatter_add({3, 4}, 1, x[1], x[0])),
       with_index({3, 2}, {0, 0, 3, 1, 2, 3}, {3, 2})},
      {"scatter_add", "[2,3] into [4,3] dim 0", FN(scatter_add({4, 3}, 0, x[1], x[0])),
       with_index({2, 3}, {3, 0, 3, 3, 1, 0}, {2, 3})},

      // ---- views and copies ----
      {"reshape", "[2,3,4] -> [6,4]", FN(reshape(x[0], {6, 4})), normal({{2, 3, 4}})},
      {"reshape", "[2,3,4] -> [-1]", FN(reshape(x[0], {-1})), normal({{2, 3, 4}})},
      {"reshape", "[4,3]^T -> [12] (copies)", FN(reshape(x[0], {12})), strided({4, 3})},
      {"view", "[2,6] -> [3,4]", FN(view(x[0], {3, 4})), normal({{2, 6}})},
      {"view", "[2,3,4] -> [2,12]", FN(view(x[0], {2, 12})), normal({{2, 3, 4}})},
      {"permute", "[2,3,4] {2,0,1}", FN(permute(x[0], {2, 0, 1})), normal({{2, 3, 4}})},
      {"permute", "[4,3]^T {1,0}", FN(permute(x[0], {1, 0})), strided({4, 3})},
      {"transpose", "[3,4] 0<->1", FN(transpose(x[0], 0, 1)), normal({{3, 4}})},
      {"transpose", "[2,3,4] -1<->0", FN(transpose(x[0], -1, 0)), normal({{2, 3, 4}})},
      {"slice", "[5,4] dim 0 from -4 step 2", FN(slice(x[0], 0, -4, 5, 2)), normal({{5, 4}})},
      {"slice", "[3,6] dim 1 [1:6:2]", FN(slice(x[0], 1, 1, 6, 2)), normal({{3, 6}})},
      {"slice", "[6,3]^T dim 1 [0:4:3]", FN(slice(x[0], 1, 0, 4, 3)), strided({3, 6})},
      {"slice_backward", "[2,3] into [5,3] dim 0 [1:5:2]", FN(slice_backward(x[0], {5, 3}, 0, 1, 5, 2)),
       normal({{2, 3}})},
      {"narrow", "[3,5] dim 1 start 1 length 3", FN(narrow(x[0], 1, 1, 3)), normal({{3, 5}})},
      {"narrow", "[4,3] dim 0 start 2 length 2", FN(narrow(x[0], 0, 2, 2)), normal({{4, 3}})},
      {"select", "[3,4] dim 0 index 1", FN(select(x[0], 0, 1)), normal({{3, 4}})},
      {"select", "[2,3,4] dim 1 index -1", FN(select(x[0], 1, -1)), normal({{2, 3, 4}})},
      {"expand", "[3,1] -> [2,3,4]", FN(expand(x[0], {2, 3, 4})), normal({{3, 1}})},
      {"expand", "[3] -> [2,-1]", FN(expand(x[0], {2, -1})), normal({{3}})},
      {"squeeze", "[3,1,2]", FN(squeeze(x[0])), normal({{3, 1, 2}})},
      {"squeeze", "[3,1,2] dim 1", FN(squeeze(x[0], 1)), normal({{3, 1, 2}})},
      {"unsqueeze", "[2,3] dim 0", FN(unsqueeze(x[0], 0)), normal({{2, 3}})},
      {"unsqueeze", "[3,2]^T dim -1", FN(unsqueeze(x[0], -1)), strided({2, 3})},
      {"flatten", "[2,3,2]", FN(flatten(x[0])), normal({{2, 3, 2}})},
      {"flatten", "transpose([2,3,2]) from 1", FN(flatten(transpose(x[0], 0, 2), 1)), normal({{2, 3, 2}})},
      {"contiguous", "[4,3]^T (copies)", FN(contiguous(x[0])), strided({4, 3})},
      {"contiguous", "[3,4] (no copy)", FN(contiguous(x[0])), normal({{3, 4}})},
      {"clone", "[2,3]", FN(clone(x[0])), normal({{2, 3}})},
      {"clone", "[4,3]^T", FN(clone(x[0])), strided({4, 3})},
      {"to", "float64 -> float64", FN(to(x[0], DType::Float64)), normal({{2, 3}})},
      {"to", "float64 -> float32 -> float64", FN(to(to(x[0], DType::Float32), DType::Float64)), normal({{2, 3}}),
       true, kFloat32RoundTrip},

      // ---- neural-network ops (their own test files hold the full configuration tables) ----
      {"matmul", "[3,4] x [4,2]", FN(matmul(x[0], x[1])), normal({{3, 4}, {4, 2}})},
      {"matmul", "[2,3,4] x [2,4,2]", FN(matmul(x[0], x[1])), normal({{2, 3, 4}, {2, 4, 2}})},
      {"linear", "[3,4] w [2,4] b [2]", FN(linear(x[0], x[1], x[2])), normal({{3, 4}, {2, 4}, {2}})},
      {"conv2d", "[2,2,5,5] w [3,2,3,3] s2 p1", FN(conv2d(x[0], x[1], x[2], {{2, 2}, {1, 1}})),
       normal({{2, 2, 5, 5}, {3, 2, 3, 3}, {3}})},
      {"conv2d", "[1,2,4,6] w [2,2,4,4] p0", FN(conv2d(x[0], x[1])), normal({{1, 2, 4, 6}, {2, 2, 4, 4}})},
      {"conv2d_grad_input", "g [2,3,3,3] w [3,2,3,3] -> [2,2,5,5] s2 p1",
       FN(conv2d_grad_input(x[0], x[1], {2, 2, 5, 5}, {{2, 2}, {1, 1}})), normal({{2, 3, 3, 3}, {3, 2, 3, 3}})},
      {"conv2d_grad_weight", "x [2,2,5,5] g [2,3,3,3] -> [3,2,3,3] s2 p1",
       FN(conv2d_grad_weight(x[0], x[1], {3, 2, 3, 3}, {{2, 2}, {1, 1}})), normal({{2, 2, 5, 5}, {2, 3, 3, 3}})},
      {"avg_pool2d", "[2,2,4,5] k2 s2", FN(avg_pool2d(x[0], {2, 2}, {2, 2}, {0, 0})), normal({{2, 2, 4, 5}})},
      {"avg_pool2d_grad", "[1,2,2,2] -> [1,2,4,5] k2 s2", FN(avg_pool2d_grad(x[0], {1, 2, 4, 5}, {2, 2}, {2, 2}, {0, 0})),
       normal({{1, 2, 2, 2}})},
      {"max_pool2d", "[1,2,4,4] k2 s2", FN(max_pool2d(x[0], {2, 2}, {2, 2}, {0, 0}).values), distinct({1, 2, 4, 4})},
      {"batch_norm", "train [3,2,2,2] w b", FN(batch_norm(x[0], x[1], x[2], Tensor(), Tensor(), true)),
       normal({{3, 2, 2, 2}, {2}, {2}})},
      {"batch_norm", "eval [2,2,2,2] w b (running stats constant)",
       FN(batch_norm(x[0], x[1], x[2], x[3], x[4], false)), [](Generator& g, TensorOptions o) -> Tensors {
         return {normal_leaf(g, o, {2, 2, 2, 2}), normal_leaf(g, o, {2}), normal_leaf(g, o, {2}),
                 randn({2}, const_opts(o), &g), add(square(randn({2}, const_opts(o), &g)), 0.5)};
       }},
      {"binary_cross_entropy_with_logits", "[4,3]", FN(binary_cross_entropy_with_logits(x[0], sigmoid(x[1]))),
       normal({{4, 3}, {4, 3}})},
      {"log_softmax", "[3,4] dim 1", FN(log_softmax(x[0], 1)), normal({{3, 4}})},
      {"mse_loss", "[3,4]", FN(mse_loss(x[0], x[1])), normal({{3, 4}, {3, 4}})},
      {"resize_bilinear2d", "[1,2,3,4] -> 5x7", FN(resize_bilinear2d(x[0], 5, 7)), normal({{1, 2, 3, 4}})},
      {"upsample_nearest2d", "[1,2,2,3] -> 4x6", FN(upsample_nearest2d(x[0], 4, 6)), normal({{1, 2, 2, 3}})},

      // ---- compositions: what R1 differentiates (a gradient of a layer, differentiated again) ----
      {"composite", "sum(leaky_relu(x*w)) x [2,3] w [3]", FN(sum(leaky_relu(mul(x[0], x[1]), 0.2))),
       normal({{2, 3}, {3}})},
      {"composite", "sum(sigmoid(x)*log1p(x^2)) [2,3]", FN(sum(mul(sigmoid(x[0]), log1p(square(x[0]))))),
       normal({{2, 3}})},
  };
  for (size_t i = 0; i < t.size(); ++i) t[i].seed = 1000 + i;
  return t;
}

#undef FN

}  // namespace

const std::vector<OpCase>& op_table() {
  static const std::vector<OpCase> table = build_table();
  return table;
}

std::string op_case_id(size_t index, const OpCase& c) {
  std::string id = fmt::format("{:03}_", index);
  for (char ch : c.op) id += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return id;
}

OpCaseCheck check_op_case(const OpCase& c, bool second_order) {
  Generator gen(c.seed);
  const Tensors inputs = c.make_inputs(gen, {.dtype = DType::Float64});
  OpCaseCheck r;
  r.first = gradcheck(c.fn, inputs, c.tolerance);
  if (second_order && c.second_order) {
    Generator vgen(c.seed + 7919);  // the random grad_outputs of the second-order check
    r.second = gradgradcheck(c.fn, inputs, c.tolerance, &vgen);
    r.second_run = true;
  }
  return r;
}

}  // namespace atebm
