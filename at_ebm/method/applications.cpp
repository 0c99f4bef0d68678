#include "at_ebm/method/applications.h"

#include <cmath>

#include "at_ebm/data/random_draw.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

// A float32 CPU copy without history of an image batch [n, C, H, W].
Tensor checked_images(const Tensor& images, const char* what) {
  ATEBM_CHECK(images.defined() && images.dim() == 4 && images.size(0) >= 1,
              "{}: expected images [n, C, H, W] with n >= 1, got {}", what,
              images.defined() ? shape_str(images.shape()) : std::string("an undefined tensor"));
  ATEBM_CHECK(is_floating(images.dtype()), "{}: expected floating images, got dtype {}", what, images.dtype());
  return copy_to(detach(images), Device::cpu(), DType::Float32);
}

}  // namespace

Generator application_generator(uint64_t seed, uint64_t stream) {
  return Generator(data::mix64(data::mix64(seed) + stream));
}

Translation translate(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& images, const SampleOptions& opt,
                      const FrameObserver& observer) {
  Translation t;
  t.before = checked_images(images, "translate");
  t.after = pgd_batched(f, params, t.before, opt, Tensor(), observer);
  return t;
}

Denoising denoise(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& clean, double sigma,
                  const SampleOptions& opt, const FrameObserver& observer) {
  ATEBM_CHECK(std::isfinite(sigma) && sigma >= 0.0, "denoise: sigma must be finite and >= 0, got {}", sigma);
  Denoising d;
  d.clean = checked_images(clean, "denoise");
  Generator gen = application_generator(opt.seed, 1);
  {
    NoGradGuard no_grad;
    d.noisy = contiguous(clamp(add(d.clean, mul(randn(d.clean.shape(), {}, &gen), sigma)), 0.0, 1.0));
  }
  d.restored = pgd_batched(f, params, d.noisy, opt, Tensor(), observer);
  return d;
}

Inpainting inpaint(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& original, const Tensor& mask,
                   const SampleOptions& opt, const InpaintFill& fill, const FrameObserver& observer) {
  Inpainting r;
  r.original = checked_images(original, "inpaint");
  ATEBM_CHECK(mask.defined() && mask.dim() == 4 && (mask.size(0) == 1 || mask.size(0) == r.original.size(0)) &&
                  mask.size(1) == 1 && mask.size(2) == r.original.size(2) && mask.size(3) == r.original.size(3),
              "inpaint: expected a mask [1 or {}, 1, {}, {}], got {}", r.original.size(0), r.original.size(2),
              r.original.size(3), mask.defined() ? shape_str(mask.shape()) : std::string("an undefined tensor"));
  const Tensor m = copy_to(detach(mask), Device::cpu(), DType::Float32);
  {
    NoGradGuard no_grad;
    Tensor value;
    if (fill.kind == InpaintFill::Kind::Noise) {
      Generator gen = application_generator(opt.seed, 2);
      value = rand(r.original.shape(), {}, &gen);
    } else {
      ATEBM_CHECK(fill.value >= 0.0 && fill.value <= 1.0, "inpaint: the constant fill must be in [0, 1], got {}",
                  fill.value);
      value = full(r.original.shape(), fill.value);
    }
    r.masked = contiguous(where(ne(m, 0.0), value, r.original));
  }
  r.filled = pgd_batched(f, params, r.masked, opt, m, observer);
  return r;
}

}  // namespace atebm::at_ebm
