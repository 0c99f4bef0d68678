#pragma once
// Scalar random draws for augmentation, from an engine Generator (Philox), and the per-sample
// generator of the loader.
//
// Each draw consumes one Philox block, so the number of blocks a transform uses is its number of
// draws. The loader gives sample k of epoch e its own generator, seeded from (seed, e) and
// offset to k·kBlocksPerSample: the augmentation of a sample is then a pure function of
// (seed, e, k), whichever thread computes it and whenever.
#include <cstdint>

#include "engine/generator.h"

namespace atebm::data {

/// Blocks reserved for one sample's augmentation (a random resized crop takes at most 22,
/// a padded crop 2, a flip 1).
constexpr uint64_t kBlocksPerSample = 64;

/// Uniform in [0, 1) with 53 random bits.
double draw_uniform(Generator& g);
/// Uniform integer in [lo, hi] (inclusive), from 64 random bits (bias < 2^-40 for ranges < 2^24).
int64_t draw_int(Generator& g, int64_t lo, int64_t hi);

/// The generator for sample `position` of epoch `epoch` of a loader seeded with `seed`.
Generator sample_generator(uint64_t seed, uint64_t epoch, uint64_t position);

/// SplitMix64's finaliser: a bijective 64-bit mix used to derive independent Philox keys.
uint64_t mix64(uint64_t x);

}  // namespace atebm::data
