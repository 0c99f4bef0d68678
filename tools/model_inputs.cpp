#include "tools/model_inputs.h"

#include <fmt/format.h>

#include <vector>

#include "at_ebm/data/file_bytes.h"
#include "at_ebm/data/npy.h"
#include "at_ebm/method/sampler.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "nn/models/model_config.h"

namespace atebm::cli {
Tensor read_model_inputs(const std::string& path, const nlohmann::json& config) {
  if (config.at("arch") != "mlp") {
    const data::DatasetPtr ds = data::open_npy(path);
    const data::ImageShape got = ds->shape();
    const data::ImageShape want = at_ebm::model_input_shape(config, got);
    ATEBM_CHECK(got == want, "{}: the images are {} (C x H x W) but the model ({}) takes {}", path,
                data::shape_str(got), config.at("arch").get<std::string>(), data::shape_str(want));
    if (config.at("arch") == "resnet") {
      // Three stride-2 stages, then pooling by `pool`: the head needs a 1×1 map, so S/8 (rounded
      // up) must lie in [pool, 2·pool) for both sides, e.g. 32 for the CIFAR models (pool 4).
      const int64_t pool = nn::complete_config(config).at("pool").get<int64_t>();
      const auto fits = [pool](int64_t s) { return ((s + 7) / 8) / pool == 1; };
      ATEBM_CHECK(fits(got.h) && fits(got.w), "{}: the images are {} but the model (resnet, pool {}) takes H and W "
                  "with ceil(S / 8) in [{}, {}], e.g. {}x{}", path, data::shape_str(got), pool, pool, 2 * pool - 1,
                  8 * pool, 8 * pool);
    }
    std::vector<int64_t> all(static_cast<size_t>(ds->size()));
    for (size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int64_t>(k);
    return at_ebm::load_images(*ds, all);
  }
  const std::vector<uint8_t> bytes = data::read_file_bytes(path);
  const data::NpyArray a = data::parse_npy(bytes.data(), bytes.size(), path);
  const int64_t d = config.at("dims").at(0).get<int64_t>();
  ATEBM_CHECK(a.type == data::NpyType::F32 || a.type == data::NpyType::F64,
              "{}: the mlp takes a float32 or float64 array, this one holds integers", path);
  ATEBM_CHECK(a.shape.size() == 2 && a.shape[0] >= 1 && a.shape[1] == d,
              "{}: shape ({}) does not fit the model: the mlp takes (N, {}) with N >= 1", path,
              fmt::join(a.shape, ", "), d);
  const std::vector<double> values = data::npy_values_f64(a, bytes.data());
  return from_vector(std::vector<float>(values.begin(), values.end()), {a.shape[0], d});
}

}  // namespace atebm::cli
