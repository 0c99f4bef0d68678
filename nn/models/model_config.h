#pragma once
// Models are described by a JSON config that is stored in every checkpoint, e.g.
//   {"arch": "resnet", "block": "basic", "layers": [2, 2, 2, 2], "widths": [64, 128, 256, 512],
//    "in_channels": 3, "num_classes": 10, "pool": 4, "mean": [...], "std": [...]}
//   {"arch": "stargan_discriminator", "img_size": 256, "max_conv_dim": 512, "num_outputs": 1}
//   {"arch": "mlp", "dims": [2, 128, 128, 1], "activation": "leaky_relu", "slope": 0.2}
// Missing fields take the defaults of the structs in resnet.h / discriminator.h / mlp.h;
// unknown fields, wrong types and inconsistent values are errors naming the field.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/module.h"

namespace atebm::nn {

/// Builds the model a config describes, with PyTorch's default initialisation from `gen`.
std::shared_ptr<Module> build_model(const nlohmann::json& config, Generator& gen, DType dtype = DType::Float32);
/// The config completed with every default (what a checkpoint stores).
nlohmann::json complete_config(const nlohmann::json& config);
/// Parses JSON text, with the error naming `what` (a file name, "--model-config", ...).
nlohmann::json parse_json(const std::string& text, const std::string& what);

/// The energy-model score f(x) = logit 0 of the model's output: [N, ...] → [N].
Tensor energy_logit(Module& model, const Tensor& x);

}  // namespace atebm::nn
