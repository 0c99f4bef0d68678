// CUDA against the CPU for every case of the op table (ops/op_table.h), in float32:
//   1. forward: the case's inputs are built once on the CPU from Generator(c.seed), the same
//      values (same strides: transposed leaves stay transposed) are copied to the GPU, and every
//      output of c.fn must agree;
//   2. backward: grad of Σ_i <out_i, w_i> with a fixed random w_i per output, w.r.t. every
//      input that requires grad, taken with create_graph (as R1 takes it);
//   3. double backward: grad of Σ_j <g_j, v_j> over the first-order gradients that carry a
//      graph, with fixed random v_j, w.r.t. the same inputs.
// Which first-order gradients carry a graph, and which inputs a pass reaches, must match too.
// TF32 is off (ops/math_mode.h): with it, GPU matmuls and convolutions round their inputs to
// 10 mantissa bits and no float32 tolerance would hold.
//
// Tolerances (kTolerances below): |gpu − cpu| ≤ rtol·|cpu| + atol·max(1, max|cpu|) per element,
// so atol scales with the tensor (double-backward values of a few hundred are compared on their
// own scale). Elementwise ops are a few ulp apart (CUDA's expf/logf/tanhf vs libm: ≤ 2 ulp each,
// compounded over a forward, backward and double backward chain): rtol 1e-5 ≈ 80 float32 ulp.
// Reductions and losses sum in another order: same rtol, atol 1e-5. Matrix products,
// convolutions, pooling and batch norm accumulate tens of products in an order that cuBLAS and
// cuDNN choose (and cuDNN may use Winograd or FFT algorithms): 1e-4 both.
//
// Without the CUDA backend or without a visible GPU every case skips. The harness itself (copying
// strided inputs, weights, the three passes, the comparison) also runs in every build with the
// CPU as the "other" device (ParityHarnessOnCpu), so a broken harness shows up before a GPU
// session, which is short and rare.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "common/gpu_test.h"
#include "engine/autograd/engine.h"
#include "engine/device.h"
#include "engine/factories.h"
#include "ops/math_mode.h"
#include "ops/op_table.h"
#include "ops/ops.h"

namespace atebm {
namespace {

struct Tolerance {
  double rtol;
  double atol;
};

constexpr Tolerance kElementwise{1e-5, 1e-6};
constexpr Tolerance kReduction{1e-5, 1e-5};
constexpr Tolerance kProducts{1e-4, 1e-4};

// Per op name; ops not listed are elementwise, views or copies (kElementwise).
const std::map<std::string, Tolerance>& tolerances() {
  static const std::map<std::string, Tolerance> t = {
      {"sum", kReduction},
      {"mean", kReduction},
      {"max", kReduction},
      {"min", kReduction},
      {"l2_norm_per_sample", kReduction},
      {"sum_to", kReduction},
      {"index_add", kReduction},
      {"scatter_add", kReduction},
      {"log_softmax", kReduction},
      {"binary_cross_entropy_with_logits", kReduction},
      {"mse_loss", kReduction},
      {"resize_bilinear2d", kReduction},
      {"upsample_nearest2d", kReduction},
      {"composite", kReduction},
      {"matmul", kProducts},
      {"linear", kProducts},
      {"conv2d", kProducts},
      {"conv2d_grad_input", kProducts},
      {"conv2d_grad_weight", kProducts},
      {"avg_pool2d", kProducts},
      {"avg_pool2d_grad", kProducts},
      {"max_pool2d", kProducts},
      {"batch_norm", kProducts},
  };
  return t;
}

Tolerance tolerance_of(const std::string& op) {
  const auto it = tolerances().find(op);
  return it == tolerances().end() ? kElementwise : it->second;
}

// The same values in the same layout on `device`: the CPU tensor's whole storage is copied and
// viewed with the same shape, strides and offset, so a transposed leaf stays transposed and
// the GPU kernels see the strided case the op table meant to test. The requires_grad flag is
// carried over (the copy is a new leaf).
Tensor same_on(const Tensor& t, const Device& device) {
  const auto storage_elems = static_cast<int64_t>(t.storage()->nbytes() / t.itemsize());
  const Tensor whole = make_view(detach(t), {storage_elems}, {1}, 0);
  const Tensor copy = copy_to(whole, device, t.dtype());
  Tensor v = make_view(copy, t.shape(), t.strides(), t.offset());
  if (t.requires_grad()) v.set_requires_grad(true);
  return v;
}

// Compares one GPU tensor with its CPU twin (defined-ness, shape, dtype, device, values).
void expect_matches(const Tensor& gpu, const Tensor& cpu, Tolerance tol, const std::string& what,
                    const Device& device) {
  ASSERT_EQ(gpu.defined(), cpu.defined()) << what << ": defined on one device only";
  if (!cpu.defined()) return;
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  ASSERT_EQ(gpu.dtype(), cpu.dtype()) << what;
  EXPECT_EQ(gpu.device(), device) << what << ": result left " << device.str();
  if (!is_floating(cpu.dtype())) {
    EXPECT_EQ(gpu.to_vector<int64_t>(), cpu.to_vector<int64_t>()) << what;
    return;
  }
  const std::vector<double> a = gpu.to_vector<double>(), b = cpu.to_vector<double>();
  double scale = 1.0;
  for (double x : b)
    if (std::isfinite(x)) scale = std::max(scale, std::abs(x));
  int reported = 0, bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool same_special = (std::isnan(a[i]) && std::isnan(b[i])) || (std::isinf(b[i]) && a[i] == b[i]);
    const bool close = std::abs(a[i] - b[i]) <= tol.rtol * std::abs(b[i]) + tol.atol * scale;
    if (same_special || close) continue;
    ++bad;
    if (reported++ < 5)
      ADD_FAILURE() << what << ": element " << i << " gpu " << a[i] << " cpu " << b[i] << " (|diff| "
                    << std::abs(a[i] - b[i]) << ", allowed " << tol.rtol * std::abs(b[i]) + tol.atol * scale << ")";
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << a.size() << " elements differ";
}

void expect_all_match(const Tensors& gpu, const Tensors& cpu, Tolerance tol, const std::string& what,
                      const Device& device) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  for (size_t i = 0; i < cpu.size(); ++i)
    expect_matches(gpu[i], cpu[i], tol, what + " #" + std::to_string(i), device);
}

// Fixed random weights, one per tensor (float32, CPU, drawn from `gen`), and their GPU copies.
Tensors weights_like(const Tensors& ts, Generator& gen) {
  Tensors w;
  for (const Tensor& t : ts) w.push_back(randn(t.shape(), {.dtype = t.dtype()}, &gen));
  return w;
}
Tensors to_device(const Tensors& ts, const Device& device) {
  Tensors out;
  for (const Tensor& t : ts) out.push_back(copy_to(t, device, t.dtype()));
  return out;
}

// The tensors that requires_grad (floating outputs with a graph; inputs that are leaves).
Tensors with_grad(const Tensors& ts) {
  Tensors out;
  for (const Tensor& t : ts)
    if (t.defined() && t.requires_grad()) out.push_back(t);
  return out;
}

// The whole check of one case: the pieces run on each device with the same weights.
struct Pass {
  Tensors inputs, outputs, first, second;
};

Pass run_case(const OpCase& c, const Tensors& inputs, const Tensors& w_out, const Tensors& w_first) {
  Pass p;
  p.inputs = inputs;
  p.outputs = c.fn(inputs);
  const Tensors ins = with_grad(inputs), outs = with_grad(p.outputs);
  if (ins.empty() || outs.empty()) return p;
  p.first = grad(outs, ins, w_out, {.create_graph = true, .allow_unused = true});
  Tensors firsts, ws;
  for (size_t i = 0; i < p.first.size(); ++i) {
    if (p.first[i].defined() && p.first[i].requires_grad()) {
      firsts.push_back(p.first[i]);
      ws.push_back(w_first[i]);
    }
  }
  if (c.second_order && !firsts.empty()) p.second = grad(firsts, ins, ws, {.allow_unused = true});
  return p;
}

// One op-table case on `device` against the CPU.
void check_case(size_t index, const Device& device) {
  const OpCase& c = op_table().at(index);
  SCOPED_TRACE(op_case_id(index, c) + ": " + c.op + " " + c.shapes + " on " + device.str());
  const Tolerance tol = tolerance_of(c.op);

  Generator gen(c.seed);
  const Tensors cpu_in = c.make_inputs(gen, {.dtype = DType::Float32});
  Tensors dev_in;
  for (const Tensor& t : cpu_in) dev_in.push_back(same_on(t, device));

  // Weights: one per output that requires grad, one per input that requires grad (the shapes of
  // the first-order gradients), from a generator of their own so the inputs stay the table's.
  Generator wgen(c.seed + 7919);
  const Tensors cpu_outs_probe = c.fn(cpu_in);
  const Tensors w_out = weights_like(with_grad(cpu_outs_probe), wgen);
  const Tensors w_first = weights_like(with_grad(cpu_in), wgen);

  const Pass cpu = run_case(c, cpu_in, w_out, w_first);
  const Pass dev = run_case(c, dev_in, to_device(w_out, device), to_device(w_first, device));

  expect_all_match(dev.outputs, cpu.outputs, tol, "forward output", device);
  ASSERT_EQ(dev.first.size(), cpu.first.size());
  expect_all_match(dev.first, cpu.first, tol, "first-order gradient", device);
  for (size_t i = 0; i < cpu.first.size(); ++i) {
    if (!cpu.first[i].defined() || !dev.first[i].defined()) continue;
    EXPECT_EQ(dev.first[i].requires_grad(), cpu.first[i].requires_grad())
        << "first-order gradient #" << i << ": carries a graph on one device only";
  }
  expect_all_match(dev.second, cpu.second, tol, "second-order gradient", device);
}

class CudaParity : public ::testing::TestWithParam<size_t> {
 protected:
  void SetUp() override {
    ATEBM_SKIP_WITHOUT_GPU();
    set_allow_tf32(false);
  }
  void TearDown() override { set_allow_tf32(true); }  // the library default
};

TEST_P(CudaParity, ForwardBackwardDoubleBackward) { check_case(GetParam(), Device::cuda()); }

// The harness against a CPU copy of the inputs: every pass must run and agree (exactly, in
// practice: the same kernels on the same values and layouts).
class ParityHarnessOnCpu : public ::testing::TestWithParam<size_t> {};

TEST_P(ParityHarnessOnCpu, ForwardBackwardDoubleBackward) { check_case(GetParam(), Device::cpu()); }

std::vector<size_t> all_case_indices() {
  std::vector<size_t> idx(op_table().size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  return idx;
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  return op_case_id(info.param, op_table().at(info.param));
}

INSTANTIATE_TEST_SUITE_P(Cuda, CudaParity, ::testing::ValuesIn(all_case_indices()), case_name);
INSTANTIATE_TEST_SUITE_P(Cpu, ParityHarnessOnCpu, ::testing::ValuesIn(all_case_indices()), case_name);

// The tolerance table names real ops: a renamed op must not silently fall back to the default.
TEST(CudaParityTable, ToleranceEntriesNameOpsOfTheTable) {
  for (const auto& [op, tol] : tolerances()) {
    const bool present =
        std::any_of(op_table().begin(), op_table().end(), [&](const OpCase& c) { return c.op == op; });
    EXPECT_TRUE(present) << "tolerance entry for '" << op << "', which has no op-table case";
  }
}

}  // namespace
}  // namespace atebm
