// Model files: state dict + config in the metadata; a round trip rebuilds an identical model.
#include <gtest/gtest.h>

#include <filesystem>

#include "nn/io/model_file.h"
#include "nn/io/safetensors.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::nn;

TEST(ModelFile, RoundTripIsBitExactAndKeepsTheConfig) {
  const auto dir = std::filesystem::temp_directory_path() / "atebm_model_file_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "model.safetensors").string();
  const nlohmann::json cfg = {{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}},
                              {"widths", {4, 8, 8, 16}}, {"in_channels", 1}, {"mean", {0.5}}, {"std", {0.5}}};
  Generator gen(11);
  auto model = build_model(cfg, gen);
  save_model(path, *model, cfg);
  const LoadedModel loaded = load_model(path);
  EXPECT_EQ(loaded.config, complete_config(cfg));
  const auto a = model->state_dict(), b = loaded.model->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.to_vector<double>(), b[i].second.to_vector<double>()) << a[i].first;
  }
  model->eval();
  loaded.model->eval();
  const Tensor x = rand({2, 1, 28, 28});
  EXPECT_EQ(model->forward(x).to_vector<float>(), loaded.model->forward(x).to_vector<float>());

  // A plain safetensors file without the config is refused with a clear message.
  save_safetensors(path, model->state_dict());
  try {
    (void)load_model(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("atebm.model"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}
