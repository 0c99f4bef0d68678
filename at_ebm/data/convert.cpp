#include "at_ebm/data/convert.h"

#include <vector>

#include "at_ebm/data/resize.h"
#include "at_ebm/data/transforms.h"
#include "engine/error.h"

namespace atebm::data {

namespace {

class ConvertedDataset : public Dataset {
 public:
  ConvertedDataset(DatasetPtr base, ImageShape target) : base_(std::move(base)), target_(target) {}
  int64_t size() const override { return base_->size(); }
  ImageShape shape() const override { return target_; }
  int64_t num_classes() const override { return base_->num_classes(); }
  std::vector<std::string> class_names() const override { return base_->class_names(); }
  std::string name() const override { return fmt::format("{} as {}", base_->name(), shape_str(target_)); }

  int64_t get_into(int64_t i, float* out) const override {
    const ImageShape in = base_->shape();
    std::vector<float> src(static_cast<size_t>(in.numel()));
    const int64_t label = base_->get_into(i, src.data());
    // Channels first, at the source size (cheaper for grey targets, the same result for RGB).
    const ImageShape mid{target_.c, in.h, in.w};
    std::vector<float> chan;
    const float* cur = src.data();
    if (in.c != target_.c) {
      chan.resize(static_cast<size_t>(mid.numel()));
      if (in.c == 1) grey_to_rgb(src.data(), in.h, in.w, chan.data());
      else rgb_to_grey(src.data(), in.h, in.w, chan.data());
      cur = chan.data();
    }
    if (mid == target_) {
      std::copy(cur, cur + target_.numel(), out);
    } else {
      resize_bilinear(cur, mid, out, target_.h, target_.w);
    }
    return label;
  }

 private:
  DatasetPtr base_;
  ImageShape target_;
};

class FirstN : public Dataset {
 public:
  FirstN(DatasetPtr base, int64_t n) : base_(std::move(base)), n_(n) {}
  int64_t size() const override { return n_; }
  ImageShape shape() const override { return base_->shape(); }
  int64_t num_classes() const override { return base_->num_classes(); }
  std::vector<std::string> class_names() const override { return base_->class_names(); }
  std::string name() const override { return fmt::format("{} (first {})", base_->name(), n_); }
  int64_t get_into(int64_t i, float* out) const override {
    check_index(i);
    return base_->get_into(i, out);
  }

 private:
  DatasetPtr base_;
  int64_t n_;
};

}  // namespace

DatasetPtr convert(DatasetPtr base, const ImageShape& target) {
  const ImageShape in = base->shape();
  if (in == target) return base;
  ATEBM_CHECK(target.c == 1 || target.c == 3, "{}: cannot convert to {} channels (expected 1 or 3)", base->name(),
              target.c);
  ATEBM_CHECK(in.c == target.c || in.c == 1 || in.c == 3, "{}: cannot convert {} channels to {}", base->name(), in.c,
              target.c);
  ATEBM_CHECK(target.h > 0 && target.w > 0, "{}: bad target size {}x{}", base->name(), target.h, target.w);
  return std::make_shared<ConvertedDataset>(std::move(base), target);
}

DatasetPtr take_first(DatasetPtr base, int64_t n) {
  ATEBM_CHECK(n >= 1 && n <= base->size(), "{}: cannot take the first {} of {} images", base->name(), n, base->size());
  if (n == base->size()) return base;
  return std::make_shared<FirstN>(std::move(base), n);
}

}  // namespace atebm::data
