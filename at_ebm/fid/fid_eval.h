#pragma once
// Inception features of an image set, the input of FID, KID and the Inception Score
// (fid_stats.h). Images of any size go through InceptionV3::features() (which resizes them to
// 299×299); grey images are replicated to RGB, as pytorch-fid does. Batches are read on the CPU;
// the network moves them to its own device.
//
//   auto net = InceptionV3::load("inception.safetensors");
//   auto images = open_samples_file("samples.npz");              // what `atebm sample --npz` writes
//   InceptionFeatures f = inception_features(*net, *images, {.logits = true});
//   FeatureStats s = feature_stats(f.pool);
#include <cstdint>
#include <functional>
#include <string>

#include "at_ebm/data/dataset.h"
#include "at_ebm/fid/inception.h"
#include "engine/tensor.h"

namespace atebm::at_ebm {

struct FeatureOptions {
  int64_t n = 0;  // images to use: 0 or ≥ the set's size = all, in order; else n drawn
                  // without replacement with `seed` (draw_indices)
  uint64_t seed = 0;
  int64_t batch_size = 50;  // images per Inception forward (pytorch-fid's default)
  bool logits = false;      // keep the 1008-way logits too (for the Inception Score)
  /// Called after every batch with (images done, total); may be empty.
  std::function<void(int64_t, int64_t)> progress;
};

struct InceptionFeatures {
  Tensor pool;    // float32 [n, 2048] on the CPU
  Tensor logits;  // float32 [n, 1008] on the CPU; undefined unless FeatureOptions::logits
};

/// The features of the images of `ds` chosen by `opt`. Throws atebm::Error for an empty set,
/// images with other than 1 or 3 channels, or invalid options.
InceptionFeatures inception_features(InceptionV3& net, const data::Dataset& ds, const FeatureOptions& opt);

/// The batches every feature extractor runs over. Checks that `ds` holds images and that opt.n
/// and opt.batch_size are valid (errors name `who`), takes the images opt.n selects — all of
/// them in order (n = 0 or n ≥ size), else n drawn with opt.seed (at_ebm::draw_indices: folders
/// are sorted by class, so a prefix would be biased) — and calls fn(first, total, images) for
/// each batch of up to opt.batch_size images [b, C, H, W] in order, then opt.progress.
void for_each_feature_batch(const data::Dataset& ds, const FeatureOptions& opt, const char* who,
                            const std::function<void(int64_t first, int64_t total, const Tensor& images)>& fn);

/// Generated samples saved as float32 [N, C, H, W] in [0, 1]: a .npy file, or the array
/// "samples" of a .npz (`atebm sample --npy / --npz`); other layouts and dtypes as npy.h reads
/// them. Throws atebm::Error for another extension.
data::DatasetPtr open_samples_file(const std::string& path);

}  // namespace atebm::at_ebm
