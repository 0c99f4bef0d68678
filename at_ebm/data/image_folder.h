#pragma once
// Image folders: PNG/JPEG/BMP files in a folder tree or in a .tar / .tar.gz of one.
//
//   ROOT/<class>/.../*.png|jpg|jpeg|bmp   labelled: classes are the first-level subfolders,
//                                         numbered in byte order of their names
//   ROOT/*.png|jpg|jpeg|bmp               unlabelled (all images directly in ROOT)
// Mixing both is an error. Images are ordered by path (byte order), so indices are stable across
// machines. From an archive, ROOT is the archive's top level (or `subdir` in it) and the
// compressed images are kept in memory (CIFAR-10's 50,000 training JPEGs: about 45 MB); from a
// folder tree, files are read when requested. Either way images are decoded on each get_into, so
// decoding runs on the loader's threads.
//
// Shape: the channel count (grey or RGB) and size of the first image, unless given. An image of
// another size is an error unless a size is given, in which case every image is resized to it.
#include <cstdint>
#include <string>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

struct FolderOptions {
  std::string subdir;    // only images below this subfolder (e.g. "train" of the CIFAR-10 tar)
  int channels = 0;      // 1 or 3; 0: grey if the first image is grey, else RGB
  int64_t height = 0;    // > 0 with width: resize every image to height × width
  int64_t width = 0;
};

/// `path` is a folder, or a .tar / .tar.gz / .tgz archive. Throws atebm::Error naming the path
/// when it does not exist, holds no images, mixes labelled and unlabelled images, or when the
/// first image cannot be read.
DatasetPtr open_image_folder(const std::string& path, const FolderOptions& opt = {});

}  // namespace atebm::data
