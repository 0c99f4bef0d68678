#include "at_ebm/train/presets.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.h"

namespace atebm::at_ebm {
namespace {

using nlohmann::json;

// The robustness library's CIFAR ResNet-50 with the paper's input normalisation.
json cifar_resnet50() {
  return {{"arch", "resnet"}, {"block", "bottleneck"}, {"layers", {3, 4, 6, 3}}, {"widths", {64, 128, 256, 512}},
          {"in_channels", 3}, {"num_classes", 10}, {"pool", 4},
          {"mean", {0.4914, 0.4822, 0.4465}}, {"std", {0.2023, 0.1994, 0.2010}}};
}

// The paper's CIFAR-10 recipe (DESIGN.md): batch 32 + 32, Adam 5e-4 betas (0, 0.99), λ = 0.1,
// K 0 → 25, R1 0.01, 5 in-distribution descent steps, crop (pad 4) + flip on both streams,
// p0 = 80 Million Tiny Images without the CIFAR images.
json cifar10_config() {
  return {{"model", cifar_resnet50()},
          {"data", {{"shape", {3, 32, 32}}, {"batch_size", 32}, {"augment", "crop=4,flip"}, {"p0_augment", "crop=4,flip"}}},
          {"attack", {{"step_size", 0.1}, {"start_step", 0}, {"max_steps", 25}, {"auc_threshold", 0.8}}},
          {"indist_attack", {{"steps", 5}, {"step_size", 0.1}}},
          {"loss", {{"r1_weight", 0.01}}},
          {"optim", {{"name", "adam"}, {"lr", 5e-4}, {"beta1", 0.0}, {"beta2", 0.99}}},
          {"train", {{"checkpoint_every", 1000}, {"log_every", 100}}},
          {"sample", {{"steps", 32}, {"step_size", 0.2}, {"n", 100}, {"batch_size", 100}}}};
}

// 256×256 sets: StarGAN-v2-style discriminator, batch 40, Adam 5e-5, λ = 2.0, R1 in 30–100.
json hires_config(double r1_weight) {
  // The paper's code feeds ImageNet-normalised images; the model does it itself here.
  return {{"model", {{"arch", "stargan_discriminator"}, {"img_size", 256}, {"max_conv_dim", 512}, {"num_outputs", 1},
                     {"mean", {0.485, 0.456, 0.406}}, {"std", {0.229, 0.224, 0.225}}}},
          {"data", {{"shape", {3, 256, 256}}, {"batch_size", 40}, {"augment", "flip"}, {"p0_augment", "flip"}}},
          {"attack", {{"step_size", 2.0}, {"start_step", 0}, {"max_steps", 25}, {"auc_threshold", 0.8}}},
          {"loss", {{"r1_weight", r1_weight}}},
          {"optim", {{"name", "adam"}, {"lr", 5e-5}, {"beta1", 0.0}, {"beta2", 0.99}}},
          {"train", {{"checkpoint_every", 1000}, {"log_every", 100}}},
          {"sample", {{"steps", 40}, {"step_size", 2.0}, {"n", 16}, {"batch_size", 16}}}};
}

std::vector<Preset> make_presets() {
  std::vector<Preset> p;
  // The CPU default: a small ResNet on Fashion-MNIST. p0 mixes three kinds of synthetic noise,
  // so that the default job needs no data beyond Debian's package; the smooth fields bring dark
  // and bright backgrounds (DESIGN.md: a p0 without them teaches D "dark background ⇒ real").
  // λ = 1.0 and K up to 40 because p0 lies far from the data (λ·K must be large); the window of
  // 50 iterations raises K quickly while D still wins easily. docs/README.md has a 30-minute run.
  p.push_back({"fashion-mnist",
               "small ResNet on Fashion-MNIST (28x28 grey), diverse synthetic p0; the CPU default",
               {{"model",
                 {{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}}, {"widths", {32, 64, 128, 256}},
                  {"in_channels", 1}, {"num_classes", 1}, {"pool", 4}, {"mean", {0.2860}}, {"std", {0.3530}}}},
                {"data",
                 {{"train", "fashion-mnist:train"},
                  {"p0", {"uniform:20000:seed=1", "gaussian:20000:rescale:seed=2", "smooth:20000:seed=3"}},
                  {"shape", {1, 28, 28}},
                  {"batch_size", 32},
                  {"workers", 1}}},
                {"attack", {{"step_size", 1.0}, {"start_step", 0}, {"max_steps", 40}, {"epochs_per_step", 1},
                            {"auc_threshold", 0.8}, {"auc_window", 50}}},
                {"loss", {{"r1_weight", 0.01}}},
                {"optim", {{"name", "adam"}, {"lr", 5e-4}, {"beta1", 0.0}, {"beta2", 0.99}}},
                {"train", {{"max_seconds", 1800}, {"checkpoint_every", 200}, {"log_every", 20}}},
                {"sample", {{"steps", 40}, {"step_size", 1.0}, {"n", 64}, {"batch_size", 64}}}},
               {}});
  p.push_back({"toy2d", "the paper's 2-D experiment (Fig. 1): MLP, Gaussian p_data, uniform p0", json::object(), {}});
  p.push_back({"cifar10", "the paper's CIFAR-10 generation recipe (ResNet-50, p0 = 80M Tiny Images)", cifar10_config(),
               {{"data.train", "cifar10:/data/cifar10:train"},
                {"data.p0", "tinyimages:/data/tiny_images.bin:exclude=/data/80mn_cifar_idxs.txt"}}});
  {
    json c = cifar10_config();
    // The OOD-detection model: the same recipe; the OOD sets are evaluated with `atebm ood`,
    // never put into p0.
    p.push_back({"cifar10-ood", "the CIFAR-10 recipe as used for the OOD-detection tables", c,
                 {{"data.train", "cifar10:/data/cifar10:train"},
                  {"data.p0", "tinyimages:/data/tiny_images.bin:exclude=/data/80mn_cifar_idxs.txt"}}});
  }
  p.push_back({"celebahq256", "CelebA-HQ 256x256 (StarGAN-v2 discriminator)", hires_config(30.0),
               {{"data.train", "folder:/data/celeba_hq/train"}, {"data.p0", "folder:/data/p0_images@size=256"}}});
  p.push_back({"afhq-cat256", "AFHQ cats 256x256 (StarGAN-v2 discriminator)", hires_config(100.0),
               {{"data.train", "folder:/data/afhq/train:cat"}, {"data.p0", "folder:/data/p0_images@size=256"}}});
  p.push_back({"church256", "LSUN church 256x256 (StarGAN-v2 discriminator)", hires_config(100.0),
               {{"data.train", "folder:/data/lsun_church@size=256"}, {"data.p0", "folder:/data/p0_images@size=256"}}});
  for (Preset& q : p)
    if (!q.config.is_null() && q.name != "toy2d") q.config["preset"] = q.name;
  return p;
}

}  // namespace

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = make_presets();
  return all;
}

const Preset& find_preset(const std::string& name) {
  std::vector<std::string> names;
  for (const Preset& p : presets()) {
    if (p.name == name) return p;
    names.push_back(p.name);
  }
  ATEBM_FAIL("unknown preset \"{}\"; known presets: {}", name, fmt::join(names, ", "));
}

}  // namespace atebm::at_ebm
