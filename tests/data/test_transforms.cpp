// Per-image transforms: exact small cases for crop/flip/resize/colour, and the random ones'
// ranges and determinism under a given Generator.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "at_ebm/data/augment.h"
#include "at_ebm/data/random_draw.h"
#include "at_ebm/data/resize.h"
#include "at_ebm/data/transforms.h"
#include "tests/data/data_test_util.h"

using namespace atebm;
using namespace atebm::data;
using atebm::data::testing::expect_error;

namespace {
std::vector<float> iota_image(const ImageShape& s) {
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i + 1) / static_cast<float>(v.size() + 1);
  return v;
}
}  // namespace

TEST(Transforms, PadCropShiftsContentAndFillsZeros) {
  const ImageShape s{2, 4, 5};
  const auto src = iota_image(s);
  std::vector<float> dst(src.size());
  pad_crop(src.data(), s, 2, 2, 2, dst.data());  // centre: identity
  EXPECT_EQ(dst, src);
  pad_crop(src.data(), s, 2, 3, 0, dst.data());  // content moves up 1 and right 2
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 5; ++x) {
        const int64_t sy = y + 1, sx = x - 2;
        const float want = (sy < 4 && sx >= 0) ? src[(c * 4 + sy) * 5 + sx] : 0.0f;
        ASSERT_EQ(dst[(c * 4 + y) * 5 + x], want) << c << y << x;
      }
  expect_error([&] { pad_crop(src.data(), s, 2, 5, 0, dst.data()); }, {"offsets (5, 0)", "[0, 4]"});
}

TEST(Transforms, FlipMirrorsAndTwiceIsIdentity) {
  const ImageShape s{3, 2, 4};
  const auto src = iota_image(s);
  auto img = src;
  hflip(img.data(), s);
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t x = 0; x < 4; ++x) EXPECT_EQ(img[r * 4 + x], src[r * 4 + 3 - x]);
  hflip(img.data(), s);
  EXPECT_EQ(img, src);
}

TEST(Transforms, ResizeKeepsConstantsAndIsBilinear) {
  for (auto [h, w, oh, ow] : {std::array<int64_t, 4>{32, 32, 28, 28}, {28, 28, 32, 32}, {7, 3, 20, 1}, {32, 32, 5, 9}}) {
    const ImageShape s{3, h, w};
    std::vector<float> src(static_cast<size_t>(s.numel()), 0.37f), dst(static_cast<size_t>(3 * oh * ow));
    resize_bilinear(src.data(), s, dst.data(), oh, ow);
    for (float v : dst) ASSERT_NEAR(v, 0.37f, 1e-6f);
  }
  // Upsampling 2 → 4 with half-pixel centres: 0, 0.25, 0.75, 1 between values 0 and 1.
  const float row[2] = {0.0f, 1.0f};
  float up[4];
  resize_bilinear(row, {1, 1, 2}, up, 1, 4);
  EXPECT_FLOAT_EQ(up[0], 0.0f);
  EXPECT_FLOAT_EQ(up[1], 0.25f);
  EXPECT_FLOAT_EQ(up[2], 0.75f);
  EXPECT_FLOAT_EQ(up[3], 1.0f);
  // Halving with antialias uses the stretched triangle (weights 1/8 3/8 3/8 1/8, PIL's BILINEAR):
  // alternating stripes average to 0.5.
  std::vector<float> stripes(16);
  for (int x = 0; x < 16; ++x) stripes[x] = static_cast<float>(x % 2);
  std::vector<float> half(8), aliased(8);
  resize_bilinear(stripes.data(), {1, 1, 16}, half.data(), 1, 8);
  resize_bilinear(stripes.data(), {1, 1, 16}, aliased.data(), 1, 8, /*antialias=*/false);
  for (int x = 1; x < 7; ++x) EXPECT_FLOAT_EQ(half[x], 0.5f) << x;
  EXPECT_FLOAT_EQ(half[0], (0 * 3 + 1 * 3 + 0 * 1) / 7.0f);  // edge: the weight off the image is dropped
  for (int x = 1; x < 7; ++x) EXPECT_FLOAT_EQ(aliased[x], 0.5f);  // sampling between pixels 2x, 2x+1
  // Shrinking 8 → 2: plain bilinear reads only pixels 1-2 and 5-6, so a bright pixel 0 vanishes;
  // the antialiased filter sees every pixel.
  const float dot[8] = {1, 0, 0, 0, 0, 0, 0, 0};
  float aa[2], plain[2];
  resize_bilinear(dot, {1, 1, 8}, aa, 1, 2);
  resize_bilinear(dot, {1, 1, 8}, plain, 1, 2, false);
  EXPECT_EQ(plain[0], 0.0f);
  EXPECT_GT(aa[0], 0.1f);
  // A region resize reads only the box.
  const ImageShape s{1, 4, 4};
  std::vector<float> img(16, 0.0f);
  img[5] = img[6] = img[9] = img[10] = 1.0f;  // the centre 2x2 box
  std::vector<float> out(9);
  resize_region(img.data(), s, 1, 1, 2, 2, out.data(), 3, 3);
  for (float v : out) EXPECT_FLOAT_EQ(v, 1.0f);
  expect_error([&] { resize_region(img.data(), s, 3, 0, 2, 2, out.data(), 3, 3); }, {"not inside"});
}

TEST(Transforms, GreyAndRgb) {
  const float grey[4] = {0.0f, 0.2f, 0.6f, 1.0f};
  float rgb[12];
  grey_to_rgb(grey, 2, 2, rgb);
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 4; ++k) EXPECT_EQ(rgb[c * 4 + k], grey[k]);
  float back[4];
  rgb_to_grey(rgb, 2, 2, back);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(back[k], grey[k], 1e-6f);
  const float red[3] = {1.0f, 0.0f, 0.0f};
  float l;
  rgb_to_grey(red, 1, 1, &l);
  EXPECT_FLOAT_EQ(l, 0.299f);
  const uint8_t u[3] = {0, 51, 255};
  float f[3];
  u8_to_float(u, f, 3);
  EXPECT_FLOAT_EQ(f[1], 0.2f);
  EXPECT_EQ(f[2], 1.0f);
}

TEST(Transforms, RandomOnesFollowTheGenerator) {
  const ImageShape s{1, 8, 8};
  const auto src = iota_image(s);
  std::vector<float> a(src.size()), b(src.size());
  int shifted = 0, flipped = 0;
  for (int t = 0; t < 200; ++t) {
    Generator g1(t), g2(t);
    random_pad_crop(src.data(), s, 3, a.data(), g1);
    random_pad_crop(src.data(), s, 3, b.data(), g2);
    ASSERT_EQ(a, b);
    ASSERT_EQ(g1.state().offset, 2u);  // two draws
    shifted += a != src;
    auto f = src;
    random_hflip(f.data(), s, g1);
    flipped += f != src;
  }
  EXPECT_GT(shifted, 150);  // 48 of 49 offsets move the image
  EXPECT_GT(flipped, 70);
  EXPECT_LT(flipped, 130);
  for (int t = 0; t < 300; ++t) {
    Generator g(t);
    const ResizedCropParams p{0.3, 0.6, 0.5, 2.0};
    const CropBox box = sample_resized_crop(20, 30, p, g);
    ASSERT_GE(box.y, 0);
    ASSERT_GE(box.x, 0);
    ASSERT_LE(box.y + box.h, 20);
    ASSERT_LE(box.x + box.w, 30);
    ASSERT_LE(g.state().offset, 22u);
    const double area = static_cast<double>(box.h * box.w) / 600.0;
    EXPECT_GT(area, 0.25);
    EXPECT_LT(area, 0.67);
  }
  EXPECT_NE(draw_uniform(*std::make_unique<Generator>(1)), draw_uniform(*std::make_unique<Generator>(2)));
}

TEST(Transforms, AugmentTextForm) {
  const Augment a = parse_augment("crop=4,flip");
  EXPECT_EQ(a.crop_pad, 4);
  EXPECT_TRUE(a.hflip);
  EXPECT_FALSE(a.resized_crop);
  EXPECT_EQ(augment_str(a), "crop=4,flip");
  const Augment r = parse_augment("rrc=0.5:1");
  ASSERT_TRUE(r.resized_crop);
  EXPECT_EQ(r.resized_crop->scale_lo, 0.5);
  EXPECT_EQ(parse_augment(augment_str(r)).resized_crop->ratio_hi, r.resized_crop->ratio_hi);
  EXPECT_FALSE(parse_augment("none").any());
  expect_error([] { parse_augment("crop"); }, {"crop needs its padding"});
  expect_error([] { parse_augment("crop=x"); }, {"crop padding", "\"x\""});
  expect_error([] { parse_augment("rotate=5"); }, {"unknown item \"rotate=5\"", "crop=PAD"});
  expect_error([] { parse_augment("rrc=0.5:2"); }, {"S1 <= 1"});
}
