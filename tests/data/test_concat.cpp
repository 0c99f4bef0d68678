// Concatenated datasets and spec lists: what a mixed p0 ("uniform + smooth + photos") is made of.
#include <gtest/gtest.h>

#include "at_ebm/data/concat.h"
#include "at_ebm/data/synthetic.h"
#include "tests/data/data_test_util.h"

using namespace atebm::data;
using atebm::data::testing::expect_error;

TEST(Concat, IndicesRunThroughThePartsInOrder) {
  const ImageShape s{1, 4, 4};
  const DatasetPtr a = make_uniform(3, s, 1), b = make_constant(2, s, 0.25), c = make_smooth(4, s, 3, 2);
  const DatasetPtr all = make_concat({a, b, c});
  ASSERT_EQ(all->size(), 9);
  EXPECT_EQ(all->shape(), s);
  EXPECT_EQ(all->get(0).image, a->get(0).image);
  EXPECT_EQ(all->get(2).image, a->get(2).image);
  EXPECT_EQ(all->get(3).image, b->get(0).image);
  EXPECT_EQ(all->get(5).image, c->get(0).image);
  EXPECT_EQ(all->get(8).image, c->get(3).image);
  EXPECT_THROW(all->get(9), atebm::Error);
  EXPECT_EQ(make_concat({a}), a);  // one part: the part itself
}

TEST(Concat, ErrorsNameThePart) {
  const DatasetPtr a = make_uniform(3, {1, 4, 4});
  expect_error([&] { make_concat({a, make_uniform(3, {3, 4, 4})}); }, {"part 1", "1x4x4", "3x4x4"});
  expect_error([] { make_concat({}); }, {"no parts"});
}

TEST(Concat, SpecListsOpenAtTheModelShape) {
  const nlohmann::json specs = {"uniform:5", "smooth:7", "constant:2:0.5"};
  const DatasetPtr d = open_datasets(specs, {1, 28, 28}, "data.p0");
  EXPECT_EQ(d->size(), 14);
  EXPECT_EQ(d->shape(), (ImageShape{1, 28, 28}));
  EXPECT_EQ(open_datasets("uniform:5", {3, 8, 8}, "p0")->shape(), (ImageShape{3, 8, 8}));
  expect_error([] { open_datasets(nlohmann::json::array(), {1, 8, 8}, "data.p0"); }, {"data.p0"});
  expect_error([] { open_datasets(nlohmann::json{"uniform:5", 3}, {1, 8, 8}, "data.p0"); }, {"data.p0", "3"});
}
