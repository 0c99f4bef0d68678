#pragma once
// Dataset wrappers applied per image on get_into: channel conversion + resizing to a target shape
// (so a 28×28 grey model can take CIFAR images as p0, and a 32×32 RGB model MNIST as OOD input),
// and taking the first N images.
#include <cstdint>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

/// `base` as images of `target`: grey → RGB replicates the channel, RGB → grey takes ITU-R 601
/// luma, then a bilinear resize (antialiased when shrinking). Returns `base` itself when the
/// shapes already agree. target.c must be 1 or 3 (base's channels too, when they differ).
DatasetPtr convert(DatasetPtr base, const ImageShape& target);

/// The first n images of `base` (n ≤ base->size(); an explicit choice, never a silent cut).
DatasetPtr take_first(DatasetPtr base, int64_t n);

}  // namespace atebm::data
