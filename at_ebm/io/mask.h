#pragma once
// Inpainting masks: which pixels PGD may change. A mask is a float32 tensor [M, 1, H, W] with
// values 0/1, 1 = the pixel is to be filled (it may move), 0 = it is kept; M is 1 (one mask for
// every image) or the number of images. This is what PgdOptions::mask expects: it broadcasts
// over the channels.
//
// Text form (the --mask option of `atebm inpaint`):
//   centre[:F]  (or center[:F])  one box of F·H × F·W pixels (rounded, at least 1) in the middle
//   random[:F]                   a box of the same size at a random place in each image
//   FILE.png                     a picture: any non-zero channel = fill; resized (nearest) to H×W
// F ∈ (0, 1], default 0.5.
#include <cstdint>
#include <string>

#include "engine/generator.h"
#include "engine/tensor.h"

namespace atebm::at_ebm {

struct MaskSpec {
  enum class Kind { Centre, Random, File };
  Kind kind = Kind::Centre;
  double fraction = 0.5;  // side of the box as a fraction of the image side (Centre, Random)
  std::string path;       // the picture (File)
};

/// Parses the text form above; throws atebm::Error quoting the text and the expected form.
MaskSpec parse_mask_spec(const std::string& text);

/// [1, 1, H, W]: the centred box of round(F·H) × round(F·W) pixels (at least 1 each), its top-left
/// corner at ((H − bh) / 2, (W − bw) / 2) (integer division).
Tensor centre_box_mask(int64_t height, int64_t width, double fraction);

/// [N, 1, H, W]: for each image, a box of the centre box's size whose top-left corner is uniform
/// over the positions that keep it inside the image, drawn from `gen` (two draws per image).
Tensor random_box_masks(int64_t n, int64_t height, int64_t width, double fraction, Generator& gen);

/// [1, 1, H, W] from a PNG, JPEG or BMP picture: 1 where any channel of the pixel is non-zero.
/// A picture of another size is resized to H × W by nearest neighbour (source pixel
/// ⌊y · h_src / H⌋, ⌊x · w_src / W⌋). Throws atebm::Error naming the file when it cannot be read
/// or is not an image.
Tensor mask_from_image(const std::string& path, int64_t height, int64_t width);

/// The mask a spec describes for `n` images of H × W ([1, 1, H, W] or, for Random, [n, 1, H, W]).
Tensor make_mask(const MaskSpec& spec, int64_t n, int64_t height, int64_t width, Generator& gen);

}  // namespace atebm::at_ebm
