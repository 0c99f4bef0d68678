// `atebm translate`: image translation. Images of another domain (--input, converted to the
// model's image shape) are moved by PGD ascent on the target model's logit; how far they go is
// chosen with --steps and --step-size. Writes a before/after grid and optionally the results.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "at_ebm/method/applications.h"
#include "tools/cmd_common.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

int run_translate(const ApplicationArgs& args) {
  check_model_choice(args.model);
  const std::string grid = grid_or_default(args.out, args.model, "translate.png");

  const auto [setup, input, opt] = open_application(args);
  const at_ebm::Translation t =
      at_ebm::translate(at_ebm::model_score(*setup.model), setup.model->named_parameters(),
                        at_ebm::draw_images(*input, opt.n, opt.seed), opt);
  fmt::print("translated {} images of {} ({}) by {} steps of {}\n", opt.n, input->name(), data::shape_str(setup.shape),
             opt.steps, opt.step_size);
  write_comparison_grid(grid, {t.before, t.after}, args.out.nrow, "before/after grid (rows: input, translated)");
  write_images_npy(args.out.npy, t.after, "translated images");
  return 0;
}

}  // namespace

Command add_translate_command(CLI::App& parent) {
  auto a = std::make_shared<ApplicationArgs>();
  CLI::App* sub = parent.add_subcommand(
      "translate", "Image translation: PGD ascent on the target model from images of another domain");
  add_application_input(
      *sub, *a, "Dataset spec (or JSON list of specs) of the other domain, converted to the model's image shape",
      "Training run folder of the target model (model.safetensors + config.json)",
      "Target model file (nn::save_model) instead of a run");
  add_application_settings(*sub, *a, "Which input images are drawn (default: the run's, else 0)",
                           "Write the before/after PNG grid (default with --run: DIR/translate.png)",
                           "translated images");
  return {sub, [a] { return run_translate(*a); }};
}

}  // namespace atebm::cli
