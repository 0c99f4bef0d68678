// `atebm train-classifier` and `atebm fid --features classifier:FILE` as a user runs them:
// usage errors (exit 2), a training run on a tiny labelled IDX set (dark vs bright 8×8 images)
// that prints its epochs and writes a model file that loads as a classifier, and FID/KID of
// that set against itself through the classifier (FID 0) written to the JSON.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "at_ebm/fid/classifier.h"
#include "tools/tool_test_util.h"

using namespace atebm::cli::testing;

namespace {

using CmdTrainClassifier = ToolTest;

void put_u32(std::ofstream& f, uint32_t v) {
  const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  f.write(b, 4);
}

// An IDX pair of n 8×8 images, even indices dark (label 0), odd ones bright (label 1); returns
// the spec "idx:IMAGES:LABELS".
std::string write_dark_bright_idx(const std::string& images, const std::string& labels, uint32_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(10, 90);
  std::ofstream fi(images, std::ios::binary), fl(labels, std::ios::binary);
  put_u32(fi, 0x00000803);
  put_u32(fi, n);
  put_u32(fi, 8);
  put_u32(fi, 8);
  put_u32(fl, 0x00000801);
  put_u32(fl, n);
  for (uint32_t i = 0; i < n; ++i) {
    for (int k = 0; k < 64; ++k) fi.put(char(u(rng) + (i % 2 == 1 ? 150 : 0)));
    fl.put(char(i % 2));
  }
  return "idx:" + images + ":" + labels;
}

const std::string kTinyConfig = R"('{"widths": [4, 4, 4, 4]}')";

}  // namespace

TEST_F(CmdTrainClassifier, UsageErrorsExitWithTwo) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train-classifier --test uniform:4 --out c.safetensors", "--data"},
      {"train-classifier --data uniform:4 --out c.safetensors", "--test"},
      {"train-classifier --data uniform:4 --test uniform:4", "--out"},
      {"train-classifier --data a --test b --out c --epochs 0", "epochs"},
      {"train-classifier --data a --test b --out c --optimizer rmsprop", "optimizer"},
      {"train-classifier --data a --test b --out c --augment twirl", "twirl"},
      {"train-classifier --data a --test b --out c --model-config '{bad'", "--model-config"},
      {"train-classifier --data a --test b --out c --model-config '[1]'", "JSON object"},
      {"fid --features bogus --samples s.npy --ref-stats r.npz", "--features must be"},
      {"fid --features classifier: --samples s.npy --ref-stats r.npz", "--features must be"},
      {"fid --features classifier:c --inception w --samples s.npy --ref-stats r.npz", "--inception is only used"},
      {"fid --features classifier:c --is --samples s.npy --ref-stats r.npz", "--is needs Inception"},
  };
  for (const auto& [args, part] : cases) {
    const Result r = atebm(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << args << "\n" << r.err;
  }
}

TEST_F(CmdTrainClassifier, UnlabelledDataIsAnError) {
  const Result r = atebm("train-classifier --data uniform:16 --test uniform:16 --out " + path("c.safetensors") +
                         " --batch-size 4 --epochs 1 --model-config " + kTinyConfig);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("has no labels"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("c.safetensors")));
}

TEST_F(CmdTrainClassifier, TrainsWritesTheModelAndGivesFidFeatures) {
  const std::string train = write_dark_bright_idx(path("tr-img"), path("tr-lab"), 64, 1);
  const std::string test = write_dark_bright_idx(path("te-img"), path("te-lab"), 32, 2);
  const std::string model = path("clf.safetensors");
  const Result r = atebm("train-classifier --data " + train + " --test " + test + " --out " + model +
                         " --epochs 8 --batch-size 16 --lr 1e-2 --augment flip --seed 3 --threads 2 --model-config " +
                         kTinyConfig);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("epoch 1/8: loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 8/8: loss"), std::string::npos) << r.out;
  const size_t at = r.out.find("test accuracy: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GE(std::stod(r.out.substr(at + 15)), 0.95) << r.out;
  ASSERT_TRUE(fs::exists(model));
  const auto net = atebm::at_ebm::load_classifier(model);
  EXPECT_EQ(net->config().in_channels, 1);
  EXPECT_EQ(net->config().num_classes, 2);

  // The same set as samples and reference: FID 0 (up to rounding), no Inception needed. (KID's
  // unbiased estimate is not 0 for identical subsets, so only its presence is checked.)
  const Result f = atebm("fid --features classifier:" + model + " --samples-spec " + test + " --ref " + test +
                         " --kid --out " + path("r.json"));
  ASSERT_EQ(f.code, 0) << f.out << f.err;
  const nlohmann::json j = nlohmann::json::parse(read_text(path("r.json")));
  EXPECT_EQ(j["features"], "classifier:" + model);
  EXPECT_FALSE(j.contains("inception"));
  EXPECT_NEAR(j["fid"].get<double>(), 0.0, 1e-3);
  EXPECT_EQ(j["kid"]["subset_size"], 32);
  EXPECT_EQ(j["samples"]["n"], 32);
}
