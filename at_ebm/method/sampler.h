#pragma once
// Generation (Sec. 3 of the paper): images drawn from p0 are moved by PGD ascent on the trained
// model's score f(x) = logit 0 (Eq. 8, λ = step size, K = steps; CIFAR-10: 32 steps of 0.2),
// batch by batch. The same batched loop serves translation, denoising and inpainting
// (applications.h), which differ only in where the start images come from and in a mask.
//
// Determinism: which p0 images are drawn is a function of (dataset size, n, seed) alone; PGD
// without a random start is deterministic; so the samples depend on the seed, the data and the
// model, not on the batch size or the thread count (up to float summation order in the model).
//
// Every result lives on the CPU as float32 [n, C, H, W] in [0, 1]; when the model's parameters
// live on a GPU, each batch is moved there for the PGD and back.
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "at_ebm/data/dataset.h"
#include "at_ebm/method/pgd.h"
#include "nn/module.h"
#include "ops/math_mode.h"

namespace atebm::at_ebm {

struct SampleOptions {
  int64_t n = 64;           // images to produce
  int64_t batch_size = 64;  // images per PGD batch
  int64_t steps = 32;       // K
  double step_size = 0.2;   // λ
  double eps = std::numeric_limits<double>::infinity();  // L2 radius around the start (∞: none)
  uint64_t seed = 0;        // which p0 images (and every other random draw of an application)
};

/// Throws atebm::Error naming the field for n < 1, batch_size < 1, steps < 0, a step size that is
/// negative or not finite, or a negative ε.
void check_sample_options(const SampleOptions& opt);

/// Called with step 0 for the start of each batch, then after each step k = 1..steps, with the
/// batch's images [first, first + B) as x [B, C, H, W] (on the model's device; do not modify).
using FrameObserver = std::function<void(int64_t step, int64_t first, const Tensor& x)>;

/// f(x) = nn::energy_logit(model, x): [N, C, H, W] → [N]. `model` must outlive the result.
ScoreFn model_score(nn::Module& model);

/// `n` distinct indices of [0, size) drawn by a partial Fisher–Yates shuffle from Generator(seed)
/// (memory O(n), so a subset of Tiny Images costs no 80M-entry permutation). For n > size each
/// further run of `size` indices is a fresh permutation of the whole set.
std::vector<int64_t> draw_indices(int64_t size, int64_t n, uint64_t seed);

/// Images `indices` of `ds` as float32 [n, C, H, W] on the CPU.
Tensor load_images(const data::Dataset& ds, const std::vector<int64_t>& indices);

/// load_images(ds, draw_indices(ds.size(), n, seed)): the start of generation.
Tensor draw_images(const data::Dataset& ds, int64_t n, uint64_t seed);

/// PGD ascent on f from every image of `start` ([n, C, H, W]), opt.batch_size images at a time,
/// opt.steps steps of opt.step_size (opt.n is ignored: n is start's first size). `params` (the
/// model's) are frozen during the run. `mask` (optional, [n or 1, 1, H, W], 1 = may move) limits
/// the pixels that change. Returns float32 [n, C, H, W] in [0, 1] on the CPU.
Tensor pgd_batched(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& start, const SampleOptions& opt,
                   const Tensor& mask = Tensor(), const FrameObserver& observer = {});

/// Generation: opt.n images of p0 drawn with opt.seed (draw_images), moved by PGD on f. The
/// start images are loaded batch by batch, so only the result holds all n.
Tensor generate(const ScoreFn& f, const nn::NamedTensors& params, const data::Dataset& p0, const SampleOptions& opt,
                const FrameObserver& observer = {});
/// The same with f = the model's logit 0 (call model.eval() first: BatchNorm stays in eval mode).
Tensor generate(nn::Module& model, const data::Dataset& p0, const SampleOptions& opt,
                const FrameObserver& observer = {});

// ---- what the commands sample from: a run folder or a bare model file -----------------------

/// A trained model with what generation needs to know about it.
struct SamplingSetup {
  std::shared_ptr<nn::Module> model;  // eval mode (BatchNorm always is for this method), on `device`
  nlohmann::json model_config;        // complete model config from the model file
  data::ImageShape shape;             // the model's input images; c = 0 until known (bare model file)
  nlohmann::json p0;                  // run: sample.p0, else data.p0; null for a bare model file
  SampleOptions sample;               // run: its "sample" block over the defaults
  std::string run_dir;                // "" for a bare model file
  MathMode math;                      // how the model runs on CUDA: a run's train.tf32,
                                      // train.conv_algo and train.cudnn_algo_search (what it was
                                      // trained with); the defaults for a bare model file
};

/// A run folder written by the trainer: DIR/model.safetensors and DIR/config.json with
/// {"model": ..., "data": {"train": SPEC, "p0": SPEC | [SPEC, ...], "shape": [C, H, W]?},
///  "sample": {"steps", "step_size", "n", "batch_size", "seed", "p0"?},
///  "train": {"tf32", "conv_algo", "cudnn_algo_search"}?} (missing sample and train fields keep
/// the defaults; without data.shape the shape comes from the model and the train spec).
/// Throws atebm::Error naming the file and field that is missing or wrong.
SamplingSetup open_run(const std::string& dir, Device device = Device::cpu());

/// A bare model file (nn::save_model); shape stays unknown until resolve_shape().
SamplingSetup open_model_file(const std::string& path, Device device = Device::cpu());

/// The input shape of the model a config describes, taking from `hint` (a dataset's image shape)
/// what the config leaves open: resnet → [in_channels, hint.h, hint.w]; stargan_discriminator →
/// [3, img_size, img_size]. Throws for an MLP (it takes vectors, not images) or a bad hint.
data::ImageShape model_input_shape(const nlohmann::json& model_config, const data::ImageShape& hint);

/// Fills setup.shape when still unknown, with the hint of the first spec of `specs` (a spec
/// string or a JSON list of them) opened as it is.
void resolve_shape(SamplingSetup& setup, const nlohmann::json& specs);

}  // namespace atebm::at_ebm
