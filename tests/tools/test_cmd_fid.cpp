// `atebm fid` as a user runs it: the one-line message when the Inception weights are missing
// (exit 1), usage errors (exit 2), and one end-to-end run on a random-weight Inception saved as
// safetensors, with grey samples from a .npz and an RGB reference spec (FID, KID, IS, the saved
// statistics and the JSON).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "at_ebm/data/npy.h"
#include "at_ebm/fid/fid_stats.h"
#include "at_ebm/fid/inception.h"
#include "engine/factories.h"
#include "engine/generator.h"
#include "nn/io/safetensors.h"
#include "tools/tool_test_util.h"

using namespace atebm::cli::testing;

namespace {

using CmdFid = ToolTest;

int64_t lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

}  // namespace

TEST_F(CmdFid, MissingWeightsSayHowToMakeThemInOneLine) {
  for (const std::string& weights : {std::string(), " --inception " + path("absent.safetensors")}) {
    const Result r = atebm("fid --samples " + path("s.npy") + " --ref-stats " + path("ref.npz") + weights);
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("pt_inception"), std::string::npos) << r.err;
    EXPECT_NE(
        r.err.find("python3 tools/convert_inception.py pt_inception-2015-12-05-6726825d.pth inception.safetensors"),
        std::string::npos)
        << r.err;
    if (!weights.empty()) {
      EXPECT_NE(r.err.find("absent.safetensors: no such file"), std::string::npos) << r.err;
    }
  }
}

TEST_F(CmdFid, UsageErrorsExitWithTwo) {
  const std::string w = " --inception " + path("w.safetensors");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"fid --ref-stats r.npz" + w, "exactly one of --samples FILE and --samples-spec SPEC"},
      {"fid --samples s.npy --samples-spec uniform:4 --ref-stats r.npz" + w, "exactly one of --samples"},
      {"fid --samples s.npy --ref-stats r.npz --ref uniform:4" + w, "at most one of --ref-stats FILE and --ref SPEC"},
      {"fid --samples s.npy" + w, "give --ref-stats FILE or --ref SPEC"},
      {"fid --samples s.npy --ref-stats r.npz --kid" + w, "--kid compares features, not statistics"},
      {"fid --samples s.npy --ref-stats r.npz --batch-size 0" + w, "batch-size"},
      {"fid --samples s.npy --ref-stats r.npz --frobnicate" + w, "frobnicate"},
  };
  for (const auto& [args, part] : cases) {
    const Result r = atebm(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << args << "\n" << r.err;
  }
}

TEST_F(CmdFid, RandomInceptionEndToEnd) {
  // A random-weight network stands in for pytorch-fid's (same names and shapes). With PyTorch's
  // default init the activations shrink ~6× per layer (pool features ~1e-8, all images alike);
  // BatchNorm running variances of 1/6 keep them O(1), so different images give different features.
  auto net = atebm::at_ebm::InceptionV3::random(1);
  for (const auto& [name, t] : net->module().state_dict())
    if (name.ends_with(".running_var")) atebm::fill_into(t, 1.0 / 6.0);
  const std::string weights = path("inception.safetensors");
  atebm::nn::save_safetensors(weights, net->module().state_dict());
  atebm::Generator gen(2);
  const atebm::Tensor grey = atebm::rand({3, 1, 8, 8}, {}, &gen);
  atebm::data::save_npz(path("samples.npz"), {{"samples", grey}});

  const Result r = atebm("fid --inception " + weights + " --samples " + path("samples.npz") +
                         " --ref uniform:4:seed=2@rgb@size=8 --kid --is --is-splits 1 --batch-size 2 --save-stats " +
                         path("stats.npz") + " --out " + path("fid.json") + " --threads 2");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("FID: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("KID: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("IS: "), std::string::npos) << r.out;
  // 3 and 4 images give rank-deficient 2048×2048 covariances: the offset is applied and said.
  EXPECT_NE(r.out.find("added 1e-06·I to both covariances"), std::string::npos) << r.out;

  const nlohmann::json j = nlohmann::json::parse(read_text(path("fid.json")));
  EXPECT_EQ(j.at("samples").at("n"), 3);
  EXPECT_EQ(j.at("reference").at("n"), 4);
  const double fid = j.at("fid").get<double>();
  EXPECT_TRUE(std::isfinite(fid) && fid > 1e-3) << fid;  // grey noise vs RGB noise: clearly apart
  EXPECT_EQ(j.at("fid_offset").get<double>(), 1e-6);
  EXPECT_EQ(j.at("kid").at("subset_size"), 3);
  EXPECT_EQ(j.at("kid").at("subsets"), 100);
  EXPECT_TRUE(std::isfinite(j.at("kid").at("mean").get<double>()));

  // The samples' statistics and IS against the same network run here on the grey images
  // replicated to RGB by hand (one batch of 3 instead of the tool's batches of 2).
  std::vector<float> g = grey.to_vector<float>(), rgb;
  for (int64_t i = 0; i < 3; ++i)
    for (int c = 0; c < 3; ++c) rgb.insert(rgb.end(), g.begin() + i * 64, g.begin() + (i + 1) * 64);
  const atebm::at_ebm::InceptionOutputs o = net->features(atebm::from_vector<float>(rgb, {3, 3, 8, 8}));
  const atebm::at_ebm::FeatureStats direct = atebm::at_ebm::feature_stats(o.pool);
  const atebm::at_ebm::FeatureStats saved = atebm::at_ebm::load_stats(path("stats.npz"));
  ASSERT_EQ(saved.dim, 2048);
  double scale = 0.0, err = 0.0;
  for (size_t k = 0; k < saved.mu.size(); ++k) {
    scale = std::max(scale, std::abs(direct.mu[k]));
    err = std::max(err, std::abs(saved.mu[k] - direct.mu[k]));
  }
  EXPECT_GT(scale, 0.1);
  EXPECT_LE(err, 1e-4 * scale);
  for (size_t k = 0; k < saved.sigma.size(); k += 2049) {
    EXPECT_NEAR(saved.sigma[k], direct.sigma[k], 1e-4 * scale * scale + 1e-3 * std::abs(direct.sigma[k]));
  }
  const atebm::at_ebm::MeanStd is = atebm::at_ebm::inception_score(o.logits, 1);
  EXPECT_GT(is.mean, 1.0 + 1e-6);  // the three images are told apart
  EXPECT_NEAR(j.at("is").at("mean").get<double>(), is.mean, 1e-4 * is.mean);
}
