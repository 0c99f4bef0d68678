#pragma once
// Model inputs from .npy files, shared by `atebm energy` and `atebm grads`.
#include <nlohmann/json.hpp>

#include <string>

#include "engine/tensor.h"

namespace atebm::cli {

/// The model's inputs from a .npy as float32 [N, ...]: images of exactly the model's input shape
/// for a resnet or the discriminator (as at_ebm/data/npy.h reads them: NCHW, NHWC or grey NHW;
/// uint8 ÷ 255 or floats in [0, 1]); an array (N, D), D = dims[0], of any values for an mlp.
/// Throws atebm::Error naming the file and both shapes when they do not fit.
Tensor read_model_inputs(const std::string& path, const nlohmann::json& model_config);

}  // namespace atebm::cli
