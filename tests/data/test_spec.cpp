// The dataset spec grammar: kinds, fields, options, conversion to a model's shape, and one clear
// error for every malformed spec.
#include <filesystem>

#include "at_ebm/data/spec.h"
#include "tests/data/data_test_util.h"

using namespace atebm::data;
using namespace atebm::data::testing;

TEST(Spec, ParsesKindFieldsAndOptions) {
  const DatasetSpec s = parse_spec("cifar10:/d:test@grey@size=28@first=100");
  EXPECT_EQ(s.kind, "cifar10");
  EXPECT_EQ(s.fields, (std::vector<std::string>{"/d", "test"}));
  EXPECT_EQ(s.channels, 1);
  EXPECT_EQ(s.height, 28);
  EXPECT_EQ(s.width, 28);
  EXPECT_EQ(s.first, 100);
  const DatasetSpec r = parse_spec("uniform:5@rgb@size=32x16");
  EXPECT_EQ(r.channels, 3);
  EXPECT_EQ(r.height, 32);
  EXPECT_EQ(r.width, 16);
  EXPECT_NE(spec_help().find("tinyimages:FILE[:exclude=LIST]"), std::string::npos);
}

TEST(Spec, SyntheticShapesFollowOptionsOrModel) {
  EXPECT_EQ(open_dataset("uniform:7")->shape(), (ImageShape{1, 28, 28}));
  EXPECT_EQ(open_dataset("uniform:7@rgb@size=32")->shape(), (ImageShape{3, 32, 32}));
  EXPECT_EQ(open_dataset("gaussian:3:rescale:std=0.5:seed=4")->size(), 3);
  EXPECT_EQ(open_dataset("constant:2:0.5", ImageShape{3, 32, 32})->shape(), (ImageShape{3, 32, 32}));
  EXPECT_EQ(open_dataset("uniform:100@first=10")->size(), 10);
  EXPECT_NE(open_dataset("uniform:2:seed=1")->get(0).image, open_dataset("uniform:2:seed=2")->get(0).image);
  const DatasetPtr c = open_dataset("constant:2:0.25@rgb@size=4", ImageShape{3, 4, 4});
  for (float v : c->get(1).image) EXPECT_FLOAT_EQ(v, 0.25f);
}

TEST(Spec, ConvertsRealDataToTheModelShape) {
  const std::string dir = shared_data_dir() + "/mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "no MNIST under " << dir;
  const DatasetPtr ds = open_dataset("mnist:" + dir + ":test", ImageShape{3, 32, 32});
  EXPECT_EQ(ds->shape(), (ImageShape{3, 32, 32}));
  EXPECT_EQ(ds->size(), 10000);
  const Sample s = ds->get(0);
  EXPECT_EQ(s.label, 7);
  for (int k = 0; k < 1024; ++k) ASSERT_EQ(s.image[k], s.image[2048 + k]);  // grey replicated
  EXPECT_EQ(open_dataset("mnist:" + dir + ":test@size=14")->shape(), (ImageShape{1, 14, 14}));
  expect_error([&] { open_dataset("mnist:" + dir + ":test@size=14", ImageShape{1, 28, 28}); },
               {"asks for 14x14 images but the model takes 28x28"});
  expect_error([&] { open_dataset("mnist:" + dir + ":test@first=10001"); }, {"@first=10001", "only 10000"});
  expect_error([&] { open_dataset("mnist:" + dir + ":train"); }, {"train-images-idx3-ubyte[.gz] not found"});
}

TEST(Spec, ErrorsNameTheSpecAndTheExpectedForm) {
  expect_error([] { open_dataset("imagenet:/x"); }, {"dataset spec \"imagenet:/x\"", "unknown kind \"imagenet\"", "fashion-mnist, mnist, idx"});
  expect_error([] { open_dataset(""); }, {"unknown kind \"\""});
  expect_error([] { open_dataset("uniform:10@blur"); }, {"unknown option \"@blur\"", "@grey"});
  expect_error([] { open_dataset("uniform:10@grey@rgb"); }, {"@rgb", "conflicts"});
  expect_error([] { open_dataset("uniform:10@size=0"); }, {"@size=0", "[1, 16384]"});
  expect_error([] { open_dataset("uniform:10@size=28x"); }, {"@size=28x"});
  expect_error([] { open_dataset("uniform:ten"); }, {"uniform:ten", "N", "\"ten\""});
  expect_error([] { open_dataset("uniform"); }, {"0 positional fields", "uniform:N[:seed=S]"});
  expect_error([] { open_dataset("uniform:5:7"); }, {"2 positional fields", "uniform:N"});
  expect_error([] { open_dataset("uniform:5:bogus=1"); }, {"unknown key \"bogus\""});
  expect_error([] { open_dataset("gaussian:5:wild"); }, {"mode \"wild\"", "gaussian:N[:clip|rescale]"});
  expect_error([] { open_dataset("constant:5:2"); }, {"value 2 is outside [0, 1]"});
  expect_error([] { open_dataset("cifar10:/nonexistent:valid"); }, {"split \"valid\" is neither train nor test"});
  expect_error([] { open_dataset("cifar10:/nonexistent"); }, {"1 positional field given", "cifar10:DIR:train|test"});
  expect_error([] { open_dataset("cifar10:/nonexistent:test"); }, {"/nonexistent/test_batch.bin", "missing"});
  expect_error([] { open_dataset("npy:/nonexistent.npy:nwhc"); }, {"layout \"nwhc\""});
  expect_error([] { open_dataset("idx::"); }, {"empty field"});
  expect_error([] { open_dataset("fashion-mnist:/nowhere:test"); }, {"/nowhere/t10k-images-idx3-ubyte[.gz] not found", "dataset-fashion-mnist"});
}
