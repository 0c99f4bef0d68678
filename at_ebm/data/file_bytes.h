#pragma once
// Reading whole files, gzip-compressed or not, and memory-mapping large ones.
// Compression is recognised by the gzip magic bytes (1f 8b), not by the file name, so
// "t10k-images-idx3-ubyte" and "t10k-images-idx3-ubyte.gz" both work whatever they hold.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace atebm::data {

/// True when the file starts with the gzip magic bytes. Throws if it cannot be opened.
bool is_gzip_file(const std::string& path);

/// The whole (decompressed) content. Throws atebm::Error naming the file when it cannot be
/// opened or read, or when its gzip stream is corrupt or truncated.
std::vector<uint8_t> read_file_bytes(const std::string& path);

/// A read-only memory map of a whole file (for Tiny Images: hundreds of GB, paged on demand).
class MappedFile {
 public:
  /// Throws atebm::Error naming the file when it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

/// The first existing file among `candidates`, or "" when none exists.
std::string first_existing(const std::vector<std::string>& candidates);

}  // namespace atebm::data
