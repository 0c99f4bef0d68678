#pragma once
// Writing 8-bit PNG files with stb_image_write (Debian's libstb-dev): the picture outputs of the
// tools (sample grids, before/after grids, toy 2-D plots). The stb_image_write implementation is
// compiled once, in png_write.cpp; nothing else may define STB_IMAGE_WRITE_IMPLEMENTATION.
#include <cstdint>
#include <string>
#include <vector>

namespace atebm::at_ebm {

/// The PNG bytes of `pixels`: row-major, interleaved (HWC), width · height · channels bytes,
/// channels 1 (grey), 3 (RGB) or 4 (RGBA). Throws atebm::Error for a bad size or channel count.
std::vector<uint8_t> encode_png(const uint8_t* pixels, int64_t width, int64_t height, int64_t channels);

/// Writes encode_png(...) to `path` atomically: a temporary file beside the target, renamed over
/// it once complete, so a reader never sees half a picture and a failure leaves no debris.
/// Throws atebm::Error naming the path and the reason (missing folder, permission, full disk).
void write_png(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height, int64_t channels);

}  // namespace atebm::at_ebm
