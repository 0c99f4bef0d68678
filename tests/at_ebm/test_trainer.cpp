// The trainer: level switching on scripted AUC sequences, config validation, exact resume
// in-process, and the divergence stop that leaves the last checkpoint untouched.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "at_ebm/train/level_schedule.h"
#include "at_ebm/train/presets.h"
#include "at_ebm/train/train_config.h"
#include "at_ebm/train/train_state.h"
#include "at_ebm/train/trainer.h"
#include "common/expect.h"
#include "engine/error.h"
#include "nn/io/safetensors.h"
#include "ops/math_mode.h"

using namespace atebm;
using namespace atebm::at_ebm;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A model and data small enough for a few iterations per second.
json tiny_config() {
  return {{"model",
           {{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}}, {"widths", {4, 4, 8, 8}},
            {"in_channels", 1}, {"num_classes", 1}, {"pool", 1}, {"mean", {0.5}}, {"std", {0.5}}}},
          {"data", {{"train", "smooth:48:seed=7"}, {"p0", "uniform:40:seed=9"}, {"shape", {1, 8, 8}}, {"batch_size", 8},
                    {"workers", 1}}},
          {"attack", {{"step_size", 0.3}, {"start_step", 1}, {"max_steps", 3}, {"auc_window", 2}}},
          {"loss", {{"r1_weight", 0.1}}},
          {"train", {{"max_iters", 9}, {"checkpoint_every", 3}, {"threads", 1}, {"sample_at_end", false}}}};
}

std::string temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("atebm_test_trainer_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d.string();
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TrainResult train(const json& cfg, const std::string& dir, bool resume) {
  Trainer t(train_config_from_json(cfg), dir, resume, {.progress = false});
  return t.run();
}

}  // namespace

TEST(LevelSchedule, MovesUpWhenTheWindowMeanExceedsTheThreshold) {
  LevelSchedule s({.start_step = 2, .max_steps = 4, .max_level_iters = 1000, .threshold = 0.8, .window = 3});
  EXPECT_EQ(s.k(), 2);
  EXPECT_FALSE(s.record(0.99));  // window not full yet: no decision
  EXPECT_FALSE(s.record(0.99));
  EXPECT_TRUE(s.record(0.90));   // mean 0.96 > 0.8
  EXPECT_EQ(s.k(), 3);
  EXPECT_TRUE(std::isnan(s.window_mean()));  // the window restarts at each level
  EXPECT_FALSE(s.record(0.9));
  EXPECT_FALSE(s.record(0.9));
  EXPECT_FALSE(s.record(0.6));  // mean 0.8 is not above 0.8
  EXPECT_FALSE(s.record(0.5));  // (0.9 + 0.6 + 0.5) / 3
  EXPECT_TRUE(s.record(1.0) || s.record(1.0));  // (0.6+0.5+1)/3 = 0.7, then (0.5+1+1)/3 = 0.83
  EXPECT_EQ(s.k(), 4);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(s.record(1.0));  // the last level never ends
  EXPECT_EQ(s.k(), 4);
}

TEST(LevelSchedule, MovesUpAfterTheIterationBudgetOfALevel) {
  LevelSchedule s({.start_step = 0, .max_steps = 2, .max_level_iters = 4, .threshold = 0.8, .window = 100});
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(s.record(0.5));
  EXPECT_TRUE(s.record(0.5));
  EXPECT_EQ(s.k(), 1);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(s.record(0.5));
  EXPECT_TRUE(s.record(0.5));
  EXPECT_EQ(s.k(), 2);
}

TEST(LevelSchedule, StateRoundTripGivesTheSameDecisions) {
  LevelOptions o{.start_step = 0, .max_steps = 5, .max_level_iters = 50, .threshold = 0.7, .window = 4};
  LevelSchedule a(o), b(o);
  const double seq[] = {0.2, 0.9, 0.8, 0.6, 0.75, 0.9, 0.95, 0.1, 0.99, 0.99, 0.99, 0.99, 0.3};
  for (int i = 0; i < 6; ++i) a.record(seq[i]);
  b.load_state(a.state());
  for (int i = 6; i < 13; ++i) {
    EXPECT_EQ(a.record(seq[i]), b.record(seq[i])) << i;
    EXPECT_EQ(a.k(), b.k());
  }
  EXPECT_THROW(b.load_state({9, 0, 0}), Error);  // K beyond max_steps
  EXPECT_THROW(b.load_state({1}), Error);
}

TEST(TrainConfig, RejectsUnknownAndInvalidFieldsByName) {
  json c = tiny_config();
  c["attack"]["stepsize"] = 1;
  try {
    train_config_from_json(c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("attack.stepsize"), std::string::npos) << e.what();
  }
  c = tiny_config();
  c["optim"] = {{"lr", -1}};
  EXPECT_THROW(train_config_from_json(c), Error);
  c = tiny_config();
  c["attack"]["max_steps"] = 0;  // below start_step 1
  EXPECT_THROW(train_config_from_json(c), Error);
  c = tiny_config();
  c["bogus"] = 1;
  EXPECT_THROW(train_config_from_json(c), Error);
  c = tiny_config();
  c["attack"]["eps"] = "inf";
  EXPECT_TRUE(std::isinf(train_config_from_json(c).attack.eps));
  c["attack"]["eps"] = "big";
  EXPECT_THROW(train_config_from_json(c), Error);
}

TEST(TrainConfig, CudaMathSwitchesAreCheckedByName) {
  json c = tiny_config();
  const TrainConfig defaults = train_config_from_json(c);
  EXPECT_TRUE(defaults.train.tf32);
  EXPECT_EQ(defaults.train.conv_algo, "cudnn");
  EXPECT_EQ(defaults.train.cudnn_algo_search, "heuristic");
  apply_override(c, "train.tf32=false");
  apply_override(c, "train.conv_algo=implicit_gemm_pipelined");
  apply_override(c, "train.cudnn_algo_search=measured");
  const TrainConfig t = train_config_from_json(c);
  EXPECT_FALSE(t.train.tf32);
  EXPECT_EQ(t.train.conv_algo, "implicit_gemm_pipelined");
  EXPECT_EQ(t.train.cudnn_algo_search, "measured");
  c["train"]["cudnn_algo_search"] = "fastest";
  atebm::test::expect_error([&] { train_config_from_json(c); },
                            {"train.cudnn_algo_search", "\"measured\"", "fastest"});
  c["train"]["cudnn_algo_search"] = "heuristic";
  c["train"]["conv_algo"] = "winograd";
  atebm::test::expect_error([&] { train_config_from_json(c); },
                            {"train.conv_algo", "implicit_gemm_pipelined", "winograd"});
  c["train"]["conv_algo"] = "cudnn";
  c["train"]["tf32"] = "yes";
  EXPECT_THROW(train_config_from_json(c), Error);
}

// The switches are process-wide: a trainer sets them for its lifetime and restores them after.
TEST(Trainer, SetsTheCudaMathSwitchesWhileItLives) {
  ASSERT_TRUE(allow_tf32());
  ASSERT_EQ(conv_algo(), ConvAlgo::Cudnn);
  ASSERT_EQ(cudnn_algo_search(), CudnnAlgoSearch::Heuristic);
  json c = tiny_config();
  c["train"]["tf32"] = false;
  c["train"]["conv_algo"] = "implicit_gemm";
  c["train"]["cudnn_algo_search"] = "measured";
  const std::string dir = temp_dir("math_mode");
  {
    Trainer t(train_config_from_json(c), dir, false, {.progress = false});
    EXPECT_FALSE(allow_tf32());
    EXPECT_EQ(conv_algo(), ConvAlgo::ImplicitGemm);
    EXPECT_EQ(cudnn_algo_search(), CudnnAlgoSearch::Measured);
  }
  EXPECT_TRUE(allow_tf32());
  EXPECT_EQ(conv_algo(), ConvAlgo::Cudnn);
  EXPECT_EQ(cudnn_algo_search(), CudnnAlgoSearch::Heuristic);
  fs::remove_all(dir);
}

TEST(TrainConfig, OverridesReachNestedFieldsAndRoundTrip) {
  json c = tiny_config();
  apply_override(c, "attack.step_size=0.5");
  apply_override(c, "data.p0=[\"uniform:10\",\"smooth:10\"]");
  apply_override(c, "data.augment=crop=4,flip");
  const TrainConfig t = train_config_from_json(c);
  EXPECT_EQ(t.attack.step_size, 0.5);
  EXPECT_EQ(t.data.p0.size(), 2u);
  EXPECT_EQ(t.data.augment, "crop=4,flip");
  EXPECT_EQ(train_config_to_json(train_config_from_json(train_config_to_json(t))), train_config_to_json(t));
  EXPECT_THROW(apply_override(c, "novalue"), Error);
  EXPECT_THROW(apply_override(c, "=3"), Error);
}

TEST(TrainConfig, EveryPresetIsValid) {
  for (const Preset& p : presets()) {
    if (p.name == "toy2d") continue;
    json c = p.config;
    for (const auto& [field, example] : p.required) apply_override(c, field + "=" + example);
    EXPECT_NO_THROW(train_config_from_json(c)) << p.name;
  }
  EXPECT_THROW(find_preset("nope"), Error);
}

TEST(Trainer, WritesCheckpointsMetricsAndRaisesK) {
  const std::string dir = temp_dir("basic");
  const TrainResult r = train(tiny_config(), dir, false);
  EXPECT_EQ(r.iterations, 9);
  EXPECT_EQ(r.stop_reason, "max_iters");
  for (const char* f : {"model.safetensors", "state.safetensors", "config.json", "metrics.jsonl"})
    EXPECT_TRUE(fs::exists(fs::path(dir) / f)) << f;
  std::ifstream in(fs::path(dir) / "metrics.jsonl");
  std::string line;
  int64_t n = 0, max_k = 0;
  while (std::getline(in, line)) {
    const json m = json::parse(line);
    ++n;
    EXPECT_EQ(m["iter"].get<int64_t>(), n);
    for (const char* key : {"K", "loss", "bce", "r1", "adv_auc", "clean_auc", "l2_dist", "lambda_k", "rt", "rt0", "lr", "seconds"})
      EXPECT_TRUE(m.contains(key)) << key;
    max_k = std::max(max_k, m["K"].get<int64_t>());
    if (m["K"].get<int64_t>() > 0) {
      EXPECT_GT(m["l2_dist"].get<double>(), 0.0);
    }
    EXPECT_LE(m["l2_dist"].get<double>(), m["lambda_k"].get<double>() + 1e-6);  // each step moves at most λ
  }
  EXPECT_EQ(n, 9);
  // 48 images / batch 8 = 6 iterations per level at most, so K must have moved up at least once.
  EXPECT_GE(max_k, 2);
  fs::remove_all(dir);
}

TEST(Trainer, ResumeContinuesBitForBit) {
  const std::string whole = temp_dir("whole"), part = temp_dir("part");
  train(tiny_config(), whole, false);
  json first = tiny_config();
  first["train"]["max_iters"] = 4;  // stops between checkpoints 3 and 6: a checkpoint at 4 is written at the end
  train(first, part, false);
  EXPECT_THROW(train(first, part, false), Error);  // a fresh run refuses a folder with a state
  train(tiny_config(), part, true);
  EXPECT_EQ(read_bytes(whole + "/model.safetensors"), read_bytes(part + "/model.safetensors"));
  const nn::SafetensorsFile a = nn::load_safetensors(whole + "/state.safetensors");
  const nn::SafetensorsFile b = nn::load_safetensors(part + "/state.safetensors");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    if (a.tensors[i].first == "trainer.seconds") continue;  // wall time
    EXPECT_EQ(a.tensors[i].first, b.tensors[i].first);
    const Tensor& x = a.tensors[i].second;
    const Tensor& y = b.tensors[i].second;
    ASSERT_EQ(x.numel() * x.itemsize(), y.numel() * y.itemsize()) << a.tensors[i].first;
    EXPECT_EQ(0, std::memcmp(x.raw_data(), y.raw_data(), x.numel() * x.itemsize())) << a.tensors[i].first;
  }
  // One metrics line per iteration, none repeated.
  std::ifstream in(part + "/metrics.jsonl");
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) EXPECT_EQ(json::parse(line)["iter"].get<int64_t>(), ++n);
  EXPECT_EQ(n, 9);
  fs::remove_all(whole);
  fs::remove_all(part);
}

TEST(Trainer, DivergenceStopsNamingTheIterationAndKeepsTheCheckpoint) {
  const std::string dir = temp_dir("nan");
  json c = tiny_config();
  c["train"]["max_iters"] = 3;
  train(c, dir, false);
  const std::string model_before = read_bytes(dir + "/model.safetensors");
  const std::string state_before = read_bytes(dir + "/state.safetensors");
  c["train"]["max_iters"] = 9;
  c["optim"]["lr"] = 1e300;  // becomes inf in float32: the first update makes the weights inf
  try {
    train(c, dir, true);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diverged at iteration 4"), std::string::npos) << e.what();
  }
  EXPECT_EQ(model_before, read_bytes(dir + "/model.safetensors"));
  EXPECT_EQ(state_before, read_bytes(dir + "/state.safetensors"));
  fs::remove_all(dir);
}

TEST(Trainer, DivergenceBeforeTheFirstCheckpointSaysSoAndWritesNoState) {
  const std::string dir = temp_dir("nan_first");
  json c = tiny_config();
  c["optim"]["lr"] = 1e300;
  try {
    train(c, dir, false);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("diverged at iteration 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("before the first checkpoint"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(fs::path(dir) / "state.safetensors"));
  EXPECT_FALSE(fs::exists(fs::path(dir) / "model.safetensors"));
  fs::remove_all(dir);
}
