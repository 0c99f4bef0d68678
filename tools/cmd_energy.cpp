// `atebm energy --model CKPT --input X.npy [--grad] [--r1] [--dtype float64] --out OUT.npz`:
// the model's score of every input, and on request its input gradient and R1 term, for
// evaluations made elsewhere and for validating a model against another framework.
//
// The model runs in eval mode (BatchNorm uses its running statistics), so every input is scored
// independently of the others and of the batch size. Inputs are read whole, as float32:
//   image models (resnet, stargan_discriminator): an image .npy as at_ebm/data/npy.h reads it —
//     (N, C, H, W), (N, H, W, C) or grey (N, H, W); uint8 (÷ 255) or floats in [0, 1] — whose
//     image shape must be the model's (in_channels; img_size for the discriminator);
//   mlp: a float32/float64 array (N, D) with D = dims[0], any values.
// With --dtype float64 model and inputs are converted to float64 before computing.
//
// OUT.npz holds, in the compute dtype:
//   logit   [N]            f(x) = logit 0 of the model's output
//   energy  [N]            E(x) = −f(x)
//   outputs [N, K]         every output of the model (K = num_classes / num_outputs)
//   grad    [N, ...input]  ∇x f(x)                         (with --grad)
//   r1      [N]            0.5 · ||∇x f(x_i)||², per input (with --r1; R1 = their mean)
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "at_ebm/data/npy.h"
#include "at_ebm/method/pgd.h"
#include "at_ebm/method/sampler.h"
#include "nn/io/model_file.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"
#include "tools/cmd_common.h"
#include "tools/commands.h"
#include "tools/model_inputs.h"

namespace atebm::cli {
namespace {

struct EnergyArgs {
  std::string model, input, out, dtype = "float32";
  bool grad = false, r1 = false;
  int64_t batch_size = 100;
};

struct BatchResult {
  Tensor outputs, grad, r1;
};

Tensor checked_outputs(const Tensor& out) {
  ATEBM_CHECK(out.dim() == 2 && out.size(1) >= 1, "energy: the model returned shape {}, expected [N, outputs]",
              shape_str(out.shape()));
  return out;
}

BatchResult score_batch(nn::Module& model, const Tensor& x, bool need_grad) {
  if (!need_grad) {
    NoGradGuard no_grad;
    return {checked_outputs(model.forward(x)), {}, {}};
  }
  // Only the input gradient is wanted: frozen parameters keep the backward pass to it.
  at_ebm::FreezeParameters frozen(model.named_parameters());
  const Tensor xg = detach(x).set_requires_grad(true);
  const Tensor out = checked_outputs(model.forward(xg));
  const Tensor g = grad({sum(select(out, 1, 0))}, {xg})[0];
  NoGradGuard no_grad;
  const Tensor r1 = mul(sum(square(reshape(g, {g.size(0), -1})), {1}), 0.5);
  return {detach(out), g, r1};
}

int run_energy(const EnergyArgs& args) {
  const DType dtype = compute_dtype(args.dtype);
  const nn::LoadedModel loaded = load_eval_model(args.model, dtype);
  nn::Module& model = *loaded.model;
  const Tensor inputs = read_model_inputs(args.input, loaded.config);
  const int64_t n = inputs.size(0);

  const bool need_grad = args.grad || args.r1;
  std::vector<Tensor> outputs, grads, r1s;
  for (int64_t first = 0; first < n; first += args.batch_size) {
    const int64_t len = std::min(args.batch_size, n - first);
    const Tensor x = copy_to(narrow(inputs, 0, first, len), Device::cpu(), dtype);
    BatchResult r = score_batch(model, x, need_grad);
    outputs.push_back(r.outputs);
    grads.push_back(r.grad);
    r1s.push_back(r.r1);
  }
  const Tensor all_outputs = cat(outputs);
  const Tensor logit = contiguous(select(all_outputs, 1, 0));
  std::vector<std::pair<std::string, Tensor>> arrays = {
      {"logit", logit}, {"energy", neg(logit)}, {"outputs", all_outputs}};
  if (args.grad) arrays.emplace_back("grad", cat(grads));
  if (args.r1) arrays.emplace_back("r1", cat(r1s));
  data::save_npz(args.out, arrays);

  std::vector<std::string> keys;
  for (const auto& [key, t] : arrays) keys.push_back(key);
  fmt::print("scored inputs {} with {} ({}): mean f = {:.6g}\n", shape_str(inputs.shape()), args.model, loaded.config.at("arch").get<std::string>(), mean(logit).item());
  if (args.r1) fmt::print("R1 = mean of r1 = {:.6g}\n", mean(arrays.back().second).item());
  fmt::print("wrote {} ({})\n", args.out, fmt::join(keys, ", "));
  return 0;
}

}  // namespace

Command add_energy_command(CLI::App& parent) {
  auto a = std::make_shared<EnergyArgs>();
  CLI::App* sub = parent.add_subcommand("energy", "Score inputs with a model: f(x) = logit 0, E = -f, and optionally "
                                                  "the input gradient and the per-input R1 term");
  sub->add_option("--model", a->model, "Model file (safetensors with its config, as training writes it)")->required();
  sub->add_option("--input", a->input, "Inputs as .npy: images (N,C,H,W | N,H,W,C | N,H,W) or, for an mlp, (N, D)")
      ->required();
  sub->add_option("--out", a->out, "Output .npz (keys logit, energy, outputs, and grad / r1 on request)")->required();
  sub->add_flag("--grad", a->grad, "Also write grad = d f(x) / dx");
  sub->add_flag("--r1", a->r1, "Also write r1 = 0.5 * ||d f(x) / dx||^2 per input");
  add_dtype_option(*sub, a->dtype);
  sub->add_option("--batch-size", a->batch_size, "Inputs per forward pass (results do not depend on it)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return {sub, [a] { return run_energy(*a); }};
}

}  // namespace atebm::cli
