#include "at_ebm/data/dataset.h"

#include "engine/error.h"

namespace atebm::data {

std::string shape_str(const ImageShape& s) { return fmt::format("{}x{}x{}", s.c, s.h, s.w); }

Sample Dataset::get(int64_t i) const {
  Sample s;
  s.image.resize(static_cast<size_t>(shape().numel()));
  s.label = get_into(i, s.image.data());
  return s;
}

void Dataset::check_index(int64_t i) const {
  ATEBM_CHECK(i >= 0 && i < size(), "{}: index {} out of range [0, {})", name(), i, size());
}

}  // namespace atebm::data
