#pragma once
// Reading and writing zip archives in memory, as much as .npz needs: entries stored (method 0)
// or deflated (method 8, inflated with zlib's raw inflate), zip64 sizes and offsets, CRC-32
// checked. Encryption, multi-disk archives and other methods are rejected.
//
// Layout: [local header 30 B + name + extra][data] per entry, then the central directory (one
// 46 B + name + extra + comment record per entry), then the end-of-central-directory record
// (22 B + comment; for zip64 preceded by a zip64 EOCD record and its 20 B locator). Fields are
// little-endian; the central directory is authoritative for sizes and the CRC.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace atebm::data {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0, size = 0;
  uint64_t local_offset = 0;
};

/// The central directory. Throws atebm::Error starting with `name` for anything malformed.
std::vector<ZipEntry> zip_entries(const uint8_t* data, size_t size, const std::string& name);
/// One entry's uncompressed bytes, CRC-checked.
std::vector<uint8_t> zip_read(const uint8_t* data, size_t size, const ZipEntry& e, const std::string& name);
/// A zip archive with every entry stored (no compression, no zip64: total size < 4 GiB).
std::vector<uint8_t> zip_store(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& files);

}  // namespace atebm::data
