// `atebm grads --model CKPT --real R.npy --fake F.npy [--r1 GAMMA] [--dtype float64] --out G.safetensors`:
// one evaluation of the training objective (Algorithm 1, at_ebm/method/losses.h) and its gradient
// for every parameter, for validating the double backward against another framework:
//
//   loss = BCE(cat(f(real), f(fake)), cat(1, 0)) + γ · R1,   R1 = 0.5 · mean_i ||∇x f(real_i)||²
//
// f = logit 0, the model in eval mode (BatchNorm frozen, as in training). R1 is always computed
// and reported; γ (default 0) only decides its weight in the loss. Inputs are read as in
// `atebm energy` (images of the model's shape, or (N, D) arrays for an mlp); the two batches may
// differ in size. With --dtype float64 everything is computed in float64.
//
// G.safetensors holds, in the compute dtype:
//   loss, bce, r1   0-dim tensors (also in __metadata__ as decimal strings, with r1_weight)
//   <param name>    d loss / d param for every parameter, named as in the model file (a parameter
//                   the loss does not reach gets zeros)
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "at_ebm/method/losses.h"
#include "at_ebm/method/sampler.h"
#include "nn/io/model_file.h"
#include "nn/models/model_config.h"
#include "nn/io/safetensors.h"
#include "ops/ops.h"
#include "tools/cmd_common.h"
#include "tools/commands.h"
#include "tools/model_inputs.h"

namespace atebm::cli {
namespace {

struct GradsArgs {
  std::string model, real, fake, out, dtype = "float32";
  double r1_weight = 0.0;
};

int run_grads(const GradsArgs& args) {
  const DType dtype = compute_dtype(args.dtype);
  const nn::LoadedModel loaded = load_eval_model(args.model, dtype);
  nn::Module& model = *loaded.model;
  const Tensor real = copy_to(read_model_inputs(args.real, loaded.config), Device::cpu(), dtype);
  const Tensor fake = copy_to(read_model_inputs(args.fake, loaded.config), Device::cpu(), dtype);

  const at_ebm::LossTerms terms =
      at_ebm::adversarial_loss(at_ebm::model_score(model), real, fake, args.r1_weight, /*compute_r1=*/true);
  const nn::NamedTensors params = model.named_parameters();
  Tensors leaves;
  for (const auto& [name, p] : params) leaves.push_back(p);
  const Tensors g = grad({terms.loss}, leaves, {}, {.allow_unused = true});

  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"loss", detach(terms.loss)}, {"bce", detach(terms.bce)}, {"r1", detach(terms.r1)}};
  for (size_t i = 0; i < params.size(); ++i)
    tensors.emplace_back(params[i].first, g[i].defined() ? g[i] : zeros_like(params[i].second));
  const auto decimal = [](double v) { return fmt::format("{:.17g}", v); };
  const std::map<std::string, std::string> metadata = {
      {"loss", decimal(terms.loss.item())}, {"bce", decimal(terms.bce.item())},
      {"r1", decimal(terms.r1.item())},     {"r1_weight", decimal(args.r1_weight)},
      {"n_real", std::to_string(real.size(0))}, {"n_fake", std::to_string(fake.size(0))},
      {"dtype", args.dtype}};
  nn::save_safetensors(args.out, tensors, metadata);

  fmt::print("loss = {:.9g} (bce = {:.9g}, r1 = {:.9g}, gamma = {}) on {} real + {} fake inputs\n",
             terms.loss.item(), terms.bce.item(), terms.r1.item(), args.r1_weight, real.size(0), fake.size(0));
  fmt::print("wrote {} ({} parameter gradients + loss, bce, r1)\n", args.out, params.size());
  return 0;
}

}  // namespace

Command add_grads_command(CLI::App& parent) {
  auto a = std::make_shared<GradsArgs>();
  CLI::App* sub = parent.add_subcommand(
      "grads", "The training loss (BCE + gamma * R1) on a real and a fake batch and its gradient for every parameter");
  sub->add_option("--model", a->model, "Model file (safetensors with its config, as training writes it)")->required();
  sub->add_option("--real", a->real, "Real batch (.npy, target 1; R1 is taken on it)")->required();
  sub->add_option("--fake", a->fake, "Fake batch (.npy, target 0)")->required();
  sub->add_option("--r1", a->r1_weight, "R1 weight gamma in the loss")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_dtype_option(*sub, a->dtype);
  sub->add_option("--out", a->out, "Output .safetensors (loss, bce, r1 and one gradient per parameter)")->required();
  return {sub, [a] { return run_grads(*a); }};
}

}  // namespace atebm::cli
