#include "at_ebm/data/cifar.h"

#include <filesystem>
#include <vector>

#include "at_ebm/data/array_dataset.h"
#include "at_ebm/data/file_bytes.h"
#include "engine/error.h"

namespace atebm::data {

namespace {
constexpr size_t kImageBytes = 3 * 32 * 32;
}

CifarBatch parse_cifar(const uint8_t* data, size_t size, CifarKind kind, const std::string& name) {
  CifarBatch b;
  const bool c100 = kind == CifarKind::Cifar100;
  b.record_size = kImageBytes + (c100 ? 2 : 1);
  b.label_offset = c100 ? 1 : 0;
  b.image_offset = c100 ? 2 : 1;
  const char* what = c100 ? "CIFAR-100" : "CIFAR-10";
  ATEBM_CHECK(size > 0, "{}: empty file, expected {} records of {} bytes", name, what, b.record_size);
  ATEBM_CHECK(size % b.record_size == 0,
              "{}: size {} is not a whole number of {} records of {} bytes ({} records and {} bytes left over)",
              name, size, what, b.record_size, size / b.record_size, size % b.record_size);
  b.count = static_cast<int64_t>(size / b.record_size);
  for (int64_t i = 0; i < b.count; ++i) {
    const uint8_t* r = data + static_cast<size_t>(i) * b.record_size;
    if (c100) {
      ATEBM_CHECK(r[0] < 20, "{}: record {}: coarse label {} is outside [0, 20)", name, i, r[0]);
      ATEBM_CHECK(r[1] < 100, "{}: record {}: fine label {} is outside [0, 100)", name, i, r[1]);
    } else {
      ATEBM_CHECK(r[0] < 10, "{}: record {}: label {} is outside [0, 10)", name, i, r[0]);
    }
  }
  return b;
}

DatasetPtr open_cifar(const std::string& dir, CifarKind kind, bool train) {
  namespace fs = std::filesystem;
  const bool c100 = kind == CifarKind::Cifar100;
  const std::string sub = c100 ? "cifar-100-binary" : "cifar-10-batches-bin";
  std::vector<std::string> files;
  if (c100) {
    files = {train ? "train.bin" : "test.bin"};
  } else if (train) {
    for (int k = 1; k <= 5; ++k) files.push_back(fmt::format("data_batch_{}.bin", k));
  } else {
    files = {"test_batch.bin"};
  }
  const int64_t expected_per_file = c100 ? (train ? 50000 : 10000) : 10000;
  // Use DIR itself when it holds the first file, else DIR/<standard subfolder>.
  std::string root = dir;
  if (!fs::exists(fs::path(dir) / files[0]) && fs::exists(fs::path(dir) / sub / files[0]))
    root = (fs::path(dir) / sub).string();

  std::vector<uint8_t> images;
  ArrayDesc d;
  for (const auto& f : files) {
    const std::string path = (fs::path(root) / f).string();
    ATEBM_CHECK(fs::exists(path), "{}: missing (expected the {} binary batches in {} or {}/{})", path,
                c100 ? "CIFAR-100" : "CIFAR-10", dir, dir, sub);
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    const CifarBatch b = parse_cifar(bytes.data(), bytes.size(), kind, path);
    ATEBM_CHECK(b.count == expected_per_file, "{}: holds {} records, expected {}", path, b.count,
                expected_per_file);
    for (int64_t i = 0; i < b.count; ++i) {
      const uint8_t* r = bytes.data() + static_cast<size_t>(i) * b.record_size;
      d.labels.push_back(r[b.label_offset]);
      images.insert(images.end(), r + b.image_offset, r + b.image_offset + kImageBytes);
    }
  }
  d.name = fmt::format("{}:{}:{}", c100 ? "cifar100" : "cifar10", root, train ? "train" : "test");
  d.count = static_cast<int64_t>(d.labels.size());
  d.shape = {3, 32, 32};
  d.stride = kImageBytes;
  d.num_classes = c100 ? 100 : 10;
  d.owner = own_bytes(std::move(images), &d.base);
  return std::make_shared<ArrayDataset>(std::move(d));
}

}  // namespace atebm::data
