// `atebm sample`: generation. Draws n images from p0 (seeded), moves them by PGD ascent on the
// model's logit (K steps of λ, in batches) and writes a PNG grid and/or a .npy / .npz of the
// samples (float32 NCHW in [0, 1], for FID and other evaluations); optionally one grid per step.
//
//   atebm sample --run DIR [--n N] [--steps K] [--step-size L] ...      settings from DIR/config.json
//   atebm sample --model FILE --p0 SPEC [...]                           CIFAR-like defaults (32 × 0.2)
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include "at_ebm/data/concat.h"
#include "at_ebm/data/npy.h"
#include "at_ebm/io/image_grid.h"
#include "at_ebm/method/sampler.h"
#include "engine/parallel.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

struct SampleArgs {
  std::string run, model, p0;
  int64_t n = 0, steps = 0, batch_size = 0, nrow = 8;
  double step_size = 0.0;
  uint64_t seed = 0;
  std::string grid, npy, npz, frames, device = "cpu";
  int threads = 0;
  // Set when given: only those replace the run's (or the default) sample settings.
  CLI::Option *n_opt = nullptr, *steps_opt = nullptr, *step_size_opt = nullptr, *batch_opt = nullptr,
              *seed_opt = nullptr;
};

int usage_error(const std::string& message) {
  fmt::print(stderr, "atebm: usage error: {} (see atebm sample --help)\n", message);
  return 2;
}

// A spec string, or a JSON list of them when it starts with '['.
nlohmann::json spec_json(const std::string& text, const std::string& what) {
  if (!text.empty() && text.front() == '[') return nn::parse_json(text, what);
  return text;
}

// Every step's images of all n samples: frames[k] is [n, C, H, W] (k = 0 is the p0 start).
class FrameCollector {
 public:
  FrameCollector(int64_t steps, const Shape& shape) {
    for (int64_t k = 0; k <= steps; ++k) frames_.push_back(empty(shape));
  }
  void operator()(int64_t step, int64_t first, const Tensor& x) {
    copy_into(narrow(frames_[static_cast<size_t>(step)], 0, first, x.size(0)), x);
  }
  void write(const std::string& dir, int64_t nrow) const {
    std::filesystem::create_directories(dir);
    for (size_t k = 0; k < frames_.size(); ++k)
      at_ebm::save_grid((std::filesystem::path(dir) / fmt::format("frame_{:04d}.png", k)).string(), frames_[k], nrow);
  }

 private:
  std::vector<Tensor> frames_;
};

int run_sample(const SampleArgs& args) {
  if (args.model.empty() == args.run.empty()) return usage_error("give exactly one of --run DIR and --model FILE");
  if (!args.model.empty() && args.p0.empty()) return usage_error("--model needs --p0 SPEC (the images to start from)");
  if (!args.npy.empty() && !args.npz.empty()) return usage_error("give at most one of --npy and --npz");
  std::string grid = args.grid;
  if (grid.empty() && args.npy.empty() && args.npz.empty()) {
    if (args.run.empty()) return usage_error("nothing to write: give --grid, --npy or --npz");
    grid = (std::filesystem::path(args.run) / "samples.png").string();
  }
  if (args.threads > 0) set_num_threads(args.threads);

  const Device device = Device::parse(args.device);
  at_ebm::SamplingSetup setup = args.run.empty() ? at_ebm::open_model_file(args.model, device)
                                                 : at_ebm::open_run(args.run, device);
  const nlohmann::json p0_specs = args.p0.empty() ? setup.p0 : spec_json(args.p0, "--p0");
  at_ebm::resolve_shape(setup, p0_specs);
  const data::DatasetPtr p0 = data::open_datasets(p0_specs, setup.shape, "p0");

  at_ebm::SampleOptions opt = setup.sample;
  if (args.n_opt->count()) opt.n = args.n;
  if (args.steps_opt->count()) opt.steps = args.steps;
  if (args.step_size_opt->count()) opt.step_size = args.step_size;
  if (args.batch_opt->count()) opt.batch_size = args.batch_size;
  if (args.seed_opt->count()) opt.seed = args.seed;
  at_ebm::check_sample_options(opt);

  std::unique_ptr<FrameCollector> frames;
  at_ebm::FrameObserver observer;
  if (!args.frames.empty()) {
    frames = std::make_unique<FrameCollector>(opt.steps, Shape{opt.n, setup.shape.c, setup.shape.h, setup.shape.w});
    observer = [&](int64_t k, int64_t first, const Tensor& x) { (*frames)(k, first, x); };
  }
  // The p0 starts are kept only when the .npz asks for them (generate loads them batch by batch).
  const at_ebm::ScoreFn f = at_ebm::model_score(*setup.model);
  const Tensor start = args.npz.empty() ? Tensor() : at_ebm::draw_images(*p0, opt.n, opt.seed);
  const Tensor samples = start.defined()
                             ? at_ebm::pgd_batched(f, setup.model->named_parameters(), start, opt, Tensor(), observer)
                             : at_ebm::generate(f, setup.model->named_parameters(), *p0, opt, observer);

  fmt::print("generated {} samples of {} from {} ({} steps of {})\n", opt.n, data::shape_str(setup.shape), p0->name(),
             opt.steps, opt.step_size);
  if (!grid.empty()) {
    at_ebm::save_grid(grid, samples, args.nrow);
    fmt::print("wrote the sample grid to {}\n", grid);
  }
  if (!args.npy.empty()) {
    data::save_npy(args.npy, samples);
    fmt::print("wrote the samples (float32 [{}, {}, {}, {}] in [0, 1]) to {}\n", opt.n, setup.shape.c, setup.shape.h,
               setup.shape.w, args.npy);
  }
  if (!args.npz.empty()) {
    data::save_npz(args.npz, {{"samples", samples}, {"start", start}});
    fmt::print("wrote the samples and their p0 starts (keys samples, start) to {}\n", args.npz);
  }
  if (frames) {
    frames->write(args.frames, args.nrow);
    fmt::print("wrote {} trajectory frames (frame_0000.png = the p0 start) to {}\n", opt.steps + 1, args.frames);
  }
  return 0;
}

}  // namespace

Command add_sample_command(CLI::App& parent) {
  auto a = std::make_shared<SampleArgs>();
  CLI::App* sub = parent.add_subcommand(
      "sample", "Generate images: PGD ascent on the model's logit from p0 samples; writes a PNG grid and/or .npy/.npz");
  sub->add_option("--run", a->run, "Training run folder (model.safetensors + config.json: p0 and sample settings)");
  sub->add_option("--model", a->model, "Model file (nn::save_model) instead of a run; needs --p0");
  sub->add_option("--p0", a->p0, "p0 dataset spec, or a JSON list of specs (default with --run: the run's)");
  a->n_opt = sub->add_option("--n", a->n, "Number of samples (default: the run's sample.n, else 64)")
                 ->check(CLI::PositiveNumber);
  a->steps_opt = sub->add_option("--steps", a->steps, "PGD steps K (default: the run's, else 32)")
                     ->check(CLI::NonNegativeNumber);
  a->step_size_opt = sub->add_option("--step-size", a->step_size, "PGD step size λ (default: the run's, else 0.2)")
                         ->check(CLI::NonNegativeNumber);
  a->batch_opt = sub->add_option("--batch-size", a->batch_size, "Images per PGD batch (default: the run's, else 64)")
                     ->check(CLI::PositiveNumber);
  a->seed_opt = sub->add_option("--seed", a->seed, "Which p0 images are drawn (default: the run's, else 0)");
  sub->add_option("--grid", a->grid, "Write a PNG grid of the samples (default with --run: DIR/samples.png)");
  sub->add_option("--npy", a->npy, "Write the samples as .npy, float32 [n, C, H, W] in [0, 1]");
  sub->add_option("--npz", a->npz, "Write a .npz with arrays 'samples' and 'start' (the p0 images)");
  sub->add_option("--frames", a->frames, "Write one grid per step into this folder (frame_0000.png ...)");
  sub->add_option("--nrow", a->nrow, "Images per grid row")->check(CLI::PositiveNumber);
  sub->add_option("--threads", a->threads, "CPU threads (default: OMP_NUM_THREADS or all cores)");
  sub->add_option("--device", a->device, "cpu or cuda[:I]");
  return {sub, [a] { return run_sample(*a); }};
}

}  // namespace atebm::cli
