#pragma once
// IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST), gzip-compressed or raw.
//
// Layout (all integers big-endian):
//   bytes 0-1   0x00 0x00
//   byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
//   byte  3     number of dimensions n (≥ 1)
//   4n bytes    the n dimension sizes, uint32 each
//   rest        the elements, row-major, exactly product(dims) · element size bytes
// Image files are uint8 with dims (N, rows, cols); label files are uint8 with dims (N).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

struct IdxArray {
  uint8_t type = 0;           // the element type code (byte 2)
  size_t elem_size = 0;
  std::vector<int64_t> dims;
  size_t data_offset = 0;     // where the elements start
};

/// Validates magic, type, dims and that the data length equals the header's promise exactly.
/// Throws atebm::Error starting with `name`. Safe on any input (fuzzed).
IdxArray parse_idx(const uint8_t* data, size_t size, const std::string& name);

/// An IDX image file (uint8, N × rows × cols) with an optional IDX label file (uint8, N).
DatasetPtr open_idx(const std::string& images_path, const std::string& labels_path = "");

}  // namespace atebm::data
