#include "nn/io/model_file.h"

#include "nn/io/safetensors.h"
#include "nn/models/model_config.h"

namespace atebm::nn {

void save_model(const std::string& path, const Module& model, const nlohmann::json& config) {
  save_safetensors(path, model.state_dict(), {{kModelMetadataKey, complete_config(config).dump()}});
}

LoadedModel load_model(const std::string& path, DType dtype) {
  SafetensorsFile file = load_safetensors(path);
  const auto it = file.metadata.find(kModelMetadataKey);
  ATEBM_CHECK(it != file.metadata.end(), "{}: no '{}' entry in the metadata; this is not an atebm model file", path,
              kModelMetadataKey);
  LoadedModel out;
  out.config = parse_json(it->second, path + " (metadata '" + kModelMetadataKey + "')");
  Generator gen(0);  // the weights are overwritten below; the seed does not matter
  out.model = build_model(out.config, gen, dtype);
  try {
    out.model->load_state_dict(file.tensors, /*strict=*/true);
  } catch (const Error& e) {
    ATEBM_FAIL("{}: {}", path, e.what());
  }
  return out;
}

}  // namespace atebm::nn
