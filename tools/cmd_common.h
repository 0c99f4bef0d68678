#pragma once
// What the model commands share. sample, translate, denoise, inpaint and ood: choosing the model
// (--run DIR | --model FILE, --threads, --device), the PGD settings that default to a run's
// sample block (--n, --steps, --step-size, --batch-size, --seed), opening dataset specs at the
// model's image shape, and writing images (--grid, --npy). energy and grads: loading a model
// file in a compute dtype (--dtype).
//
// Usage problems found after parsing throw CLI::ValidationError(message); main() prints
// "atebm: usage error: MESSAGE (see atebm COMMAND --help)" and exits with 2.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "at_ebm/data/dataset.h"
#include "at_ebm/method/sampler.h"
#include "engine/tensor.h"
#include "nn/io/model_file.h"
#include "ops/math_mode.h"

namespace atebm::cli {

/// Throws CLI::ValidationError(message) (a usage error, exit code 2) unless `ok`.
void check_usage(bool ok, const std::string& message);

/// A dataset spec string as given, or a JSON list of them (one concatenated set) when the text
/// starts with '['. `what` names the option in JSON parse errors.
nlohmann::json spec_json(const std::string& text, const std::string& what);

// ---- which model, and where it runs --------------------------------------------------------

/// --run DIR | --model FILE (exactly one), --threads, --device, and how the model computes on
/// CUDA: --tf32/--no-tf32, --conv-algo, --cudnn-algo-search (ops/math_mode.h), each replacing
/// the run's train.* setting (or the default) only when given.
struct ModelChoice {
  std::string run, model, device = "cpu";
  int threads = 0;  // 0: OMP_NUM_THREADS or all cores
  bool tf32 = true;
  std::string conv_algo, cudnn_algo_search;
  CLI::Option *tf32_opt = nullptr, *conv_algo_opt = nullptr, *search_opt = nullptr;
};

inline constexpr const char* kRunHelp = "Training run folder (model.safetensors + config.json)";
inline constexpr const char* kModelHelp = "Model file (nn::save_model) instead of a run";

/// Adds --run and --model (the first options of every model command).
void add_model_options(CLI::App& sub, ModelChoice& m, const std::string& run_help = kRunHelp,
                       const std::string& model_help = kModelHelp);

/// Adds --threads, --device, --tf32/--no-tf32, --conv-algo and --cudnn-algo-search (the last
/// options of every model command).
void add_compute_options(CLI::App& sub, ModelChoice& m);

/// `base` with the math options that were given replaced; sets the process-wide switches to
/// the result and, when `device` is a GPU, prints them ("cuda:0: TF32 on, conv forward cudnn,
/// cuDNN algorithms heuristic") so that a log says how the numbers were computed.
void apply_math_options(const ModelChoice& m, MathMode base, const Device& device);

/// Usage error "give exactly one of --run DIR and --model FILE" unless exactly one was given.
void check_model_choice(const ModelChoice& m);

/// DIR/name for --run DIR.
std::string run_path(const ModelChoice& m, const std::string& name);

/// Sets the thread count when given, then opens the run folder or the model file on --device,
/// then applies the math options over setup.math (apply_math_options). For a model file
/// setup.shape stays unknown until the first open_at_model_shape().
at_ebm::SamplingSetup open_model(const ModelChoice& m);

/// The images of `specs` (a spec string or a JSON list of them) converted to the model's image
/// shape; when the model file left that shape open, the first spec fixes it. `what` names the
/// option (or field) in errors.
data::DatasetPtr open_at_model_shape(at_ebm::SamplingSetup& setup, const nlohmann::json& specs,
                                     const std::string& what);

// ---- PGD settings: the run's (or the defaults) unless given -------------------------------

/// --n, --steps, --step-size, --batch-size, --seed. Each replaces the run's sample setting (or
/// at_ebm::SampleOptions' default for a bare model file) only when it was given.
struct PgdOverrides {
  int64_t n = 0, steps = 0, batch_size = 0;
  double step_size = 0.0;
  uint64_t seed = 0;
  CLI::Option *n_opt = nullptr, *steps_opt = nullptr, *step_size_opt = nullptr, *batch_opt = nullptr,
              *seed_opt = nullptr;
};

/// Adds the five options; `items` is what --n counts ("samples", "images"), `seed_help` the help
/// of --seed (what the seed draws).
void add_pgd_options(CLI::App& sub, PgdOverrides& o, const std::string& items, const std::string& seed_help);

/// `base` (the setup's sample settings) with the given options replaced; throws atebm::Error
/// for an invalid result (at_ebm::check_sample_options).
at_ebm::SampleOptions sample_options(const PgdOverrides& o, at_ebm::SampleOptions base);

// ---- image outputs ---------------------------------------------------------------------------

/// --grid PNG, --npy FILE and --nrow N of the image commands.
struct ImageOutputs {
  std::string grid, npy;
  int64_t nrow = 8;
};

/// Adds --grid and --npy; `images` names what the .npy holds ("samples", "filled images").
void add_output_options(CLI::App& sub, ImageOutputs& out, const std::string& grid_help, const std::string& images);

/// Adds --nrow.
void add_nrow_option(CLI::App& sub, ImageOutputs& out);

/// The grid translate, denoise and inpaint write: --grid as given; with neither --grid nor --npy,
/// DIR/`name` for --run DIR and a usage error for --model.
std::string grid_or_default(const ImageOutputs& out, const ModelChoice& m, const std::string& name);

/// Writes `rows` (equal batches [n, C, H, W], one grid row block each) as a comparison grid of
/// `nrow` columns and prints "wrote the WHAT to PATH". Does nothing for an empty path.
void write_comparison_grid(const std::string& path, const std::vector<Tensor>& rows, int64_t nrow,
                           const std::string& what);

/// Writes `images` (float32 [n, C, H, W] in [0, 1]) as .npy and prints
/// "wrote the WHAT (float32 [n, C, H, W] in [0, 1]) to PATH". Does nothing for an empty path.
void write_images_npy(const std::string& path, const Tensor& images, const std::string& what);

// ---- translate, denoise, inpaint: PGD from --input images (at_ebm/method/applications.h) ----

/// The options the three applications share.
struct ApplicationArgs {
  ModelChoice model;
  std::string input;
  PgdOverrides pgd;
  ImageOutputs out;
};

/// Adds --run, --model and the required --input (an application's first options).
void add_application_input(CLI::App& sub, ApplicationArgs& a, const std::string& input_help,
                           const std::string& run_help = kRunHelp, const std::string& model_help = kModelHelp);

/// Adds the PGD options, --grid, --npy, --nrow, --threads and --device (an application's last
/// options); `images` names what the .npy holds, as in add_output_options.
void add_application_settings(CLI::App& sub, ApplicationArgs& a, const std::string& seed_help,
                              const std::string& grid_help, const std::string& images);

/// What an application starts from.
struct Application {
  at_ebm::SamplingSetup setup;
  data::DatasetPtr input;      // --input at the model's image shape
  at_ebm::SampleOptions opt;   // the setup's sample settings with the given options replaced
};

/// Opens the model (open_model), then --input at its image shape, then the PGD settings.
Application open_application(const ApplicationArgs& a);

// ---- energy and grads: a model file in a compute dtype --------------------------------------

/// Adds --dtype float32|float64.
void add_dtype_option(CLI::App& sub, std::string& dtype);

/// DType::Float64 for "float64", else DType::Float32 (--dtype admits only those two).
DType compute_dtype(const std::string& name);

/// The model file converted to `dtype`, in eval mode (BatchNorm uses its running statistics).
nn::LoadedModel load_eval_model(const std::string& path, DType dtype);

/// Writes a command's JSON report (2-space indent) atomically and says where; a failed write is
/// an atebm::Error naming the file, and never leaves half a file.
void write_json_report(const std::string& path, const nlohmann::json& j);

}  // namespace atebm::cli
