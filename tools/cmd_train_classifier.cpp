// `atebm train-classifier`: a domain classifier for FID/KID on small images (at_ebm/fid/classifier.h).
// Trains a ResNet with cross-entropy on a labelled set, prints the loss and accuracies of every
// epoch and the final test accuracy, and writes the model file that `atebm fid --features
// classifier:FILE` reads.
//
//   atebm train-classifier --data fashion-mnist:train --test fashion-mnist:test --out clf.safetensors
//   atebm train-classifier --data mnist:train --test mnist:test --out c.safetensors --epochs 10
//       --optimizer sgd --lr 0.05 --model-config '{"widths": [16, 32, 64, 128]}'
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "at_ebm/data/augment.h"
#include "at_ebm/data/spec.h"
#include "at_ebm/fid/classifier.h"
#include "engine/parallel.h"
#include "nn/models/model_config.h"
#include "tools/cmd_common.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

struct TrainClassifierArgs {
  std::string data, test, out, model_config, optimizer = "adam", augment = "crop=2,flip";
  int64_t epochs = 5, batch_size = 128;
  double lr = 1e-3;
  uint64_t seed = 0;
  ModelChoice compute;  // only the compute options (add_compute_options)
};

// Usage problems found before any data is read: each one a usage error (exit code 2).
at_ebm::ClassifierOptions options_from(const TrainClassifierArgs& a) {
  at_ebm::ClassifierOptions opt{.epochs = a.epochs,
                                .batch_size = a.batch_size,
                                .lr = a.lr,
                                .optimizer = a.optimizer,
                                .augment = a.augment,
                                .seed = a.seed,
                                .device = a.compute.device,
                                .out = a.out};
  try {
    data::parse_augment(a.augment);
    if (!a.model_config.empty()) opt.model_config = nn::parse_json(a.model_config, "--model-config");
  } catch (const Error& e) {
    check_usage(false, e.what());
  }
  check_usage(opt.model_config.is_null() || opt.model_config.is_object(),
              "--model-config must be a JSON object such as '{\"widths\": [16, 32, 64, 128]}'");
  return opt;
}

int run_train_classifier(const TrainClassifierArgs& a) {
  at_ebm::ClassifierOptions opt = options_from(a);
  if (a.compute.threads > 0) set_num_threads(a.compute.threads);
  apply_math_options(a.compute, MathMode{}, Device::parse(a.compute.device));
  opt.train = data::open_dataset(a.data);
  opt.test = data::open_dataset(a.test, opt.train->shape());
  fmt::print("train: {} ({} images, {}, {} classes)\ntest: {} ({} images)\n", a.data, opt.train->size(),
             data::shape_str(opt.train->shape()), opt.train->num_classes(), a.test, opt.test->size());
  std::fflush(stdout);
  opt.on_epoch = [&](const at_ebm::ClassifierEpoch& e) {
    fmt::print("epoch {}/{}: loss {:.4f}, train accuracy {:.4f}, test accuracy {:.4f} ({:.0f} s)\n", e.epoch, a.epochs,
               e.train_loss, e.train_accuracy, e.test_accuracy, e.seconds);
    std::fflush(stdout);
  };
  const at_ebm::ClassifierResult r = at_ebm::train_classifier(opt);
  fmt::print("test accuracy: {:.4f}\ntraining time: {:.1f} s\nwrote {}\n", r.test_accuracy, r.seconds, a.out);
  return 0;
}

}  // namespace

Command add_train_classifier_command(CLI::App& parent) {
  auto a = std::make_shared<TrainClassifierArgs>();
  CLI::App* sub = parent.add_subcommand(
      "train-classifier", "Train a ResNet classifier on a labelled set (features for `atebm fid --features classifier:FILE`)");
  sub->add_option("--data", a->data, "Labelled training images as a dataset spec")->required();
  sub->add_option("--test", a->test, "Labelled test images as a dataset spec (converted to the training shape)")
      ->required();
  sub->add_option("--out", a->out, "The classifier's model file (.safetensors)")->required();
  sub->add_option("--epochs", a->epochs, "Passes over the training set")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--batch-size", a->batch_size, "Images per step")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--lr", a->lr, "Initial learning rate (cosine-annealed to 0)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--optimizer", a->optimizer, "adam, or sgd (momentum 0.9, weight decay 5e-4)")
      ->check(CLI::IsMember({"adam", "sgd"}))
      ->capture_default_str();
  sub->add_option("--augment", a->augment, "Training augmentation: crop=P, flip, rrc (comma-separated) or none")
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "Initial weights, shuffling and augmentation")->capture_default_str();
  sub->add_option("--model-config", a->model_config,
                  "Resnet config fields as JSON, over the default {\"block\": \"basic\", \"layers\": [1, 1, 1, 1], "
                  "\"widths\": [32, 64, 128, 256]} (channels and classes come from the data)");
  add_compute_options(*sub, a->compute);
  return {sub, [a] { return run_train_classifier(*a); }};
}

}  // namespace atebm::cli
