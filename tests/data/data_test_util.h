#pragma once
// Helpers for the data tests: a temporary folder per test, and writers for the small files the
// tests feed the parsers (raw bytes, gzip, IDX, tar).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tests/common/expect.h"

namespace atebm::data::testing {

using Bytes = std::vector<uint8_t>;

/// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("atebm_data_") + (info ? info->test_suite_name() + std::string("_") + info->name() : "x") + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const Bytes& b) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  ASSERT_TRUE(f.good()) << path;
}

inline void write_gz(const std::string& path, const Bytes& b) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr) << path;
  if (!b.empty()) {
    ASSERT_EQ(gzwrite(gz, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
  }
  ASSERT_EQ(gzclose(gz), Z_OK);
}

inline Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

/// An IDX file: header (type, dims) + data.
inline Bytes idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

/// A ustar archive of (path, bytes) files, '0' entries; a path over 100 bytes gets a GNU 'L'
/// long-name entry first.
inline Bytes tar_bytes(const std::vector<std::pair<std::string, Bytes>>& files, bool end_blocks = true) {
  Bytes out;
  auto header = [&](const std::string& name, size_t size, char type) {
    uint8_t h[512] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
    std::snprintf(reinterpret_cast<char*>(h + 100), 8, "%07o", 0644);
    std::snprintf(reinterpret_cast<char*>(h + 108), 8, "%07o", 0);
    std::snprintf(reinterpret_cast<char*>(h + 116), 8, "%07o", 0);
    std::snprintf(reinterpret_cast<char*>(h + 124), 12, "%011llo", static_cast<unsigned long long>(size));
    std::snprintf(reinterpret_cast<char*>(h + 136), 12, "%011o", 0);
    h[156] = static_cast<uint8_t>(type);
    std::memcpy(h + 257, "ustar", 6);  // "ustar\0"
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (uint8_t c : h) sum += c;
    std::snprintf(reinterpret_cast<char*>(h + 148), 8, "%06o", sum);
    h[155] = ' ';
    out.insert(out.end(), h, h + 512);
  };
  auto data = [&](const Bytes& d) {
    out.insert(out.end(), d.begin(), d.end());
    out.resize((out.size() + 511) / 512 * 512, 0);
  };
  for (const auto& [name, bytes] : files) {
    if (name.size() > 100) {
      Bytes n(name.begin(), name.end());
      n.push_back(0);
      header("././@LongLink", n.size(), 'L');
      data(n);
    }
    header(name, bytes.size(), '0');
    data(bytes);
  }
  if (end_blocks) out.resize(out.size() + 1024, 0);
  return out;
}

using atebm::test::expect_error;

inline std::string shared_data_dir() { return std::string(ATEBM_SOURCE_DIR) + "/../shared/data"; }

}  // namespace atebm::data::testing
