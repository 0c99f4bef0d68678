#include "at_ebm/data/concat.h"

#include <fmt/format.h>

#include <algorithm>

#include "at_ebm/data/spec.h"
#include "engine/error.h"

namespace atebm::data {
namespace {

class ConcatDataset final : public Dataset {
 public:
  explicit ConcatDataset(std::vector<DatasetPtr> parts) : parts_(std::move(parts)) {
    int64_t total = 0;
    for (const DatasetPtr& p : parts_) {
      starts_.push_back(total);
      total += p->size();
    }
    size_ = total;
    classes_ = parts_[0]->num_classes();
    for (const DatasetPtr& p : parts_)
      if (p->num_classes() != classes_) classes_ = 0;
  }
  int64_t size() const override { return size_; }
  ImageShape shape() const override { return parts_[0]->shape(); }
  int64_t num_classes() const override { return classes_; }
  std::string name() const override {
    std::string s = "concat(";
    for (size_t i = 0; i < parts_.size(); ++i) s += (i ? ", " : "") + parts_[i]->name();
    return s + ")";
  }
  int64_t get_into(int64_t i, float* out) const override {
    check_index(i);
    // The part holding i: the last start ≤ i.
    const size_t k = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), i) - starts_.begin()) - 1;
    return parts_[k]->get_into(i - starts_[k], out);
  }

 private:
  std::vector<DatasetPtr> parts_;
  std::vector<int64_t> starts_;
  int64_t size_ = 0, classes_ = 0;
};

}  // namespace

DatasetPtr make_concat(std::vector<DatasetPtr> parts) {
  ATEBM_CHECK(!parts.empty(), "concat dataset: no parts given; expected at least one dataset");
  for (size_t i = 0; i < parts.size(); ++i) {
    ATEBM_CHECK(parts[i] != nullptr, "concat dataset: part {} is null", i);
    ATEBM_CHECK(parts[i]->size() > 0, "concat dataset: part {} ({}) holds no images", i, parts[i]->name());
    ATEBM_CHECK(parts[i]->shape() == parts[0]->shape(),
                "concat dataset: part {} ({}) has images of shape {}; expected {} like part 0 ({})", i,
                parts[i]->name(), shape_str(parts[i]->shape()), shape_str(parts[0]->shape()), parts[0]->name());
  }
  if (parts.size() == 1) return parts[0];
  return std::make_shared<ConcatDataset>(std::move(parts));
}

DatasetPtr open_datasets(const nlohmann::json& specs, const ImageShape& model, const std::string& what) {
  if (specs.is_string()) return open_dataset(specs.get<std::string>(), model);
  ATEBM_CHECK(specs.is_array() && !specs.empty(),
              "{}: expected a dataset spec string or a non-empty list of them; got {}", what, specs.dump());
  std::vector<DatasetPtr> parts;
  for (const nlohmann::json& s : specs) {
    ATEBM_CHECK(s.is_string(), "{}: every entry of the list must be a dataset spec string; got {}", what, s.dump());
    parts.push_back(open_dataset(s.get<std::string>(), model));
  }
  return make_concat(std::move(parts));
}

}  // namespace atebm::data
