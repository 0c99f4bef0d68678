#include "at_ebm/fid/classifier.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "at_ebm/data/augment.h"
#include "at_ebm/data/loader.h"
#include "at_ebm/fid/fid_eval.h"
#include "at_ebm/method/sampler.h"
#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "engine/generator.h"
#include "nn/io/model_file.h"
#include "nn/models/model_config.h"
#include "nn/optim/adam.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/sgd.h"
#include "ops/loss.h"
#include "ops/shape_ops.h"

namespace atebm::at_ebm {

namespace {

using Clock = std::chrono::steady_clock;

// Side of the final feature map: conv1 keeps the size, layer2..4 halve it (3×3, stride 2, pad 1).
int64_t final_map_size(int64_t side) {
  for (int i = 0; i < 3; ++i) side = (side - 1) / 2 + 1;
  return side;
}

void check_sets(const ClassifierOptions& opt) {
  ATEBM_CHECK(opt.train && opt.test, "train_classifier: both a training and a test set are needed");
  ATEBM_CHECK(opt.train->has_labels(), "train_classifier: {} has no labels; a classifier needs a labelled set",
              opt.train->name());
  ATEBM_CHECK(opt.test->has_labels(), "train_classifier: {} has no labels; the test accuracy needs a labelled set",
              opt.test->name());
  ATEBM_CHECK(opt.train->shape() == opt.test->shape(), "train_classifier: the training images are {} but the test images {}",
              data::shape_str(opt.train->shape()), data::shape_str(opt.test->shape()));
  ATEBM_CHECK(opt.test->num_classes() <= opt.train->num_classes(),
              "train_classifier: the test set has {} classes but the training set only {}", opt.test->num_classes(),
              opt.train->num_classes());
  ATEBM_CHECK(opt.epochs >= 1, "train_classifier: epochs must be >= 1, got {}", opt.epochs);
  ATEBM_CHECK(opt.batch_size >= 1 && opt.batch_size <= opt.train->size(),
              "train_classifier: batch_size must be in [1, {}] (the training set's size), got {}", opt.train->size(),
              opt.batch_size);
  ATEBM_CHECK(opt.lr > 0.0, "train_classifier: lr must be > 0, got {}", opt.lr);
  ATEBM_CHECK(opt.optimizer == "adam" || opt.optimizer == "sgd",
              "train_classifier: optimizer must be 'adam' or 'sgd', got '{}'", opt.optimizer);
}

// The default config overridden by the given fields; channels and classes always follow the data.
nlohmann::json model_config(const ClassifierOptions& opt) {
  nlohmann::json cfg = default_classifier_config(*opt.train);
  if (!opt.model_config.is_null()) {
    ATEBM_CHECK(opt.model_config.is_object(), "train_classifier: the model config must be a JSON object, got {}",
                opt.model_config.dump());
    ATEBM_CHECK(opt.model_config.value("arch", std::string("resnet")) == "resnet",
                "train_classifier: the classifier must be a resnet, got arch {}", opt.model_config["arch"].dump());
    for (const auto& [key, value] : opt.model_config.items()) cfg[key] = value;
    ATEBM_CHECK(cfg["in_channels"] == opt.train->shape().c && cfg["num_classes"] == opt.train->num_classes(),
                "train_classifier: the model config has in_channels {} and num_classes {}, but the data has {} "
                "channels and {} classes",
                cfg["in_channels"].dump(), cfg["num_classes"].dump(), opt.train->shape().c,
                opt.train->num_classes());
  }
  return nn::complete_config(cfg);
}

std::unique_ptr<nn::Optimizer> make_optimizer(const ClassifierOptions& opt, const nn::Module& model) {
  if (opt.optimizer == "sgd")
    return std::make_unique<nn::Sgd>(model.named_parameters(),
                                     nn::SgdOptions{.lr = opt.lr, .momentum = 0.9, .weight_decay = 5e-4});
  return std::make_unique<nn::Adam>(model.named_parameters(), nn::AdamOptions{.lr = opt.lr});
}

// Correct predictions among the rows of logits [B, K] (any device) against labels [B] int64.
int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const Tensor l = copy_to(detach(logits), Device::cpu(), DType::Float32);
  const Tensor y = copy_to(labels, Device::cpu(), DType::Int64);
  const int64_t b = l.size(0), k = l.size(1);
  const float* p = l.data<float>();
  const int64_t* t = y.data<int64_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < b; ++i) {
    const float* row = p + i * k;
    correct += (std::max_element(row, row + k) - row) == t[i] ? 1 : 0;
  }
  return correct;
}

// Images [first, first + b) of `ds` as [b, C, H, W] float32, and their labels [b] int64.
Tensor load_labelled(const data::Dataset& ds, int64_t first, int64_t b, Tensor& labels) {
  const data::ImageShape s = ds.shape();
  Tensor images = empty({b, s.c, s.h, s.w});
  labels = empty({b}, {.dtype = DType::Int64});
  for (int64_t i = 0; i < b; ++i)
    labels.data<int64_t>()[i] = ds.get_into(first + i, images.data<float>() + i * s.numel());
  return images;
}

Device model_device(const nn::Module& model) {
  const auto params = model.named_parameters();
  return params.empty() ? Device::cpu() : params.front().second.device();
}

// Runs f in eval mode and restores the model's mode afterwards (also when f throws).
template <class F>
auto in_eval_mode(nn::Module& model, F&& f) {
  struct Restore {
    nn::Module& m;
    bool was;
    ~Restore() { m.train(was); }
  } restore{model, model.is_training()};
  model.eval();
  NoGradGuard no_grad;
  return f();
}

}  // namespace

nlohmann::json default_classifier_config(const data::Dataset& train) {
  const data::ImageShape s = train.shape();
  const std::vector<double> mean(static_cast<size_t>(s.c), 0.5), std(static_cast<size_t>(s.c), 0.25);
  return {{"arch", "resnet"},
          {"block", "basic"},
          {"layers", {1, 1, 1, 1}},
          {"widths", {32, 64, 128, 256}},
          {"in_channels", s.c},
          {"num_classes", train.num_classes()},
          {"pool", std::min(final_map_size(s.h), final_map_size(s.w))},
          {"mean", mean},
          {"std", std}};
}

ClassifierResult train_classifier(const ClassifierOptions& opt) {
  check_sets(opt);
  const auto t0 = Clock::now();
  const nlohmann::json config = model_config(opt);
  Generator gen(opt.seed);
  std::shared_ptr<nn::Module> built = nn::build_model(config, gen);
  auto model = std::dynamic_pointer_cast<nn::ResNet>(built);
  ATEBM_CHECK(model != nullptr, "train_classifier: the model config does not build a ResNet");
  const Device device = Device::parse(opt.device);
  model->to(device);
  model->train();

  data::Loader loader(opt.train, {.batch_size = opt.batch_size,
                                  .shuffle = true,
                                  .drop_last = true,
                                  .seed = opt.seed,
                                  .augment = data::parse_augment(opt.augment)});
  std::unique_ptr<nn::Optimizer> optimizer = make_optimizer(opt, *model);
  const int64_t total_steps = opt.epochs * loader.batches_per_epoch();
  const nn::LrSchedule schedule = nn::LrSchedule::parse(fmt::format("cosine:T={}", total_steps), opt.lr);

  ClassifierResult result;
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= opt.epochs; ++epoch) {
    double loss_sum = 0.0;
    int64_t correct = 0, seen = 0, batches = 0;
    for (bool last = false; !last;) {
      const data::Batch batch = loader.next();
      last = batch.last_in_epoch;
      const Tensor labels = copy_to(batch.labels, device, DType::Int64);
      optimizer->set_lr(schedule.lr_at(step++));
      optimizer->zero_grad();
      const Tensor logits = model->forward(copy_to(batch.images, device, DType::Float32));
      const Tensor loss = cross_entropy(logits, labels);
      backward(loss);
      optimizer->step();
      loss_sum += loss.item();
      correct += count_correct(logits, labels);
      seen += labels.size(0);
      ++batches;
    }
    result.test_accuracy = evaluate_accuracy(*model, *opt.test);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (opt.on_epoch)
      opt.on_epoch({.epoch = epoch,
                    .train_loss = loss_sum / static_cast<double>(batches),
                    .train_accuracy = static_cast<double>(correct) / static_cast<double>(seen),
                    .test_accuracy = result.test_accuracy,
                    .seconds = seconds});
  }
  model->eval();
  model->to(Device::cpu());
  if (!opt.out.empty()) nn::save_model(opt.out, *model, config);
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  result.config = config;
  return result;
}

double evaluate_accuracy(nn::ResNet& model, const data::Dataset& test, int64_t batch_size) {
  ATEBM_CHECK(test.has_labels(), "evaluate_accuracy: {} has no labels", test.name());
  ATEBM_CHECK(batch_size >= 1, "evaluate_accuracy: batch_size must be >= 1, got {}", batch_size);
  const Device device = model_device(model);
  return in_eval_mode(model, [&] {
    int64_t correct = 0;
    for (int64_t first = 0; first < test.size(); first += batch_size) {
      const int64_t b = std::min(batch_size, test.size() - first);
      Tensor labels;
      const Tensor images = load_labelled(test, first, b, labels);
      const Tensor logits = model.forward(copy_to(images, device, DType::Float32));
      correct += count_correct(logits, labels);
    }
    return static_cast<double>(correct) / static_cast<double>(test.size());
  });
}

std::shared_ptr<nn::ResNet> load_classifier(const std::string& path) {
  nn::LoadedModel loaded = nn::load_model(path);
  auto net = std::dynamic_pointer_cast<nn::ResNet>(loaded.model);
  ATEBM_CHECK(net != nullptr, "{}: expected a classifier (a resnet model file, `atebm train-classifier`), got arch {}",
              path, loaded.config.value("arch", std::string("?")));
  net->eval();
  return net;
}

Tensor classifier_features(nn::ResNet& model, const Tensor& images) {
  const Device device = model_device(model);
  return in_eval_mode(model, [&] {
    return copy_to(model.features(copy_to(images, device, DType::Float32)), Device::cpu(), DType::Float32);
  });
}

Tensor classifier_features(nn::ResNet& model, const data::Dataset& ds, const FeatureOptions& opt) {
  ATEBM_CHECK(ds.shape().c == model.config().in_channels,
              "classifier_features: {} has {} channels but the classifier takes {}", ds.name(), ds.shape().c,
              model.config().in_channels);
  Tensor out;
  for_each_feature_batch(ds, opt, "classifier_features", [&](int64_t first, int64_t n, const Tensor& images) {
    const Tensor f = classifier_features(model, images);
    if (!out.defined()) out = empty({n, f.size(1)});
    copy_into(narrow(out, 0, first, f.size(0)), f);
  });
  return out;
}

}  // namespace atebm::at_ebm
