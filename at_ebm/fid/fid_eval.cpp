#include "at_ebm/fid/fid_eval.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "at_ebm/data/npy.h"
#include "at_ebm/method/sampler.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "ops/shape_ops.h"

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

// An output of features() checked to be [b, K] with the same K as before (K = 0: not yet known).
void check_output(const Tensor& t, int64_t b, int64_t k, const char* what) {
  ATEBM_CHECK(t.defined() && t.dim() == 2 && t.size(0) == b && (k == 0 || t.size(1) == k),
              "inception_features: the network's {} output has shape [{}] for a batch of {}", what,
              t.defined() ? fmt::format("{}", fmt::join(t.shape(), ", ")) : std::string("undefined"), b);
}

std::vector<int64_t> feature_indices(int64_t size, const FeatureOptions& opt) {
  if (opt.n > 0 && opt.n < size) return draw_indices(size, opt.n, opt.seed);
  std::vector<int64_t> all(static_cast<size_t>(size));
  std::iota(all.begin(), all.end(), int64_t{0});
  return all;
}

}  // namespace

void for_each_feature_batch(const data::Dataset& ds, const FeatureOptions& opt, const char* who,
                            const std::function<void(int64_t, int64_t, const Tensor&)>& fn) {
  ATEBM_CHECK(ds.size() >= 1, "{}: {} holds no images", who, ds.name());
  ATEBM_CHECK(opt.n >= 0, "{}: n must be >= 0 (0: all images), got {}", who, opt.n);
  ATEBM_CHECK(opt.batch_size >= 1, "{}: batch_size must be >= 1, got {}", who, opt.batch_size);
  const std::vector<int64_t> indices = feature_indices(ds.size(), opt);
  const auto n = static_cast<int64_t>(indices.size());
  for (int64_t first = 0; first < n; first += opt.batch_size) {
    const int64_t b = std::min(opt.batch_size, n - first);
    const std::vector<int64_t> part(indices.begin() + first, indices.begin() + first + b);
    fn(first, n, load_images(ds, part));
    if (opt.progress) opt.progress(first + b, n);
  }
}

InceptionFeatures inception_features(InceptionV3& net, const data::Dataset& ds, const FeatureOptions& opt) {
  ATEBM_CHECK(ds.shape().c == 1 || ds.shape().c == 3,
              "inception_features: {} has {} channels; Inception takes 1 (grey) or 3", ds.name(), ds.shape().c);
  InceptionFeatures out;
  for_each_feature_batch(ds, opt, "inception_features", [&](int64_t first, int64_t n, const Tensor& images) {
    const int64_t b = images.size(0);
    const InceptionOutputs o = net.features(to_rgb(images));
    check_output(o.pool, b, out.pool.defined() ? out.pool.size(1) : 0, "pool");
    if (!out.pool.defined()) out.pool = empty({n, o.pool.size(1)});
    copy_into(narrow(out.pool, 0, first, o.pool.size(0)), o.pool);
    if (opt.logits) {
      check_output(o.logits, b, out.logits.defined() ? out.logits.size(1) : 0, "logits");
      if (!out.logits.defined()) out.logits = empty({n, o.logits.size(1)});
      copy_into(narrow(out.logits, 0, first, o.logits.size(0)), o.logits);
    }
  });
  return out;
}

data::DatasetPtr open_samples_file(const std::string& path) {
  if (path.ends_with(".npy")) return data::open_npy(path);
  if (path.ends_with(".npz")) return data::open_npz(path, "samples");
  ATEBM_FAIL("{}: expected a .npy file or a .npz holding 'samples' (float32 [N, C, H, W] in [0, 1])", path);
}

}  // namespace atebm::at_ebm
