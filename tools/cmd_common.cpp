#include "tools/cmd_common.h"

#include <fmt/format.h>

#include <filesystem>
#include <utility>

#include "at_ebm/data/concat.h"
#include "at_ebm/data/npy.h"
#include "at_ebm/io/image_grid.h"
#include "engine/atomic_file.h"
#include "engine/parallel.h"
#include "nn/models/model_config.h"

namespace atebm::cli {

void check_usage(bool ok, const std::string& message) {
  if (!ok) throw CLI::ValidationError(message);
}

nlohmann::json spec_json(const std::string& text, const std::string& what) {
  if (!text.empty() && text.front() == '[') return nn::parse_json(text, what);
  return text;
}

// ---- which model, and where it runs --------------------------------------------------------

void add_model_options(CLI::App& sub, ModelChoice& m, const std::string& run_help, const std::string& model_help) {
  sub.add_option("--run", m.run, run_help);
  sub.add_option("--model", m.model, model_help);
}

void add_compute_options(CLI::App& sub, ModelChoice& m) {
  sub.add_option("--threads", m.threads, "CPU threads (default: OMP_NUM_THREADS or all cores)");
  sub.add_option("--device", m.device, "cpu or cuda[:I]");
  m.tf32_opt = sub.add_flag("--tf32,!--no-tf32", m.tf32,
                            "On CUDA, let float32 matmuls and convs use TF32 tensor cores (default: the run's "
                            "train.tf32, else on)");
  m.conv_algo_opt = sub.add_option("--conv-algo", m.conv_algo,
                                   "conv2d forward on CUDA (default: the run's train.conv_algo, else cudnn)")
                        ->check(CLI::IsMember({"cudnn", "implicit_gemm", "implicit_gemm_pipelined"}));
  m.search_opt = sub.add_option("--cudnn-algo-search", m.cudnn_algo_search,
                                "How cuDNN's algorithms are chosen (default: the run's train.cudnn_algo_search, "
                                "else heuristic)")
                     ->check(CLI::IsMember({"heuristic", "measured"}));
}

void apply_math_options(const ModelChoice& m, MathMode base, const Device& device) {
  if (m.tf32_opt != nullptr && m.tf32_opt->count() > 0) base.tf32 = m.tf32;
  if (m.conv_algo_opt != nullptr && m.conv_algo_opt->count() > 0) base.conv_algo = conv_algo_from_name(m.conv_algo);
  if (m.search_opt != nullptr && m.search_opt->count() > 0)
    base.cudnn_algo_search = cudnn_algo_search_from_name(m.cudnn_algo_search);
  set_math_mode(base);
  if (device.is_cuda())
    fmt::print("{}: TF32 {}, conv forward {}, cuDNN algorithms {}\n", device.str(), base.tf32 ? "on" : "off",
               conv_algo_name(base.conv_algo), cudnn_algo_search_name(base.cudnn_algo_search));
}

void check_model_choice(const ModelChoice& m) {
  check_usage(m.model.empty() != m.run.empty(), "give exactly one of --run DIR and --model FILE");
}

std::string run_path(const ModelChoice& m, const std::string& name) {
  return (std::filesystem::path(m.run) / name).string();
}

at_ebm::SamplingSetup open_model(const ModelChoice& m) {
  if (m.threads > 0) set_num_threads(m.threads);
  const Device device = Device::parse(m.device);
  at_ebm::SamplingSetup setup = m.run.empty() ? at_ebm::open_model_file(m.model, device) : at_ebm::open_run(m.run, device);
  apply_math_options(m, setup.math, device);
  return setup;
}

data::DatasetPtr open_at_model_shape(at_ebm::SamplingSetup& setup, const nlohmann::json& specs,
                                     const std::string& what) {
  at_ebm::resolve_shape(setup, specs);
  return data::open_datasets(specs, setup.shape, what);
}

// ---- PGD settings: the run's (or the defaults) unless given -------------------------------

void add_pgd_options(CLI::App& sub, PgdOverrides& o, const std::string& items, const std::string& seed_help) {
  o.n_opt = sub.add_option("--n", o.n, fmt::format("Number of {} (default: the run's sample.n, else 64)", items))
                ->check(CLI::PositiveNumber);
  o.steps_opt = sub.add_option("--steps", o.steps, "PGD steps K (default: the run's, else 32)")
                    ->check(CLI::NonNegativeNumber);
  o.step_size_opt = sub.add_option("--step-size", o.step_size, "PGD step size λ (default: the run's, else 0.2)")
                        ->check(CLI::NonNegativeNumber);
  o.batch_opt = sub.add_option("--batch-size", o.batch_size, "Images per PGD batch (default: the run's, else 64)")
                    ->check(CLI::PositiveNumber);
  o.seed_opt = sub.add_option("--seed", o.seed, seed_help);
}

at_ebm::SampleOptions sample_options(const PgdOverrides& o, at_ebm::SampleOptions base) {
  if (o.n_opt->count()) base.n = o.n;
  if (o.steps_opt->count()) base.steps = o.steps;
  if (o.step_size_opt->count()) base.step_size = o.step_size;
  if (o.batch_opt->count()) base.batch_size = o.batch_size;
  if (o.seed_opt->count()) base.seed = o.seed;
  at_ebm::check_sample_options(base);
  return base;
}

// ---- image outputs ---------------------------------------------------------------------------

void add_output_options(CLI::App& sub, ImageOutputs& out, const std::string& grid_help, const std::string& images) {
  sub.add_option("--grid", out.grid, grid_help);
  sub.add_option("--npy", out.npy, fmt::format("Write the {} as .npy, float32 [n, C, H, W] in [0, 1]", images));
}

void add_nrow_option(CLI::App& sub, ImageOutputs& out) {
  sub.add_option("--nrow", out.nrow, "Images per grid row")->check(CLI::PositiveNumber);
}

std::string grid_or_default(const ImageOutputs& out, const ModelChoice& m, const std::string& name) {
  if (!out.grid.empty() || !out.npy.empty()) return out.grid;
  check_usage(!m.run.empty(), "nothing to write: give --grid and/or --npy");
  return run_path(m, name);
}

void write_comparison_grid(const std::string& path, const std::vector<Tensor>& rows, int64_t nrow,
                           const std::string& what) {
  if (path.empty()) return;
  at_ebm::save_comparison_grid(path, rows, nrow);
  fmt::print("wrote the {} to {}\n", what, path);
}

void write_images_npy(const std::string& path, const Tensor& images, const std::string& what) {
  if (path.empty()) return;
  data::save_npy(path, images);
  fmt::print("wrote the {} (float32 [{}, {}, {}, {}] in [0, 1]) to {}\n", what, images.size(0), images.size(1),
             images.size(2), images.size(3), path);
}

// ---- translate, denoise, inpaint: PGD from --input images (at_ebm/method/applications.h) ----

void add_application_input(CLI::App& sub, ApplicationArgs& a, const std::string& input_help,
                           const std::string& run_help, const std::string& model_help) {
  add_model_options(sub, a.model, run_help, model_help);
  sub.add_option("--input", a.input, input_help)->required();
}

void add_application_settings(CLI::App& sub, ApplicationArgs& a, const std::string& seed_help,
                              const std::string& grid_help, const std::string& images) {
  add_pgd_options(sub, a.pgd, "images", seed_help);
  add_output_options(sub, a.out, grid_help, images);
  add_nrow_option(sub, a.out);
  add_compute_options(sub, a.model);
}

Application open_application(const ApplicationArgs& a) {
  at_ebm::SamplingSetup setup = open_model(a.model);
  data::DatasetPtr input = open_at_model_shape(setup, spec_json(a.input, "--input"), "--input");
  const at_ebm::SampleOptions opt = sample_options(a.pgd, setup.sample);
  return {std::move(setup), std::move(input), opt};
}

// ---- energy and grads: a model file in a compute dtype --------------------------------------

void add_dtype_option(CLI::App& sub, std::string& dtype) {
  sub.add_option("--dtype", dtype, "Compute dtype")->check(CLI::IsMember({"float32", "float64"}))->capture_default_str();
}

DType compute_dtype(const std::string& name) { return name == "float64" ? DType::Float64 : DType::Float32; }

nn::LoadedModel load_eval_model(const std::string& path, DType dtype) {
  nn::LoadedModel loaded = nn::load_model(path);
  loaded.model->to(dtype);
  loaded.model->eval();
  return loaded;
}

void write_json_report(const std::string& path, const nlohmann::json& j) {
  write_file_atomic(path, j.dump(2) + "\n", "write " + path);
  fmt::print("wrote {}\n", path);
}

}  // namespace atebm::cli
