#pragma once
// Checkpoints in the safetensors format (https://huggingface.co/docs/safetensors), so that a
// state dict written here loads in PyTorch with safetensors.torch.load_file and vice versa.
//
// Layout of a file:
//   [8 bytes]  N, the header length, unsigned little-endian
//   [N bytes]  JSON object: {"__metadata__": {str: str}, "<name>": {"dtype": "F32",
//              "shape": [2, 3], "data_offsets": [begin, end]}, ...}, padded with spaces
//   [rest]     the data section: each tensor's bytes, row-major, little-endian; offsets are
//              relative to the start of this section and the tensors tile it without holes
//
// Supported dtypes: F32, F64, I64, BOOL, BF16. A file is untrusted input: the loader checks
// every field and every byte range and throws atebm::Error naming the file and the problem.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace atebm::nn {

struct SafetensorsFile {
  /// In data-section order.
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;
};

/// Writes `tensors` (any device, any strides; names unique). Header keys are sorted by name; the
/// data section is ordered by element size (largest first), then name, like the reference
/// writer, so that every tensor's bytes are aligned to its element size. The write is atomic: the
/// data goes to a temporary file beside `path` that is synced and renamed over it, so a crash or
/// an error leaves the previous file as it was and no temporary behind.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Reads and validates a whole file; the tensors are contiguous CPU tensors owning their data.
SafetensorsFile load_safetensors(const std::string& path);

/// Validates and decodes an in-memory file; `name_for_errors` prefixes every error message.
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name_for_errors);

}  // namespace atebm::nn
