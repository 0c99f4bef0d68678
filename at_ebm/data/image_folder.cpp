#include "at_ebm/data/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>
#include <vector>

#include "at_ebm/data/file_bytes.h"
#include "at_ebm/data/image_decode.h"
#include "at_ebm/data/resize.h"
#include "at_ebm/data/tar_reader.h"
#include "engine/error.h"

namespace atebm::data {

namespace {

struct Entry {
  std::string rel;        // path below the root
  size_t offset = 0;      // archive only: where the file's bytes start in the blob
  size_t size = 0;
  int64_t label = -1;
};

class ImageFolderDataset : public Dataset {
 public:
  ImageFolderDataset(std::string name, std::string root, bool archive, std::vector<Entry> entries,
                     std::vector<uint8_t> blob, std::vector<std::string> classes, const FolderOptions& opt)
      : name_(std::move(name)), root_(std::move(root)), archive_(archive), entries_(std::move(entries)),
        blob_(std::move(blob)), classes_(std::move(classes)) {
    ATEBM_CHECK(!entries_.empty(), "{}: no PNG, JPEG or BMP images found", name_);
    // The first image fixes what was not given.
    const std::vector<uint8_t> first = bytes_of(0);
    const ImageInfo info = probe_image(first.data(), first.size(), where(0));
    const int ch = opt.channels != 0 ? opt.channels : (info.channels <= 2 ? 1 : 3);
    ATEBM_CHECK(ch == 1 || ch == 3, "{}: channels must be 1 or 3, got {}", name_, ch);
    resize_ = opt.height > 0 && opt.width > 0;
    shape_ = {ch, resize_ ? opt.height : info.height, resize_ ? opt.width : info.width};
  }

  int64_t size() const override { return static_cast<int64_t>(entries_.size()); }
  ImageShape shape() const override { return shape_; }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  std::vector<std::string> class_names() const override { return classes_; }
  std::string name() const override { return name_; }

  int64_t get_into(int64_t i, float* out) const override {
    check_index(i);
    const Entry& e = entries_[static_cast<size_t>(i)];
    ImageInfo info;
    std::vector<uint8_t> px;
    if (archive_) {
      px = decode_image(blob_.data() + e.offset, e.size, static_cast<int>(shape_.c), where(i), &info);
    } else {
      const std::vector<uint8_t> bytes = bytes_of(i);
      px = decode_image(bytes.data(), bytes.size(), static_cast<int>(shape_.c), where(i), &info);
    }
    const ImageShape got{shape_.c, info.height, info.width};
    if (got == shape_) {
      hwc_u8_to_chw(px.data(), got, out);
    } else {
      ATEBM_CHECK(resize_, "{}: image is {}x{}, expected {}x{} like the first image (add @size=HxW to the spec to resize)",
                  where(i), info.width, info.height, shape_.w, shape_.h);
      std::vector<float> tmp(static_cast<size_t>(got.numel()));
      hwc_u8_to_chw(px.data(), got, tmp.data());
      resize_bilinear(tmp.data(), got, out, shape_.h, shape_.w);
    }
    return e.label;
  }

 private:
  static void hwc_u8_to_chw(const uint8_t* px, const ImageShape& s, float* out) {
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t k = 0; k < s.h * s.w; ++k) out[c * s.h * s.w + k] = static_cast<float>(px[k * s.c + c]) * (1.0f / 255.0f);
  }
  std::string where(int64_t i) const {
    return fmt::format("{} image {} ('{}')", name_, i, entries_[static_cast<size_t>(i)].rel);
  }
  std::vector<uint8_t> bytes_of(int64_t i) const {
    const Entry& e = entries_[static_cast<size_t>(i)];
    if (archive_) return {blob_.begin() + static_cast<std::ptrdiff_t>(e.offset),
                          blob_.begin() + static_cast<std::ptrdiff_t>(e.offset + e.size)};
    return read_file_bytes((std::filesystem::path(root_) / e.rel).string());
  }

  std::string name_, root_;
  bool archive_;
  std::vector<Entry> entries_;
  std::vector<uint8_t> blob_;
  std::vector<std::string> classes_;
  ImageShape shape_;
  bool resize_ = false;
};

// Assigns labels from the first path component; sorts entries by path.
std::vector<std::string> label_entries(std::vector<Entry>& entries, const std::string& name) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.rel < b.rel; });
  size_t nested = 0;
  for (const auto& e : entries) nested += e.rel.find('/') != std::string::npos;
  if (nested == 0) return {};
  ATEBM_CHECK(nested == entries.size(),
              "{}: {} images lie directly in the root and {} in class subfolders; use one layout (e.g. '{}')", name,
              entries.size() - nested, nested,
              std::find_if(entries.begin(), entries.end(), [](const Entry& e) { return e.rel.find('/') == std::string::npos; })->rel);
  std::map<std::string, int64_t> ids;
  for (const auto& e : entries) ids.emplace(e.rel.substr(0, e.rel.find('/')), 0);
  std::vector<std::string> classes;
  for (auto& [k, v] : ids) {
    v = static_cast<int64_t>(classes.size());
    classes.push_back(k);
  }
  for (auto& e : entries) e.label = ids.at(e.rel.substr(0, e.rel.find('/')));
  return classes;
}

}  // namespace

DatasetPtr open_image_folder(const std::string& path, const FolderOptions& opt) {
  namespace fs = std::filesystem;
  std::string sub = opt.subdir;
  while (!sub.empty() && sub.back() == '/') sub.pop_back();
  const std::string name = "folder:" + path + (sub.empty() ? "" : ":" + sub);
  ATEBM_CHECK(fs::exists(path), "{}: '{}' does not exist", name, path);
  std::vector<Entry> entries;
  std::vector<uint8_t> blob;
  std::string root = path;
  const bool archive = !fs::is_directory(path);
  if (archive) {
    ATEBM_CHECK(is_tar_name(path), "{}: expected a folder or a .tar / .tar.gz / .tgz archive", name);
    const std::string prefix = sub.empty() ? "" : sub + "/";
    read_tar(
        path, [&](const std::string& p) { return p.rfind(prefix, 0) == 0 && has_image_extension(p); },
        [&](const std::string& p, const uint8_t* data, size_t size) {
          entries.push_back({p.substr(prefix.size()), blob.size(), size, -1});
          blob.insert(blob.end(), data, data + size);
        });
  } else {
    if (!sub.empty()) root = (fs::path(path) / sub).string();
    ATEBM_CHECK(fs::is_directory(root), "{}: '{}' is not a folder", name, root);
    try {
      for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink);
           it != fs::recursive_directory_iterator(); ++it) {
        if (!it->is_regular_file()) continue;
        const std::string rel = it->path().lexically_relative(root).generic_string();
        if (has_image_extension(rel)) entries.push_back({rel, 0, 0, -1});
      }
    } catch (const fs::filesystem_error& e) {  // unreadable folders, symlink loops
      ATEBM_FAIL("{}: cannot list the folder ({})", name, e.what());
    }
  }
  ATEBM_CHECK(!entries.empty(), "{}: no PNG, JPEG or BMP images found", name);
  std::vector<std::string> classes = label_entries(entries, name);
  return std::make_shared<ImageFolderDataset>(name, root, archive, std::move(entries), std::move(blob),
                                              std::move(classes), opt);
}

}  // namespace atebm::data
