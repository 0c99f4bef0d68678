#pragma once
// RUN/state.safetensors: everything a resumed run needs besides config.json, in one file that is
// replaced atomically (so model weights, optimiser moments and data positions always belong to
// the same iteration; model.safetensors is a plain export of the same weights for users):
//   model.<name>             the model's state dict
//   <optimiser state>        "adam.exp_avg.<param>", "adam.step.<param>", ... (optimizer.h)
//   loader.data.*            p_data loader position (loader.h state_tensors)
//   loader.p0.*              p0 loader position
//   trainer.iteration        int64 [1]: iterations done
//   trainer.seconds          float64 [1]: training time so far
//   trainer.levels           float64 [n]: LevelSchedule::state() (K, iterations at this level,
//                            best window mean, the rolling adversarial-AUC window)
//   trainer.generator        int64 [2]: seed and offset of the trainer's random stream
// __metadata__: "atebm.train_state" = {"format": 1, "iteration": N, "k": K} and
//               "atebm.model" = the model config.
#include <nlohmann/json.hpp>

#include <string>

#include "nn/module.h"

namespace atebm::at_ebm {

inline constexpr const char* kTrainStateKey = "atebm.train_state";

struct TrainStateFile {
  nn::NamedTensors model;      // without the "model." prefix
  nn::NamedTensors optimizer;  // as Optimizer::state_tensors() names them
  nn::NamedTensors rest;       // loader.*, trainer.* (full names)
  nlohmann::json info;         // the atebm.train_state metadata
};

void save_train_state(const std::string& path, const TrainStateFile& s, const nlohmann::json& model_config);
/// Throws atebm::Error naming the file when it is missing, corrupt, or not a training state.
TrainStateFile load_train_state(const std::string& path);

/// Looks up `name` in `tensors`; throws naming the file and the missing entry.
const Tensor& find_tensor(const nn::NamedTensors& tensors, const std::string& name, const std::string& file);

}  // namespace atebm::at_ebm
