#pragma once
// Synthetic image sets, generated on the fly: uniform noise, Gaussian noise, smooth random
// fields, constant images.
// Image i is a pure function of (seed, i): it comes from the Philox stream of Generator(seed) at
// offset i·B, B = ⌈numel/4⌉ + 1 blocks (float32 draws take 4 values per block), so any image can
// be produced by any thread in any order with identical bits.
#include <cstdint>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

/// Each value uniform in [0, 1).
DatasetPtr make_uniform(int64_t n, const ImageShape& shape, uint64_t seed = 0);

enum class GaussianMode {
  Clip,     // mean + std·z clamped into [0, 1]
  Rescale,  // mean + std·z mapped per image by min → 0, max → 1
};
/// Gaussian noise; the defaults are N(0.5, 0.25²) clipped (N(0, 0.5²) clipped to [-1, 1] in the
/// [-1, 1] convention of Hendrycks et al.'s OOD benchmarks).
DatasetPtr make_gaussian(int64_t n, const ImageShape& shape, GaussianMode mode = GaussianMode::Clip,
                         double mean = 0.5, double std = 0.25, uint64_t seed = 0);

/// Smooth random images: per image and channel a random grid of cells×cells values in [0, 1)
/// (cells drawn from [2, max_cells]), bilinearly interpolated to the image size, then mapped
/// into a random sub-range [lo, hi] of [0, 1]. Blobs, gradients and dark or bright backgrounds:
/// the low-frequency structure that uniform and Gaussian noise lack, for a diverse p0.
DatasetPtr make_smooth(int64_t n, const ImageShape& shape, int64_t max_cells = 7, uint64_t seed = 0);

/// Every value equal to `value` ∈ [0, 1].
DatasetPtr make_constant(int64_t n, const ImageShape& shape, double value);

}  // namespace atebm::data
