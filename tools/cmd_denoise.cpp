// `atebm denoise`: clean images (--input) get Gaussian noise of standard deviation --sigma
// (clamped to [0, 1]); PGD ascent on the model's logit then moves them back toward the data.
// Writes a grid with rows clean / noisy / restored and optionally the restored images.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include "at_ebm/data/concat.h"
#include "at_ebm/data/npy.h"
#include "at_ebm/io/image_grid.h"
#include "at_ebm/method/applications.h"
#include "engine/parallel.h"
#include "nn/models/model_config.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

struct DenoiseArgs {
  std::string run, model, input, grid, npy, device = "cpu";
  int64_t n = 0, steps = 0, batch_size = 0, nrow = 8;
  double step_size = 0.0, sigma = 0.1;
  uint64_t seed = 0;
  int threads = 0;
  CLI::Option *n_opt = nullptr, *steps_opt = nullptr, *step_size_opt = nullptr, *batch_opt = nullptr,
              *seed_opt = nullptr;
};

int usage_error(const std::string& message) {
  fmt::print(stderr, "atebm: usage error: {} (see atebm denoise --help)\n", message);
  return 2;
}

// A spec string, or a JSON list of them when it starts with '['.
nlohmann::json spec_json(const std::string& text, const std::string& what) {
  if (!text.empty() && text.front() == '[') return nn::parse_json(text, what);
  return text;
}

int run_denoise(const DenoiseArgs& args) {
  if (args.model.empty() == args.run.empty()) return usage_error("give exactly one of --run DIR and --model FILE");
  std::string grid = args.grid;
  if (grid.empty() && args.npy.empty()) {
    if (args.run.empty()) return usage_error("nothing to write: give --grid and/or --npy");
    grid = (std::filesystem::path(args.run) / "denoise.png").string();
  }
  if (args.threads > 0) set_num_threads(args.threads);

  const Device device = Device::parse(args.device);
  at_ebm::SamplingSetup setup = args.run.empty() ? at_ebm::open_model_file(args.model, device)
                                                 : at_ebm::open_run(args.run, device);
  const nlohmann::json input_specs = spec_json(args.input, "--input");
  at_ebm::resolve_shape(setup, input_specs);
  const data::DatasetPtr input = data::open_datasets(input_specs, setup.shape, "--input");

  at_ebm::SampleOptions opt = setup.sample;
  if (args.n_opt->count()) opt.n = args.n;
  if (args.steps_opt->count()) opt.steps = args.steps;
  if (args.step_size_opt->count()) opt.step_size = args.step_size;
  if (args.batch_opt->count()) opt.batch_size = args.batch_size;
  if (args.seed_opt->count()) opt.seed = args.seed;
  at_ebm::check_sample_options(opt);

  const at_ebm::Denoising r =
      at_ebm::denoise(at_ebm::model_score(*setup.model), setup.model->named_parameters(),
                      at_ebm::draw_images(*input, opt.n, opt.seed), args.sigma, opt);
  fmt::print("denoised {} images of {} ({}) with noise sigma {} by {} steps of {}\n", opt.n, input->name(),
             data::shape_str(setup.shape), args.sigma, opt.steps, opt.step_size);
  if (!grid.empty()) {
    at_ebm::save_comparison_grid(grid, {r.clean, r.noisy, r.restored}, args.nrow);
    fmt::print("wrote the grid (rows: clean, noisy, restored) to {}\n", grid);
  }
  if (!args.npy.empty()) {
    data::save_npy(args.npy, r.restored);
    fmt::print("wrote the restored images (float32 [{}, {}, {}, {}] in [0, 1]) to {}\n", opt.n, setup.shape.c,
               setup.shape.h, setup.shape.w, args.npy);
  }
  return 0;
}

}  // namespace

Command add_denoise_command(CLI::App& parent) {
  auto a = std::make_shared<DenoiseArgs>();
  CLI::App* sub = parent.add_subcommand(
      "denoise", "Denoising: Gaussian noise on clean images, then PGD ascent on the model's logit");
  sub->add_option("--run", a->run, "Training run folder (model.safetensors + config.json)");
  sub->add_option("--model", a->model, "Model file (nn::save_model) instead of a run");
  sub->add_option("--input", a->input,
                  "Dataset spec (or JSON list of specs) of the clean images, converted to the model's image shape")
      ->required();
  sub->add_option("--sigma", a->sigma, "Standard deviation of the added Gaussian noise (images in [0, 1])")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  a->n_opt = sub->add_option("--n", a->n, "Number of images (default: the run's sample.n, else 64)")
                 ->check(CLI::PositiveNumber);
  a->steps_opt = sub->add_option("--steps", a->steps, "PGD steps K (default: the run's, else 32)")
                     ->check(CLI::NonNegativeNumber);
  a->step_size_opt = sub->add_option("--step-size", a->step_size, "PGD step size λ (default: the run's, else 0.2)")
                         ->check(CLI::NonNegativeNumber);
  a->batch_opt = sub->add_option("--batch-size", a->batch_size, "Images per PGD batch (default: the run's, else 64)")
                     ->check(CLI::PositiveNumber);
  a->seed_opt =
      sub->add_option("--seed", a->seed, "Which images are drawn, and the noise (default: the run's, else 0)");
  sub->add_option("--grid", a->grid, "Write the clean/noisy/restored PNG grid (default with --run: DIR/denoise.png)");
  sub->add_option("--npy", a->npy, "Write the restored images as .npy, float32 [n, C, H, W] in [0, 1]");
  sub->add_option("--nrow", a->nrow, "Images per grid row")->check(CLI::PositiveNumber);
  sub->add_option("--threads", a->threads, "CPU threads (default: OMP_NUM_THREADS or all cores)");
  sub->add_option("--device", a->device, "cpu or cuda[:I]");
  return {sub, [a] { return run_denoise(*a); }};
}

}  // namespace atebm::cli
