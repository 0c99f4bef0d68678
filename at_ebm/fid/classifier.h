#pragma once
// A domain classifier for small images: for 28×28 grey data Inception features mean little, so
// FID/KID use the penultimate features of a ResNet trained on the labelled dataset instead
// (`atebm train-classifier`, `atebm fid --features classifier:CKPT`).
//
//   ClassifierOptions opt{.train = open_dataset("fashion-mnist:train"),
//                         .test = open_dataset("fashion-mnist:test"), .out = "clf.safetensors"};
//   ClassifierResult r = train_classifier(opt);           // r.test_accuracy, r.seconds
//   auto net = load_classifier("clf.safetensors");
//   Tensor f = classifier_features(*net, images);         // [N, widths[3]·expansion]
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "at_ebm/data/dataset.h"
#include "at_ebm/fid/fid_eval.h"
#include "engine/tensor.h"
#include "nn/models/resnet.h"

namespace atebm::at_ebm {

/// What one epoch did, for progress lines.
struct ClassifierEpoch {
  int64_t epoch = 0;           // 1-based
  double train_loss = 0.0;     // mean cross-entropy over the epoch's batches
  double train_accuracy = 0.0; // on the (augmented) training batches, in train mode
  double test_accuracy = 0.0;
  double seconds = 0.0;        // since training began
};

struct ClassifierOptions {
  data::DatasetPtr train, test;  // labelled sets of one image shape
  /// A resnet model config; null: default_classifier_config(train). Fields it leaves out take
  /// the default config's values (in_channels and num_classes always follow the data).
  nlohmann::json model_config;
  int64_t epochs = 5;
  int64_t batch_size = 128;
  double lr = 1e-3;
  std::string optimizer = "adam";  // "adam" | "sgd" (momentum 0.9, weight decay 5e-4); both cosine-annealed to 0
  std::string augment = "crop=2,flip";
  uint64_t seed = 0;
  std::string device = "cpu";
  std::string out;  // the model file (nn::save_model); "" writes nothing
  std::function<void(const ClassifierEpoch&)> on_epoch;  // may be empty
};

struct ClassifierResult {
  double test_accuracy = 0.0;
  double seconds = 0.0;  // training time, evaluation included
  nlohmann::json config; // the complete model config
};

/// The default classifier of a labelled set: resnet, basic blocks [1, 1, 1, 1], widths
/// [32, 64, 128, 256], in_channels and num_classes from the data, mean 0.5 / std 0.25 per channel,
/// pool = the final feature map's size (4 for 28×28 and 32×32: a global average).
nlohmann::json default_classifier_config(const data::Dataset& train);

/// Trains a classifier with cross-entropy and writes it to opt.out. Throws atebm::Error for
/// unlabelled sets, sets whose shapes or class counts differ, or invalid options.
ClassifierResult train_classifier(const ClassifierOptions& opt);

/// Fraction of `test` the model (in eval mode) labels correctly; restores the model's mode.
double evaluate_accuracy(nn::ResNet& model, const data::Dataset& test, int64_t batch_size = 256);

/// A model file that holds a ResNet, in eval mode. Throws atebm::Error naming the file otherwise.
std::shared_ptr<nn::ResNet> load_classifier(const std::string& path);

/// The penultimate features of images [N, C, H, W] in [0, 1]: float32 [N, K] on the CPU,
/// computed without gradients in eval mode.
Tensor classifier_features(nn::ResNet& model, const Tensor& images);

/// The features of the images of `ds` chosen by `opt` (n, seed, batch_size, progress as for
/// inception_features; logits is ignored): float32 [n, K] on the CPU. Grey images stay grey; the
/// set's channel count must be the model's in_channels.
Tensor classifier_features(nn::ResNet& model, const data::Dataset& ds, const FeatureOptions& opt);

}  // namespace atebm::at_ebm
