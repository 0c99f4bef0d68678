// The applications of generation (applications.h) and their picture outputs: translation,
// denoising and inpainting (seeded, batched; inpainting never touches unmasked pixels), the
// inpainting masks (io/mask.h: centre box, random boxes, PNG files), the image grid layout
// (io/image_grid.h) and the PNG writer (io/png_write.h).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/expect.h"
#include "common/tiny_models.h"
#include "at_ebm/data/file_bytes.h"
#include "at_ebm/data/image_decode.h"
#include "at_ebm/data/synthetic.h"
#include "at_ebm/io/image_grid.h"
#include "at_ebm/io/mask.h"
#include "at_ebm/io/png_write.h"
#include "at_ebm/method/applications.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::at_ebm;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<nn::Module> tiny_model(uint64_t seed = 0) { return atebm::test::tiny_resnet(seed); }

using atebm::test::max_abs_diff;

void expect_in_unit_range(const Tensor& t) {
  for (float v : t.to_vector<float>()) ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("atebm_test_apps_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

struct Fixture {
  std::shared_ptr<nn::Module> model = tiny_model(5);
  ScoreFn f = model_score(*model);
  nn::NamedTensors params = model->named_parameters();
  Tensor images = draw_images(*data::make_smooth(40, {1, 8, 8}, 4, 2), 6, 1);
};

}  // namespace

// ---- translation, denoising, inpainting ---------------------------------------------------------

TEST(Applications, TranslateKeepsTheInputAndMovesIt) {
  Fixture fx;
  const SampleOptions opt{.batch_size = 4, .steps = 3, .step_size = 0.2, .seed = 0};
  const Translation t = translate(fx.f, fx.params, fx.images, opt);
  EXPECT_EQ(max_abs_diff(t.before, fx.images), 0.0);
  ASSERT_EQ(t.after.shape(), fx.images.shape());
  expect_in_unit_range(t.after);
  EXPECT_GT(max_abs_diff(t.after, t.before), 0.05);
  EXPECT_EQ(max_abs_diff(translate(fx.f, fx.params, fx.images, opt).after, t.after), 0.0);
}

TEST(Applications, DenoiseAddsSeededNoiseThenClimbs) {
  Fixture fx;
  const SampleOptions opt{.batch_size = 4, .steps = 2, .step_size = 0.1, .seed = 3};
  const Denoising d = denoise(fx.f, fx.params, fx.images, 0.1, opt);
  EXPECT_EQ(max_abs_diff(d.clean, fx.images), 0.0);
  expect_in_unit_range(d.noisy);
  expect_in_unit_range(d.restored);
  // The noise: σ = 0.1 on every pixel (clamping only shrinks it), so its RMS is near 0.1.
  const double rms = std::sqrt(mean(square(sub(d.noisy, d.clean))).item());
  EXPECT_GT(rms, 0.06);
  EXPECT_LT(rms, 0.11);
  EXPECT_GT(max_abs_diff(d.restored, d.noisy), 0.01);
  // Seeded: the same seed gives the same noise, another seed another one.
  EXPECT_EQ(max_abs_diff(denoise(fx.f, fx.params, fx.images, 0.1, opt).noisy, d.noisy), 0.0);
  SampleOptions other = opt;
  other.seed = 4;
  EXPECT_GT(max_abs_diff(denoise(fx.f, fx.params, fx.images, 0.1, other).noisy, d.noisy), 0.01);
  // σ = 0 and no steps: nothing changes.
  const Denoising z = denoise(fx.f, fx.params, fx.images, 0.0, {.steps = 0});
  EXPECT_EQ(max_abs_diff(z.noisy, fx.images), 0.0);
  EXPECT_EQ(max_abs_diff(z.restored, fx.images), 0.0);
  EXPECT_THROW(denoise(fx.f, fx.params, fx.images, -0.1, opt), Error);
}

TEST(Applications, InpaintNeverChangesUnmaskedPixels) {
  Fixture fx;
  Generator gen(7);
  const Tensor mask = random_box_masks(6, 8, 8, 0.5, gen);
  const SampleOptions opt{.batch_size = 4, .steps = 5, .step_size = 0.5, .seed = 2};
  const Inpainting r = inpaint(fx.f, fx.params, fx.images, mask, opt);
  EXPECT_EQ(max_abs_diff(r.original, fx.images), 0.0);
  expect_in_unit_range(r.filled);
  const std::vector<float> m = mask.to_vector<float>(), orig = fx.images.to_vector<float>(),
                           masked = r.masked.to_vector<float>(), filled = r.filled.to_vector<float>();
  int moved = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] == 0.0f) {
      EXPECT_EQ(masked[i], orig[i]) << i;
      EXPECT_EQ(filled[i], orig[i]) << i;
    } else {
      moved += filled[i] != masked[i];
    }
  }
  EXPECT_GT(moved, 6 * 16 / 2) << "most masked pixels should move";
  EXPECT_EQ(max_abs_diff(inpaint(fx.f, fx.params, fx.images, mask, opt).filled, r.filled), 0.0);
}

TEST(Applications, InpaintConstantFillAndSharedMask) {
  Fixture fx;
  const Tensor mask = centre_box_mask(8, 8, 0.5);
  const Inpainting r = inpaint(fx.f, fx.params, fx.images, mask, {.steps = 0},
                               {.kind = InpaintFill::Kind::Constant, .value = 0.25});
  const std::vector<float> masked = r.masked.to_vector<float>(), orig = fx.images.to_vector<float>();
  for (int64_t k = 0; k < 6; ++k)
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x) {
        const size_t i = static_cast<size_t>(k * 64 + y * 8 + x);
        const bool inside = y >= 2 && y < 6 && x >= 2 && x < 6;
        EXPECT_EQ(masked[i], inside ? 0.25f : orig[i]) << k << " " << y << " " << x;
      }
  EXPECT_EQ(max_abs_diff(r.filled, r.masked), 0.0);  // zero steps
  EXPECT_THROW(inpaint(fx.f, fx.params, fx.images, ones({2, 1, 8, 8}), {}), Error);
  EXPECT_THROW(inpaint(fx.f, fx.params, fx.images, ones({1, 1, 4, 4}), {}), Error);
  EXPECT_THROW(inpaint(fx.f, fx.params, fx.images, mask, {}, {.kind = InpaintFill::Kind::Constant, .value = 2}),
               Error);
}

// ---- masks -------------------------------------------------------------------------------------

TEST(InpaintMasks, CentreBoxSizeAndPlace) {
  const Tensor m = centre_box_mask(8, 8, 0.5);
  ASSERT_EQ(m.shape(), (Shape{1, 1, 8, 8}));
  const std::vector<float> v = m.to_vector<float>();
  for (int64_t y = 0; y < 8; ++y)
    for (int64_t x = 0; x < 8; ++x)
      EXPECT_EQ(v[static_cast<size_t>(y * 8 + x)], (y >= 2 && y < 6 && x >= 2 && x < 6) ? 1.0f : 0.0f);
  // 7×9 at 0.5: round(3.5) = 4 rows from (7 − 4) / 2 = 1, round(4.5) = 5 columns from 2.
  const std::vector<float> w = centre_box_mask(7, 9, 0.5).to_vector<float>();
  for (int64_t y = 0; y < 7; ++y)
    for (int64_t x = 0; x < 9; ++x)
      EXPECT_EQ(w[static_cast<size_t>(y * 9 + x)], (y >= 1 && y < 5 && x >= 2 && x < 7) ? 1.0f : 0.0f) << y << x;
  EXPECT_EQ(sum(centre_box_mask(5, 5, 1.0)).item(), 25.0);
  EXPECT_EQ(sum(centre_box_mask(5, 5, 0.01)).item(), 1.0);  // at least one pixel
  EXPECT_THROW(centre_box_mask(8, 8, 0.0), Error);
  EXPECT_THROW(centre_box_mask(8, 8, 1.5), Error);
}

TEST(InpaintMasks, RandomBoxesPerImageAreSeededBoxes) {
  Generator g1(3), g2(3);
  const Tensor a = random_box_masks(20, 10, 12, 0.3, g1), b = random_box_masks(20, 10, 12, 0.3, g2);
  ASSERT_EQ(a.shape(), (Shape{20, 1, 10, 12}));
  EXPECT_EQ(max_abs_diff(a, b), 0.0);
  const std::vector<float> v = a.to_vector<float>();
  std::set<std::pair<int64_t, int64_t>> corners;
  for (int64_t k = 0; k < 20; ++k) {
    int64_t top = 99, left = 99, bottom = -1, right = -1, count = 0;
    for (int64_t y = 0; y < 10; ++y)
      for (int64_t x = 0; x < 12; ++x)
        if (v[static_cast<size_t>(k * 120 + y * 12 + x)] == 1.0f) {
          top = std::min(top, y), left = std::min(left, x), bottom = std::max(bottom, y), right = std::max(right, x);
          ++count;
        }
    // A solid 3 × 4 box (round(0.3 · 10), round(0.3 · 12)).
    EXPECT_EQ(bottom - top + 1, 3);
    EXPECT_EQ(right - left + 1, 4);
    EXPECT_EQ(count, 12);
    corners.emplace(top, left);
  }
  EXPECT_GT(corners.size(), 5u) << "boxes should be at different places";
}

TEST(InpaintMasks, ParseSpec) {
  EXPECT_EQ(parse_mask_spec("centre").kind, MaskSpec::Kind::Centre);
  EXPECT_EQ(parse_mask_spec("centre").fraction, 0.5);
  EXPECT_EQ(parse_mask_spec("center:0.25").fraction, 0.25);
  const MaskSpec r = parse_mask_spec("random:0.3");
  EXPECT_EQ(r.kind, MaskSpec::Kind::Random);
  EXPECT_EQ(r.fraction, 0.3);
  const MaskSpec f = parse_mask_spec("masks/hole.png");
  EXPECT_EQ(f.kind, MaskSpec::Kind::File);
  EXPECT_EQ(f.path, "masks/hole.png");
  for (const char* bad : {"", "centre:", "centre:0", "centre:1.5", "centre:abc", "random:0.5x", "square", "mask.txt"})
    EXPECT_THROW(parse_mask_spec(bad), Error) << bad;
  Generator gen(0);
  EXPECT_EQ(make_mask(parse_mask_spec("random:0.5"), 4, 8, 8, gen).shape(), (Shape{4, 1, 8, 8}));
  EXPECT_EQ(make_mask(parse_mask_spec("centre"), 4, 8, 8, gen).shape(), (Shape{1, 1, 8, 8}));
}

TEST(InpaintMasks, PngRoundTripResizeAndErrors) {
  const fs::path dir = temp_dir("mask");
  // A 4×4 grey picture with three lit pixels, and an RGB one lit only in blue.
  std::vector<uint8_t> grey(16, 0);
  grey[1] = 255, grey[6] = 1, grey[15] = 128;
  write_png((dir / "grey.png").string(), grey.data(), 4, 4, 1);
  const std::vector<float> m = mask_from_image((dir / "grey.png").string(), 4, 4).to_vector<float>();
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(m[i], grey[i] != 0 ? 1.0f : 0.0f) << i;
  // Nearest-neighbour to 8×8: each source pixel becomes a 2×2 block.
  const std::vector<float> big = mask_from_image((dir / "grey.png").string(), 8, 8).to_vector<float>();
  for (int64_t y = 0; y < 8; ++y)
    for (int64_t x = 0; x < 8; ++x)
      EXPECT_EQ(big[static_cast<size_t>(y * 8 + x)], grey[static_cast<size_t>((y / 2) * 4 + x / 2)] != 0 ? 1.0f : 0.0f);
  std::vector<uint8_t> rgb(2 * 2 * 3, 0);
  rgb[2] = 9;  // pixel (0, 0): blue only
  write_png((dir / "rgb.png").string(), rgb.data(), 2, 2, 3);
  EXPECT_EQ(mask_from_image((dir / "rgb.png").string(), 2, 2).to_vector<float>(),
            (std::vector<float>{1, 0, 0, 0}));
  // Not an image, and no file at all.
  std::ofstream(dir / "bad.png") << "this is not a PNG";
  EXPECT_THROW(mask_from_image((dir / "bad.png").string(), 4, 4), Error);
  EXPECT_THROW(mask_from_image((dir / "none.png").string(), 4, 4), Error);
  fs::remove_all(dir);
}

// ---- grids and PNG files -----------------------------------------------------------------------

TEST(ImageGrid, ToByteRoundsLikeSaveImage) {
  EXPECT_EQ(to_byte(0.0), 0);
  EXPECT_EQ(to_byte(1.0), 255);
  EXPECT_EQ(to_byte(0.2), 51);   // 51.5 → 51
  EXPECT_EQ(to_byte(0.5), 128);  // 128.0
  EXPECT_EQ(to_byte(-3.0), 0);
  EXPECT_EQ(to_byte(7.0), 255);
  EXPECT_EQ(to_byte(std::nan("")), 0);
}

TEST(ImageGrid, LayoutOfAKnownBatch) {
  // Three 1×2×2 images with distinct values, 2 per row, padding 1, pad value 0.5.
  const Tensor x = from_vector<float>({0.0f, 0.2f, 0.4f, 0.6f,  //
                                       1.0f, 1.0f, 1.0f, 1.0f,  //
                                       2.0f, -1.0f, 0.8f, 0.1f},
                                      {3, 1, 2, 2});
  const GridImage g = make_grid(x, 2, 1, 0.5);
  EXPECT_EQ(g.width, 2 * 3 + 1);
  EXPECT_EQ(g.height, 2 * 3 + 1);
  EXPECT_EQ(g.channels, 1);
  // Image 0 at (1, 1), image 1 at (1, 4), image 2 at (4, 1); the empty slot and borders are pad.
  EXPECT_EQ(g.at(1, 1), 0);
  EXPECT_EQ(g.at(1, 2), 51);
  EXPECT_EQ(g.at(2, 1), 102);
  EXPECT_EQ(g.at(2, 2), 153);
  EXPECT_EQ(g.at(1, 4), 255);
  EXPECT_EQ(g.at(2, 5), 255);
  EXPECT_EQ(g.at(4, 1), 255);  // 2.0 clamped
  EXPECT_EQ(g.at(4, 2), 0);    // -1 clamped
  EXPECT_EQ(g.at(5, 1), 204);
  EXPECT_EQ(g.at(5, 2), 26);
  for (int64_t i = 0; i < 7; ++i) {
    EXPECT_EQ(g.at(0, i), 128);
    EXPECT_EQ(g.at(i, 0), 128);
    EXPECT_EQ(g.at(3, i), 128);
    EXPECT_EQ(g.at(i, 3), 128);
  }
  EXPECT_EQ(g.at(4, 4), 128);
  EXPECT_EQ(g.at(5, 5), 128);
  // nrow larger than N: one row of N.
  const GridImage one_row = make_grid(x, 8, 0);
  EXPECT_EQ(one_row.width, 6);
  EXPECT_EQ(one_row.height, 2);
  EXPECT_THROW(make_grid(zeros({2, 2, 4, 4}), 8), Error);
  EXPECT_THROW(make_grid(zeros({2, 4, 4}), 8), Error);
  EXPECT_THROW(make_grid(x, 0), Error);
}

TEST(ImageGrid, RgbChannelsAreInterleaved) {
  Tensor x = zeros({1, 3, 1, 2});
  x.data<float>()[0] = 1.0f;  // R of pixel (0, 0)
  x.data<float>()[3] = 0.2f;  // G of pixel (0, 1)
  x.data<float>()[5] = 1.0f;  // B of pixel (0, 1)
  const GridImage g = make_grid(x, 8, 0);
  ASSERT_EQ(g.channels, 3);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{255, 0, 0, 0, 51, 255}));
}

TEST(ImageGrid, ComparisonRowsInterleaveTheBatchesInBlocks) {
  const Tensor a = full({3, 1, 1, 1}, 0.1), b = full({3, 1, 1, 1}, 0.9);
  a.data<float>()[2] = 0.3f;
  const Tensor rows = comparison_rows({a, b}, 2, 0.0);
  ASSERT_EQ(rows.shape(), (Shape{8, 1, 1, 1}));
  const std::vector<float> v = rows.to_vector<float>();
  const std::vector<float> want = {0.1f, 0.1f, 0.9f, 0.9f, 0.3f, 0.0f, 0.9f, 0.0f};
  EXPECT_EQ(v, want);
  EXPECT_THROW(comparison_rows({a, full({2, 1, 1, 1}, 0.5)}, 2), Error);
}

TEST(ImageGrid, SavedPngDecodesToTheGrid) {
  const fs::path dir = temp_dir("grid");
  const Tensor x = rand({5, 3, 4, 6});
  const std::string path = (dir / "g.png").string();
  save_grid(path, x, 2, 2, 1.0);
  const GridImage g = make_grid(x, 2, 2, 1.0);
  const std::vector<uint8_t> bytes = data::read_file_bytes(path);
  data::ImageInfo info;
  const std::vector<uint8_t> px = data::decode_image(bytes.data(), bytes.size(), 3, path, &info);
  EXPECT_EQ(info.width, g.width);
  EXPECT_EQ(info.height, g.height);
  EXPECT_EQ(px, g.pixels);
  // The temporary file is gone; only the picture remains.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  save_comparison_grid((dir / "c.png").string(), {x, x}, 4);
  EXPECT_TRUE(fs::exists(dir / "c.png"));
  fs::remove_all(dir);
}

TEST(ImageGrid, WritePngErrorsNameThePath) {
  const uint8_t px[4] = {0, 1, 2, 3};
  try {
    write_png("/nonexistent-folder/x.png", px, 2, 2, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-folder/x.png"), std::string::npos) << e.what();
  }
  EXPECT_THROW(encode_png(px, 2, 1, 2), Error);  // 2 channels
  EXPECT_THROW(encode_png(px, 0, 1, 1), Error);
  EXPECT_EQ(encode_png(px, 2, 2, 1).size() > 8, true);
}
