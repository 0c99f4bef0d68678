#pragma once
// ArrayDataset: N images stored back to back in memory (a file read into a vector, or a memory
// map), each as uint8 (0..255 → value/255) or float32 (already in [0, 1]) in one of three
// layouts. IDX, CIFAR, Tiny Images and .npy all reduce to this.
//
// Layouts of one image of shape (C, H, W), element (c, y, x) with y the row and x the column:
//   CHW : offset (c·H + y)·W + x      CIFAR binary batches, NCHW .npy, IDX (C = 1)
//   HWC : offset (y·W + x)·C + c      NHWC .npy
//   CWH : offset (c·W + x)·H + y      Tiny Images (Matlab's column-major [32 32 3] array)
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

enum class PixelType { U8, F32 };
enum class PixelLayout { CHW, HWC, CWH };

/// Converts one stored image at `src` to float CHW in `dst`. F32 sources need no alignment.
void stored_to_chw(const uint8_t* src, PixelType type, PixelLayout layout, const ImageShape& shape,
                   float* dst);

struct ArrayDesc {
  std::string name;                   // for messages
  std::shared_ptr<const void> owner;  // keeps the bytes at `base` alive
  const uint8_t* base = nullptr;      // first byte of image 0
  size_t stride = 0;                  // bytes from one image to the next
  int64_t count = 0;
  ImageShape shape;
  PixelType type = PixelType::U8;
  PixelLayout layout = PixelLayout::CHW;
  std::vector<int64_t> labels;        // empty, or `count` labels in [0, num_classes)
  int64_t num_classes = 0;
};

class ArrayDataset : public Dataset {
 public:
  /// Checks the description (count > 0, stride large enough, labels sized and in range).
  explicit ArrayDataset(ArrayDesc desc);
  int64_t size() const override { return d_.count; }
  ImageShape shape() const override { return d_.shape; }
  int64_t num_classes() const override { return d_.num_classes; }
  std::string name() const override { return d_.name; }
  int64_t get_into(int64_t i, float* out) const override;

 private:
  ArrayDesc d_;
};

/// Wraps a byte vector so an ArrayDesc can own it: returns the owner and sets *base to its data.
std::shared_ptr<const void> own_bytes(std::vector<uint8_t>&& bytes, const uint8_t** base);

}  // namespace atebm::data
