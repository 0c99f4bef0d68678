#pragma once
// The applications of generation (Sec. 4 of the paper): the same PGD ascent on f, started from
// other images.
//   translate: images of another domain (e.g. photos for a model of paintings) → PGD steps;
//              how far they move is chosen by steps · step size.
//   denoise:   clean images + N(0, σ²) noise, clamped to [0, 1] → PGD.
//   inpaint:   the masked pixels replaced by uniform noise (or a constant) → PGD on those
//              pixels only (the mask is PgdOptions::mask), so every other pixel is kept exactly.
// Inputs are float32 image batches [n, C, H, W] in [0, 1] (draw_images(dataset, n, seed) in
// sampler.h draws them from a dataset); PGD runs opt.batch_size images at a time with
// opt.steps steps of opt.step_size (opt.n is ignored). Outputs are CPU float32 [n, C, H, W] in
// [0, 1], ready for a comparison grid (image_grid.h).
//
// Random draws (denoising noise, inpainting noise) come from application_generator(opt.seed, ·),
// one stream per use, so a seed reproduces the outputs exactly, whatever the batch size.
#include <cstdint>

#include "at_ebm/method/sampler.h"

namespace atebm::at_ebm {

/// Independent random streams derived from one seed: stream 1 denoising noise, 2 inpainting
/// noise, 3 random inpainting masks (the commands draw p0 / input images with the seed itself).
Generator application_generator(uint64_t seed, uint64_t stream);

struct Translation {
  Tensor before, after;
};
Translation translate(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& images, const SampleOptions& opt,
                      const FrameObserver& observer = {});

struct Denoising {
  Tensor clean, noisy, restored;
};
/// noisy = clamp(clean + σ · ε, 0, 1), ε ~ N(0, 1) from application_generator(opt.seed, 1);
/// restored = PGD from noisy. σ must be finite and >= 0.
Denoising denoise(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& clean, double sigma,
                  const SampleOptions& opt, const FrameObserver& observer = {});

struct InpaintFill {
  enum class Kind { Noise, Constant };
  Kind kind = Kind::Noise;  // Noise: U[0, 1) from application_generator(opt.seed, 2)
  double value = 0.5;       // Constant: this value in [0, 1]
};

struct Inpainting {
  Tensor original, masked, filled;
};
/// mask [1 or n, 1, H, W], 1 = fill (io/mask.h). masked = original with the masked pixels set to
/// the fill; filled = PGD from masked with the mask, so filled equals original wherever mask = 0.
Inpainting inpaint(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& original, const Tensor& mask,
                   const SampleOptions& opt, const InpaintFill& fill = {}, const FrameObserver& observer = {});

}  // namespace atebm::at_ebm
