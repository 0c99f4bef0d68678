#include "at_ebm/io/png_write.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include "engine/error.h"

// stb_image_write's implementation, once for the whole program, writing to memory only (the file
// itself is written below, atomically). Its code is not ours to warn about.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace atebm::at_ebm {
namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  ATEBM_FAIL("write_png: {} '{}': {}", what, path, std::strerror(err));
}

// The bytes go to PATH.tmp.PID.K, then rename() replaces PATH in one step.
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter.fetch_add(1));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) fail("cannot create", tmp, errno);
  int err = 0;
  errno = 0;
  if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) err = errno != 0 ? errno : EIO;
  if (std::fclose(f) != 0 && err == 0) err = errno != 0 ? errno : EIO;
  if (err != 0) {
    std::remove(tmp.c_str());
    fail("cannot write", tmp, err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    fail("cannot rename the temporary file over", path, err);
  }
}

}  // namespace

std::vector<uint8_t> encode_png(const uint8_t* pixels, int64_t width, int64_t height, int64_t channels) {
  ATEBM_CHECK(channels == 1 || channels == 3 || channels == 4, "write_png: channels must be 1, 3 or 4, got {}",
              channels);
  ATEBM_CHECK(width >= 1 && height >= 1, "write_png: image size must be at least 1x1, got {}x{}", width, height);
  // stb takes int sizes and an int row stride.
  ATEBM_CHECK(width * channels <= INT_MAX / 2 && height <= INT_MAX / 2 && width * channels * height <= INT_MAX,
              "write_png: image of {}x{}x{} is too large", width, height, channels);
  ATEBM_CHECK(pixels != nullptr, "write_png: no pixel data");
  std::vector<uint8_t> out;
  const int ok = stbi_write_png_to_func(append_bytes, &out, static_cast<int>(width), static_cast<int>(height),
                                        static_cast<int>(channels), pixels, static_cast<int>(width * channels));
  ATEBM_CHECK(ok != 0 && !out.empty(), "write_png: encoding a {}x{}x{} image failed", width, height, channels);
  return out;
}

void write_png(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height, int64_t channels) {
  ATEBM_CHECK(!path.empty(), "write_png: empty output path");
  write_file_atomically(path, encode_png(pixels, width, height, channels));
}

}  // namespace atebm::at_ebm
