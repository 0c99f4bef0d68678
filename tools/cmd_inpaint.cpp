// `atebm inpaint`: the masked pixels of images (--input) are replaced by uniform noise (or a
// constant) and PGD ascent on the model's logit runs on those pixels only; every other pixel is
// kept exactly. Masks: a centred box, a random box per image, or a PNG (io/mask.h).
// Writes a grid with rows original / masked / filled and optionally the filled images.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "at_ebm/data/parse_util.h"
#include "at_ebm/io/mask.h"
#include "at_ebm/method/applications.h"
#include "engine/error.h"
#include "tools/cmd_common.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

struct InpaintArgs : ApplicationArgs {
  std::string mask = "centre", fill = "noise";
};

// "noise" or a constant value in [0, 1].
at_ebm::InpaintFill parse_fill(const std::string& text) {
  at_ebm::InpaintFill fill;
  if (text == "noise") return fill;
  fill.kind = at_ebm::InpaintFill::Kind::Constant;
  fill.value = data::parse_double(text, "--fill (expected noise or a value in [0, 1])");
  ATEBM_CHECK(fill.value >= 0.0 && fill.value <= 1.0, "--fill: expected noise or a value in [0, 1], got {}", text);
  return fill;
}

int run_inpaint(const InpaintArgs& args) {
  check_model_choice(args.model);
  const std::string grid = grid_or_default(args.out, args.model, "inpaint.png");
  at_ebm::MaskSpec mask_spec;
  at_ebm::InpaintFill fill;
  try {
    mask_spec = at_ebm::parse_mask_spec(args.mask);
    fill = parse_fill(args.fill);
  } catch (const Error& e) {
    throw CLI::ValidationError(e.what());
  }

  const auto [setup, input, opt] = open_application(args);

  Generator mask_gen = at_ebm::application_generator(opt.seed, 3);
  const Tensor mask = at_ebm::make_mask(mask_spec, opt.n, setup.shape.h, setup.shape.w, mask_gen);
  const at_ebm::Inpainting r =
      at_ebm::inpaint(at_ebm::model_score(*setup.model), setup.model->named_parameters(),
                      at_ebm::draw_images(*input, opt.n, opt.seed), mask, opt, fill);
  fmt::print("inpainted {} images of {} ({}) under mask {} by {} steps of {}\n", opt.n, input->name(),
             data::shape_str(setup.shape), args.mask, opt.steps, opt.step_size);
  write_comparison_grid(grid, {r.original, r.masked, r.filled}, args.out.nrow, "grid (rows: original, masked, filled)");
  write_images_npy(args.out.npy, r.filled, "filled images");
  return 0;
}

}  // namespace

Command add_inpaint_command(CLI::App& parent) {
  auto a = std::make_shared<InpaintArgs>();
  CLI::App* sub = parent.add_subcommand(
      "inpaint", "Inpainting: PGD ascent on the model's logit over the masked pixels only");
  add_application_input(
      *sub, *a, "Dataset spec (or JSON list of specs) of the images, converted to the model's image shape");
  sub->add_option("--mask", a->mask,
                  "Pixels to fill: centre[:FRACTION], random[:FRACTION] (a box per image) or a PNG (non-zero = fill)")
      ->capture_default_str();
  sub->add_option("--fill", a->fill, "Start of the masked pixels: noise (uniform) or a value in [0, 1]")
      ->capture_default_str();
  add_application_settings(*sub, *a, "Which images are drawn, the noise and random boxes (default: the run's, else 0)",
                           "Write the original/masked/filled PNG grid (default with --run: DIR/inpaint.png)",
                           "filled images");
  return {sub, [a] { return run_inpaint(*a); }};
}

}  // namespace atebm::cli
