// `atebm denoise`: clean images (--input) get Gaussian noise of standard deviation --sigma
// (clamped to [0, 1]); PGD ascent on the model's logit then moves them back toward the data.
// Writes a grid with rows clean / noisy / restored and optionally the restored images.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "at_ebm/method/applications.h"
#include "tools/cmd_common.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

struct DenoiseArgs : ApplicationArgs {
  double sigma = 0.1;
};

int run_denoise(const DenoiseArgs& args) {
  check_model_choice(args.model);
  const std::string grid = grid_or_default(args.out, args.model, "denoise.png");

  const auto [setup, input, opt] = open_application(args);
  const at_ebm::Denoising r =
      at_ebm::denoise(at_ebm::model_score(*setup.model), setup.model->named_parameters(),
                      at_ebm::draw_images(*input, opt.n, opt.seed), args.sigma, opt);
  fmt::print("denoised {} images of {} ({}) with noise sigma {} by {} steps of {}\n", opt.n, input->name(),
             data::shape_str(setup.shape), args.sigma, opt.steps, opt.step_size);
  write_comparison_grid(grid, {r.clean, r.noisy, r.restored}, args.out.nrow, "grid (rows: clean, noisy, restored)");
  write_images_npy(args.out.npy, r.restored, "restored images");
  return 0;
}

}  // namespace

Command add_denoise_command(CLI::App& parent) {
  auto a = std::make_shared<DenoiseArgs>();
  CLI::App* sub = parent.add_subcommand(
      "denoise", "Denoising: Gaussian noise on clean images, then PGD ascent on the model's logit");
  add_application_input(
      *sub, *a, "Dataset spec (or JSON list of specs) of the clean images, converted to the model's image shape");
  sub->add_option("--sigma", a->sigma, "Standard deviation of the added Gaussian noise (images in [0, 1])")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_application_settings(*sub, *a, "Which images are drawn, and the noise (default: the run's, else 0)",
                           "Write the clean/noisy/restored PNG grid (default with --run: DIR/denoise.png)",
                           "restored images");
  return {sub, [a] { return run_denoise(*a); }};
}

}  // namespace atebm::cli
