#pragma once
// NumPy .npy arrays: the exchange format for samples, evaluations and image sets made elsewhere.
//
// Layout (numpy/lib/format.py, versions 1.0, 2.0, 3.0):
//   6 bytes   "\x93NUMPY"
//   2 bytes   major, minor version (1.0, 2.0 or 3.0)
//   2 bytes   (v1) or 4 bytes (v2, v3): header length L, little-endian
//   L bytes   a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (10, 1, 28, 28), }
//             padded with spaces and ended by '\n'
//   rest      the elements in C order, exactly product(shape) · itemsize bytes
// Accepted dtypes: uint8 ('|u1'), float32 ('<f4' / '>f4'), float64 ('<f8' / '>f8'), int64 ('<i8' /
// '>i8'; not for images). fortran_order must be False. The dict must hold exactly those three keys.
//
// As an image set: shape (N, H, W) is grey; (N, C, H, W) or (N, H, W, C) with C ∈ {1, 3}, told
// apart by which axis is 1 or 3 (axis 1 wins when both are), or stated in the spec. uint8 values
// are divided by 255; float values must already lie in [0, 1] (±1e-4, then clamped).
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "at_ebm/data/dataset.h"
#include "engine/tensor.h"

namespace atebm::data {

enum class NpyType { U8, F32, F64, I64 };

struct NpyArray {
  NpyType type = NpyType::U8;
  bool big_endian = false;
  size_t item_size = 1;
  std::vector<int64_t> shape;
  size_t data_offset = 0;
};

/// Validates the magic, version, header dict and the data length. Throws atebm::Error starting
/// with `name`. Safe on any input (fuzzed).
NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& name);

/// The elements of `a` in C order as doubles, whatever its dtype and byte order (int64 beyond
/// 2^53 rounds). `file_data` is the start of the bytes `a` was parsed from (not its data).
std::vector<double> npy_values_f64(const NpyArray& a, const uint8_t* file_data);

/// A float array of an .npz: shape and values (C order, float32 widened to float64).
struct NpzFloatArray {
  std::vector<int64_t> shape;
  std::vector<double> values;
};

/// Array KEY (the entry KEY.npy, stored or deflated) of the .npz at `path`, which must be float32
/// or float64. Errors name the file and the key; a missing key lists the entries, then `hint`
/// (e.g. which arrays such files hold) when given.
NpzFloatArray load_npz_array(const std::string& path, const std::string& key, const std::string& hint = "");

enum class NpyLayout { Auto, NCHW, NHWC };

/// An image set from the bytes of a .npy file (see the header comment for the accepted shapes).
DatasetPtr npy_dataset(std::vector<uint8_t> bytes, const std::string& name, NpyLayout layout = NpyLayout::Auto);
DatasetPtr open_npy(const std::string& path, NpyLayout layout = NpyLayout::Auto);
/// Array KEY (the entry KEY.npy) of a .npz archive.
DatasetPtr open_npz(const std::string& path, const std::string& key, NpyLayout layout = NpyLayout::Auto);

/// The .npy bytes (version 1.0, header padded to 64 bytes) of a CPU or GPU tensor of dtype
/// float32, float64 or int64, in C order.
std::vector<uint8_t> npy_bytes(const Tensor& t);
void save_npy(const std::string& path, const Tensor& t);
/// A .npz (zip, entries stored uncompressed) with one KEY.npy per tensor; np.load reads it.
void save_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays);

}  // namespace atebm::data
