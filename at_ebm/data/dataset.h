#pragma once
// Dataset: the one interface every image source implements (IDX, CIFAR, image folders, tar
// archives, Tiny Images, .npy/.npz, synthetic noise) and every consumer uses (the loader, the
// trainer's p_data and p0 streams, OOD evaluation, FID).
//
// A dataset is a fixed-size, random-access list of images of one shape. get_into(i) writes image
// i as float32 in CHW order with values in [0, 1] and returns its label (-1 when the set has none).
// Datasets are immutable after construction and get_into is const and thread-safe, so loader
// threads share one instance (DatasetPtr = shared_ptr<const Dataset>).
//
// Errors: a dataset whose files are wrong fails at construction (bad magic, truncated file, size
// fields that disagree with the file length, no images); a per-image problem that can only be
// seen when decoding (an undecodable JPEG in a folder) fails in get_into. Both throw atebm::Error
// naming the file, the index and what is wrong.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace atebm::data {

struct ImageShape {
  int64_t c = 0, h = 0, w = 0;
  int64_t numel() const { return c * h * w; }
  bool operator==(const ImageShape&) const = default;
};

/// "3x32x32"
std::string shape_str(const ImageShape& s);

struct Sample {
  std::vector<float> image;  // CHW, values in [0, 1]
  int64_t label = -1;        // -1: the dataset has no labels
};

class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual int64_t size() const = 0;
  virtual ImageShape shape() const = 0;
  /// Number of classes when the images carry labels, else 0.
  virtual int64_t num_classes() const { return 0; }
  /// Class names where the source has them (image folders), else empty.
  virtual std::vector<std::string> class_names() const { return {}; }
  /// What the data is, for messages: "idx:/usr/share/.../train-images-idx3-ubyte.gz".
  virtual std::string name() const = 0;

  /// Writes image i (shape().numel() floats, CHW, [0, 1]) to `out`; returns its label or -1.
  /// Thread-safe. Throws atebm::Error for i out of range or an image that cannot be decoded.
  virtual int64_t get_into(int64_t i, float* out) const = 0;

  bool has_labels() const { return num_classes() > 0; }
  Sample get(int64_t i) const;

 protected:
  /// Throws "NAME: index i out of range [0, size)".
  void check_index(int64_t i) const;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

}  // namespace atebm::data
