#include "at_ebm/fid/fid_eval.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "at_ebm/data/npy.h"
#include "at_ebm/method/sampler.h"
#include "engine/error.h"
#include "engine/factories.h"

namespace atebm::at_ebm {

namespace {

// [b, 1, H, W] → [b, 3, H, W] with the grey channel copied three times; RGB passes through.
Tensor to_rgb(const Tensor& images) {
  if (images.size(1) == 3) return images;
  const int64_t b = images.size(0), hw = images.size(2) * images.size(3);
  Tensor rgb = empty({b, 3, images.size(2), images.size(3)});
  const float* src = images.data<float>();
  float* dst = rgb.data<float>();
  for (int64_t i = 0; i < b; ++i)
    for (int64_t c = 0; c < 3; ++c)
      std::memcpy(dst + (i * 3 + c) * hw, src + i * hw, static_cast<size_t>(hw) * sizeof(float));
  return rgb;
}

// Rows [first, first + rows.size(0)) of `out` (float32 [n, K] on the CPU) = rows.
void store_rows(Tensor& out, int64_t first, const Tensor& rows) {
  const Tensor c = copy_to(rows, Device::cpu(), DType::Float32);
  std::memcpy(out.data<float>() + first * out.size(1), c.data<float>(), static_cast<size_t>(c.numel()) * sizeof(float));
}

// An output of features() checked to be [b, K] with the same K as before (K = 0: not yet known).
void check_output(const Tensor& t, int64_t b, int64_t k, const char* what) {
  ATEBM_CHECK(t.defined() && t.dim() == 2 && t.size(0) == b && (k == 0 || t.size(1) == k),
              "inception_features: the network's {} output has shape [{}] for a batch of {}", what,
              t.defined() ? fmt::format("{}", fmt::join(t.shape(), ", ")) : std::string("undefined"), b);
}

}  // namespace

std::vector<int64_t> feature_indices(int64_t size, const FeatureOptions& opt) {
  if (opt.n > 0 && opt.n < size) return draw_indices(size, opt.n, opt.seed);
  std::vector<int64_t> all(static_cast<size_t>(size));
  std::iota(all.begin(), all.end(), int64_t{0});
  return all;
}

InceptionFeatures inception_features(InceptionV3& net, const data::Dataset& ds, const FeatureOptions& opt) {
  ATEBM_CHECK(ds.size() >= 1, "inception_features: {} holds no images", ds.name());
  ATEBM_CHECK(opt.n >= 0, "inception_features: n must be >= 0 (0: all images), got {}", opt.n);
  ATEBM_CHECK(opt.batch_size >= 1, "inception_features: batch_size must be >= 1, got {}", opt.batch_size);
  const data::ImageShape shape = ds.shape();
  ATEBM_CHECK(shape.c == 1 || shape.c == 3, "inception_features: {} has {} channels; Inception takes 1 (grey) or 3",
              ds.name(), shape.c);
  const std::vector<int64_t> indices = feature_indices(ds.size(), opt);
  const auto n = static_cast<int64_t>(indices.size());

  InceptionFeatures out;
  for (int64_t first = 0; first < n; first += opt.batch_size) {
    const int64_t b = std::min(opt.batch_size, n - first);
    const std::vector<int64_t> part(indices.begin() + first, indices.begin() + first + b);
    const InceptionOutputs o = net.features(to_rgb(load_images(ds, part)));
    check_output(o.pool, b, out.pool.defined() ? out.pool.size(1) : 0, "pool");
    if (!out.pool.defined()) out.pool = empty({n, o.pool.size(1)});
    store_rows(out.pool, first, o.pool);
    if (opt.logits) {
      check_output(o.logits, b, out.logits.defined() ? out.logits.size(1) : 0, "logits");
      if (!out.logits.defined()) out.logits = empty({n, o.logits.size(1)});
      store_rows(out.logits, first, o.logits);
    }
    if (opt.progress) opt.progress(first + b, n);
  }
  return out;
}

data::DatasetPtr open_samples_file(const std::string& path) {
  if (path.ends_with(".npy")) return data::open_npy(path);
  if (path.ends_with(".npz")) return data::open_npz(path, "samples");
  ATEBM_FAIL("{}: expected a .npy file or a .npz holding 'samples' (float32 [N, C, H, W] in [0, 1])", path);
}

}  // namespace atebm::at_ebm
