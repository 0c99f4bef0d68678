#pragma once
// 80 Million Tiny Images, tiny_images.bin: 79,302,017 records of 3,072 bytes, no header.
//
// A record is Matlab's column-major uint8 array [32 32 3] (Torralba et al.'s loadTinyImages.m
// reshapes the bytes to [32 32 3 N]; the public Python loaders do reshape(32, 32, 3, order="F")):
//   byte (c·1024 + x·32 + y) = channel c (0 R, 1 G, 2 B) of the pixel at row y, column x,
// i.e. channel by channel, each channel stored column by column (layout CWH, array_dataset.h).
//
// The file (about 244 GB) is memory-mapped and paged in on demand. An exclusion list removes
// records (the paper removes those that are CIFAR images): a text file of whitespace-separated
// record numbers counted from 1, the convention of the published 80mn_cifar_idxs.txt.
#include <cstdint>
#include <string>
#include <vector>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

/// Throws atebm::Error naming the file when it is empty or not a whole number of records, or when
/// the exclusion list is malformed, repeats a number or names a record past the end.
DatasetPtr open_tiny_images(const std::string& path, const std::string& exclude_path = "");

/// Reads an exclusion list: 1-based record numbers → sorted 0-based indices, each < `count`.
std::vector<int64_t> read_exclusion_list(const std::string& path, int64_t count);

}  // namespace atebm::data
