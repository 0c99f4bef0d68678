#include "at_ebm/data/image_decode.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>

#include "engine/error.h"

// stb_image's implementation, once for the whole program. Its code is not ours to warn about.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS (1 << 14)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace atebm::data {

namespace {
int checked_len(size_t size, const std::string& name) {
  ATEBM_CHECK(size <= static_cast<size_t>(INT_MAX), "{}: image of {} bytes is too large", name, size);
  return static_cast<int>(size);
}
}  // namespace

ImageInfo probe_image(const uint8_t* data, size_t size, const std::string& name) {
  ImageInfo info;
  const int ok = stbi_info_from_memory(data, checked_len(size, name), &info.width, &info.height, &info.channels);
  ATEBM_CHECK(ok == 1, "{}: not a readable PNG, JPEG or BMP image ({})", name,
              stbi_failure_reason() ? stbi_failure_reason() : "unknown format");
  return info;
}

std::vector<uint8_t> decode_image(const uint8_t* data, size_t size, int channels, const std::string& name,
                                  ImageInfo* info) {
  ATEBM_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got {}", channels);
  int w = 0, h = 0, stored = 0;
  stbi_uc* px = stbi_load_from_memory(data, checked_len(size, name), &w, &h, &stored, channels);
  ATEBM_CHECK(px != nullptr, "{}: cannot decode image ({})", name,
              stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  std::vector<uint8_t> out(px, px + static_cast<size_t>(w) * h * channels);
  stbi_image_free(px);
  if (info) *info = {w, h, stored};
  return out;
}

bool has_image_extension(const std::string& path) {
  const auto dot = path.find_last_of('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return false;
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "bmp";
}

}  // namespace atebm::data
