#pragma once
// CIFAR-10 and CIFAR-100 binary batches ("binary version" of the datasets).
//
// A batch file is a sequence of records, no header:
//   CIFAR-10 : [label: 1 byte, 0-9][image: 3072 bytes]                           (3073 bytes)
//   CIFAR-100: [coarse label: 1 byte, 0-19][fine label: 1 byte, 0-99][image]     (3074 bytes)
// The image is 32×32 RGB as three planes R, G, B of 1024 bytes, each row-major (CHW).
// Files: CIFAR-10 data_batch_1.bin … data_batch_5.bin (10,000 records each) and test_batch.bin
// (10,000); CIFAR-100 train.bin (50,000) and test.bin (10,000). The datasets use the fine label.
#include <cstddef>
#include <cstdint>
#include <string>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

enum class CifarKind { Cifar10, Cifar100 };

struct CifarBatch {
  int64_t count = 0;
  size_t record_size = 0;
  size_t label_offset = 0;  // offset of the label used (the fine one for CIFAR-100)
  size_t image_offset = 0;  // offset of the image within a record
};

/// Validates a batch held in memory: non-empty, a whole number of records, labels in range.
/// Throws atebm::Error starting with `name` (and the record index). Safe on any input (fuzzed).
CifarBatch parse_cifar(const uint8_t* data, size_t size, CifarKind kind, const std::string& name);

/// The train or test split in `dir` (or in its cifar-10-batches-bin / cifar-100-binary subfolder).
/// Every file must hold its documented number of records.
DatasetPtr open_cifar(const std::string& dir, CifarKind kind, bool train);

}  // namespace atebm::data
