#include "at_ebm/data/idx.h"

#include <algorithm>

#include "at_ebm/data/array_dataset.h"
#include "at_ebm/data/file_bytes.h"
#include "engine/error.h"

namespace atebm::data {

namespace {

size_t idx_elem_size(uint8_t type) {
  switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
  }
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

IdxArray parse_idx(const uint8_t* data, size_t size, const std::string& name) {
  ATEBM_CHECK(size >= 4, "{}: not an IDX file: {} bytes is shorter than the 4-byte header", name, size);
  ATEBM_CHECK(data[0] == 0 && data[1] == 0,
              "{}: not an IDX file: magic starts with {:02x} {:02x}, expected 00 00", name, data[0], data[1]);
  IdxArray a;
  a.type = data[2];
  a.elem_size = idx_elem_size(a.type);
  ATEBM_CHECK(a.elem_size > 0, "{}: unknown IDX element type 0x{:02x} (expected 08, 09, 0B, 0C, 0D or 0E)",
              name, a.type);
  const size_t nd = data[3];
  ATEBM_CHECK(nd >= 1, "{}: IDX header has 0 dimensions", name);
  a.data_offset = 4 + 4 * nd;
  ATEBM_CHECK(size >= a.data_offset, "{}: truncated IDX header: {} dimensions need {} bytes, file has {}",
              name, nd, a.data_offset, size);
  // Count elements with an overflow guard: anything past the file length is already an error.
  const size_t avail = size - a.data_offset;
  size_t count = 1;
  bool overflow = false;
  for (size_t d = 0; d < nd; ++d) {
    const uint32_t n = be32(data + 4 + 4 * d);
    a.dims.push_back(n);
    if (n != 0 && count > avail / n) overflow = true;
    count = overflow ? count : count * n;
  }
  const std::string dims = fmt::format("{}", fmt::join(a.dims, " x "));
  ATEBM_CHECK(!overflow && count <= avail / a.elem_size,
              "{}: truncated: header says {} elements of {} bytes, more than the {} data bytes in the file", name,
              dims, a.elem_size, avail);
  ATEBM_CHECK(count * a.elem_size == avail,
              "{}: header says {} ({} data bytes) but the file has {} data bytes ({} extra)", name, dims,
              count * a.elem_size, avail, avail - count * a.elem_size);
  return a;
}

DatasetPtr open_idx(const std::string& images_path, const std::string& labels_path) {
  std::vector<uint8_t> bytes = read_file_bytes(images_path);
  const IdxArray img = parse_idx(bytes.data(), bytes.size(), images_path);
  ATEBM_CHECK(img.type == 0x08, "{}: IDX images must be uint8 (type 0x08), got type 0x{:02x}", images_path, img.type);
  ATEBM_CHECK(img.dims.size() == 3, "{}: IDX images must have 3 dimensions (N, rows, cols), got {}",
              images_path, img.dims.size());
  ATEBM_CHECK(img.dims[0] > 0 && img.dims[1] > 0 && img.dims[2] > 0, "{}: IDX images have a zero dimension ({})",
              images_path, fmt::join(img.dims, " x "));

  ArrayDesc d;
  d.name = "idx:" + images_path;
  d.count = img.dims[0];
  d.shape = {1, img.dims[1], img.dims[2]};
  d.stride = static_cast<size_t>(img.dims[1] * img.dims[2]);
  if (!labels_path.empty()) {
    const std::vector<uint8_t> lb = read_file_bytes(labels_path);
    const IdxArray lab = parse_idx(lb.data(), lb.size(), labels_path);
    ATEBM_CHECK(lab.type == 0x08 && lab.dims.size() == 1,
                "{}: IDX labels must be uint8 with 1 dimension, got type 0x{:02x} with {} dimensions",
                labels_path, lab.type, lab.dims.size());
    ATEBM_CHECK(lab.dims[0] == d.count, "{}: {} labels, but {} has {} images", labels_path, lab.dims[0],
                images_path, d.count);
    d.labels.assign(lb.begin() + static_cast<std::ptrdiff_t>(lab.data_offset), lb.end());
    d.num_classes = *std::max_element(d.labels.begin(), d.labels.end()) + 1;
  }
  const size_t off = img.data_offset;
  d.owner = own_bytes(std::move(bytes), &d.base);
  d.base += off;
  return std::make_shared<ArrayDataset>(std::move(d));
}

}  // namespace atebm::data
