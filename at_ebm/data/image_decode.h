#pragma once
// Decoding PNG, JPEG and BMP images held in memory, with stb_image (Debian's libstb-dev).
// The stb_image implementation is compiled once, in image_decode.cpp, restricted to these three
// formats and to images of at most 16384 pixels a side; nothing else may define
// STB_IMAGE_IMPLEMENTATION.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace atebm::data {

struct ImageInfo {
  int width = 0, height = 0;
  int channels = 0;  // as stored: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
};

/// Reads only the header. Throws atebm::Error naming `name` when the format is not recognised.
ImageInfo probe_image(const uint8_t* data, size_t size, const std::string& name);

/// Decodes to interleaved 8-bit pixels (HWC) with `channels` = 1 (grey) or 3 (RGB); stb_image
/// converts other channel counts (alpha is dropped). Throws atebm::Error naming `name` and the
/// decoder's reason when the image is corrupt.
std::vector<uint8_t> decode_image(const uint8_t* data, size_t size, int channels, const std::string& name,
                                  ImageInfo* info);

/// True for .png, .jpg, .jpeg, .bmp (any case).
bool has_image_extension(const std::string& path);

}  // namespace atebm::data
