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

#include "at_ebm/data/npy.h"
#include "at_ebm/io/image_grid.h"
#include "at_ebm/method/sampler.h"
#include "ops/ops.h"
#include "tools/cmd_common.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

struct SampleArgs {
  ModelChoice model;
  std::string p0;
  PgdOverrides pgd;
  ImageOutputs out;
  std::string npz, frames;
};

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
  check_model_choice(args.model);
  check_usage(args.model.model.empty() || !args.p0.empty(), "--model needs --p0 SPEC (the images to start from)");
  check_usage(args.out.npy.empty() || args.npz.empty(), "give at most one of --npy and --npz");
  std::string grid = args.out.grid;
  if (grid.empty() && args.out.npy.empty() && args.npz.empty()) {
    check_usage(!args.model.run.empty(), "nothing to write: give --grid, --npy or --npz");
    grid = run_path(args.model, "samples.png");
  }

  at_ebm::SamplingSetup setup = open_model(args.model);
  const nlohmann::json p0_specs = args.p0.empty() ? setup.p0 : spec_json(args.p0, "--p0");
  const data::DatasetPtr p0 = open_at_model_shape(setup, p0_specs, "p0");
  const at_ebm::SampleOptions opt = sample_options(args.pgd, setup.sample);

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
    at_ebm::save_grid(grid, samples, args.out.nrow);
    fmt::print("wrote the sample grid to {}\n", grid);
  }
  write_images_npy(args.out.npy, samples, "samples");
  if (!args.npz.empty()) {
    data::save_npz(args.npz, {{"samples", samples}, {"start", start}});
    fmt::print("wrote the samples and their p0 starts (keys samples, start) to {}\n", args.npz);
  }
  if (frames) {
    frames->write(args.frames, args.out.nrow);
    fmt::print("wrote {} trajectory frames (frame_0000.png = the p0 start) to {}\n", opt.steps + 1, args.frames);
  }
  return 0;
}

}  // namespace

Command add_sample_command(CLI::App& parent) {
  auto a = std::make_shared<SampleArgs>();
  CLI::App* sub = parent.add_subcommand(
      "sample", "Generate images: PGD ascent on the model's logit from p0 samples; writes a PNG grid and/or .npy/.npz");
  add_model_options(*sub, a->model, "Training run folder (model.safetensors + config.json: p0 and sample settings)",
                    "Model file (nn::save_model) instead of a run; needs --p0");
  sub->add_option("--p0", a->p0, "p0 dataset spec, or a JSON list of specs (default with --run: the run's)");
  add_pgd_options(*sub, a->pgd, "samples", "Which p0 images are drawn (default: the run's, else 0)");
  add_output_options(*sub, a->out, "Write a PNG grid of the samples (default with --run: DIR/samples.png)", "samples");
  sub->add_option("--npz", a->npz, "Write a .npz with arrays 'samples' and 'start' (the p0 images)");
  sub->add_option("--frames", a->frames, "Write one grid per step into this folder (frame_0000.png ...)");
  add_nrow_option(*sub, a->out);
  add_compute_options(*sub, a->model);
  return {sub, [a] { return run_sample(*a); }};
}

}  // namespace atebm::cli
