#include "at_ebm/train/train_state.h"

#include <filesystem>

#include "engine/error.h"
#include "nn/io/model_file.h"
#include "nn/io/safetensors.h"

namespace atebm::at_ebm {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

}  // namespace

void save_train_state(const std::string& path, const TrainStateFile& s, const nlohmann::json& model_config) {
  nn::NamedTensors all;
  for (const auto& [name, t] : s.model) all.emplace_back("model." + name, t);
  for (const auto& nt : s.optimizer) all.push_back(nt);
  for (const auto& nt : s.rest) all.push_back(nt);
  nn::save_safetensors(path, all, {{kTrainStateKey, s.info.dump()}, {nn::kModelMetadataKey, model_config.dump()}});
}

TrainStateFile load_train_state(const std::string& path) {
  ATEBM_CHECK(std::filesystem::exists(path), "training state '{}' does not exist (was the run ever checkpointed?)",
              path);
  nn::SafetensorsFile f = nn::load_safetensors(path);
  const auto it = f.metadata.find(kTrainStateKey);
  ATEBM_CHECK(it != f.metadata.end(), "'{}' is not a training state: its metadata has no \"{}\" entry", path,
              kTrainStateKey);
  TrainStateFile s;
  s.info = nlohmann::json::parse(it->second, nullptr, false);
  ATEBM_CHECK(s.info.is_object() && s.info.value("format", 0) == 1,
              "'{}': unsupported training-state metadata {} (expected format 1)", path, it->second);
  for (auto& [name, t] : f.tensors) {
    if (starts_with(name, "model."))
      s.model.emplace_back(name.substr(6), t);
    else if (starts_with(name, "loader.") || starts_with(name, "trainer."))
      s.rest.emplace_back(name, t);
    else
      s.optimizer.emplace_back(name, t);
  }
  return s;
}

const Tensor& find_tensor(const nn::NamedTensors& tensors, const std::string& name, const std::string& file) {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  ATEBM_FAIL("'{}': entry \"{}\" is missing from the training state", file, name);
}

}  // namespace atebm::at_ebm
