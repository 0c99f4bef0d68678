#pragma once
// A model file: a plain safetensors file of the model's state dict (PyTorch names and layouts)
// whose __metadata__ holds the complete model config as JSON under "atebm.model", so the file
// alone rebuilds the model. safetensors.torch.load_file + load_state_dict(strict=True) on the
// equivalent PyTorch module reads the same file.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/module.h"

namespace atebm::nn {

inline constexpr const char* kModelMetadataKey = "atebm.model";

/// Writes model.state_dict() with the completed config (atomically, see save_safetensors).
void save_model(const std::string& path, const Module& model, const nlohmann::json& config);

struct LoadedModel {
  std::shared_ptr<Module> model;
  nlohmann::json config;
};

/// Rebuilds the model from the config in the file and loads its state strictly.
LoadedModel load_model(const std::string& path, DType dtype = DType::Float32);

}  // namespace atebm::nn
