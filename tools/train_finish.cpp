#include "tools/train_finish.h"

#include <fmt/format.h>

#include <filesystem>

#include "at_ebm/data/concat.h"
#include "at_ebm/io/image_grid.h"
#include "at_ebm/method/sampler.h"
#include "at_ebm/toy2d/toy2d.h"
#include "engine/error.h"
#include "nn/io/model_file.h"

namespace atebm::cli {

void write_end_of_run_samples(const at_ebm::TrainConfig& cfg, const std::string& run_dir) {
  namespace fs = std::filesystem;
  const nn::LoadedModel m = nn::load_model((fs::path(run_dir) / "model.safetensors").string());
  m.model->eval();
  const data::ImageShape shape{cfg.data.shape[0], cfg.data.shape[1], cfg.data.shape[2]};
  const data::DatasetPtr p0 =
      data::open_datasets(cfg.sample.p0.is_null() ? cfg.data.p0 : cfg.sample.p0, shape, "sample.p0");
  const at_ebm::SampleOptions opt{.n = cfg.sample.n, .batch_size = cfg.sample.batch_size, .steps = cfg.sample.steps,
                                  .step_size = cfg.sample.step_size, .seed = cfg.sample.seed};
  const Tensor samples = at_ebm::generate(*m.model, *p0, opt);
  const std::string path = (fs::path(run_dir) / "samples.png").string();
  at_ebm::save_grid(path, samples, 8);
  fmt::print("samples: {} ({} images, {} PGD steps of {} from p0)\n", path, cfg.sample.n, cfg.sample.steps,
             cfg.sample.step_size);
}

int run_toy2d_preset(const std::string& out_dir, const std::vector<std::string>& overrides) {
  nlohmann::json config = at_ebm::toy2d_default_config();
  for (const std::string& o : overrides) at_ebm::apply_toy2d_override(config, o);
  const at_ebm::Toy2dResult r = at_ebm::run_toy2d(config, out_dir);
  fmt::print("{}\nplot: {}\n", r.to_json().dump(), r.png_path);
  return 0;
}

}  // namespace atebm::cli
