#include "at_ebm/data/tiny_images.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "at_ebm/data/array_dataset.h"
#include "at_ebm/data/file_bytes.h"
#include "at_ebm/data/parse_util.h"
#include "engine/error.h"

namespace atebm::data {

namespace {

constexpr size_t kRecord = 3072;

class TinyImagesDataset : public Dataset {
 public:
  TinyImagesDataset(std::string name, std::shared_ptr<const MappedFile> file, std::vector<int64_t> excluded)
      : name_(std::move(name)), file_(std::move(file)), excluded_(std::move(excluded)) {
    records_ = static_cast<int64_t>(file_->size() / kRecord);
    // shifted_[j] = e_j − j: how many kept records precede excluded record e_j (non-decreasing).
    shifted_.resize(excluded_.size());
    for (size_t j = 0; j < excluded_.size(); ++j) shifted_[j] = excluded_[j] - static_cast<int64_t>(j);
    ATEBM_CHECK(size() > 0, "{}: every record is excluded", name_);
  }
  int64_t size() const override { return records_ - static_cast<int64_t>(excluded_.size()); }
  ImageShape shape() const override { return {3, 32, 32}; }
  std::string name() const override { return name_; }

  int64_t get_into(int64_t i, float* out) const override {
    check_index(i);
    stored_to_chw(file_->data() + static_cast<size_t>(record_of(i)) * kRecord, PixelType::U8, PixelLayout::CWH,
                  shape(), out);
    return -1;
  }

  /// The i-th record that is not excluded: i plus the number of excluded records before it.
  int64_t record_of(int64_t i) const {
    const auto skipped = std::upper_bound(shifted_.begin(), shifted_.end(), i) - shifted_.begin();
    return i + skipped;
  }

 private:
  std::string name_;
  std::shared_ptr<const MappedFile> file_;
  std::vector<int64_t> excluded_, shifted_;
  int64_t records_ = 0;
};

}  // namespace

std::vector<int64_t> read_exclusion_list(const std::string& path, int64_t count) {
  std::ifstream f(path);
  ATEBM_CHECK(f.good(), "{}: cannot open the exclusion list", path);
  std::vector<int64_t> out;
  std::string line;
  for (int64_t lineno = 1; std::getline(f, line); ++lineno) {
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      const int64_t n = parse_int(w, fmt::format("{} line {}: record number (counted from 1)", path, lineno), 1, count);
      out.push_back(n - 1);
    }
  }
  std::sort(out.begin(), out.end());
  const auto dup = std::adjacent_find(out.begin(), out.end());
  ATEBM_CHECK(dup == out.end(), "{}: record number {} is listed twice", path, dup == out.end() ? 0 : *dup + 1);
  return out;
}

DatasetPtr open_tiny_images(const std::string& path, const std::string& exclude_path) {
  auto file = MappedFile::open(path);
  ATEBM_CHECK(file->size() > 0, "{}: empty file, expected records of {} bytes", path, kRecord);
  ATEBM_CHECK(file->size() % kRecord == 0, "{}: size {} is not a whole number of {}-byte records ({} bytes left over)",
              path, file->size(), kRecord, file->size() % kRecord);
  const auto records = static_cast<int64_t>(file->size() / kRecord);
  std::vector<int64_t> excluded;
  if (!exclude_path.empty()) excluded = read_exclusion_list(exclude_path, records);
  const std::string name = "tinyimages:" + path + (exclude_path.empty() ? "" : ":exclude=" + exclude_path);
  return std::make_shared<TinyImagesDataset>(name, std::move(file), std::move(excluded));
}

}  // namespace atebm::data
