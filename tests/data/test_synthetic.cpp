// Synthetic sets: shapes, value ranges, and that image i is a pure function of (seed, i).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "at_ebm/data/synthetic.h"
#include "tests/data/data_test_util.h"

using namespace atebm::data;
using atebm::data::testing::expect_error;

TEST(Synthetic, UniformGaussianConstant) {
  const ImageShape s{3, 8, 8};
  const DatasetPtr u = make_uniform(10, s, 5);
  EXPECT_EQ(u->size(), 10);
  const Sample a = u->get(7), b = u->get(7), c = u->get(6);
  EXPECT_EQ(a.image, b.image);
  EXPECT_NE(a.image, c.image);
  EXPECT_NE(a.image, make_uniform(10, s, 6)->get(7).image);
  for (float v : a.image) ASSERT_TRUE(v >= 0.0f && v < 1.0f);

  const auto g = make_gaussian(4, s, GaussianMode::Clip)->get(3).image;
  double mean = 0;
  for (float v : g) {
    mean += v / static_cast<double>(g.size());
    ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
  }
  EXPECT_NEAR(mean, 0.5, 0.06);
  const auto r = make_gaussian(4, s, GaussianMode::Rescale, 0.0, 3.0)->get(0).image;
  EXPECT_EQ(*std::min_element(r.begin(), r.end()), 0.0f);
  EXPECT_EQ(*std::max_element(r.begin(), r.end()), 1.0f);

  for (float v : make_constant(2, s, 0.25)->get(1).image) ASSERT_EQ(v, 0.25f);
  expect_error([] { make_constant(2, {1, 2, 2}, 1.5); }, {"[0, 1]"});
  expect_error([] { make_uniform(0, {1, 2, 2}); }, {"must be positive"});
  expect_error([&] { u->get(10); }, {"uniform:10", "index 10 out of range"});
}

TEST(Synthetic, SmoothFieldsAreSmoothVariedAndReproducible) {
  const ImageShape s{1, 28, 28};
  const DatasetPtr d = make_smooth(200, s, 7, 3);
  EXPECT_EQ(d->get(5).image, make_smooth(200, s, 7, 3)->get(5).image);  // a pure function of (seed, i)
  EXPECT_NE(d->get(5).image, make_smooth(200, s, 7, 4)->get(5).image);
  // Neighbouring pixels differ far less than in uniform noise (mean |Δ| ≈ 1/3 there), and the
  // image means spread over [0, 1] (dark and bright backgrounds both occur).
  double mean_step = 0;
  double darkest = 1, brightest = 0;
  for (int64_t i = 0; i < d->size(); ++i) {
    const std::vector<float> img = d->get(i).image;
    double m = 0;
    for (int64_t y = 0; y < 28; ++y)
      for (int64_t x = 0; x < 28; ++x) {
        const float v = img[y * 28 + x];
        ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;
        m += v / 784.0;
        if (x > 0) mean_step += std::abs(v - img[y * 28 + x - 1]) / (200.0 * 28 * 27);
      }
    darkest = std::min(darkest, m);
    brightest = std::max(brightest, m);
  }
  EXPECT_LT(mean_step, 0.05);
  EXPECT_LT(darkest, 0.15);
  EXPECT_GT(brightest, 0.85);
  expect_error([] { make_smooth(10, {1, 8, 8}, 1); }, {"cells"});
}
