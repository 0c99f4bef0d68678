#include "at_ebm/toy2d/toy2d.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <algorithm>
#include <deque>
#include <filesystem>
#include <numeric>
#include <set>

#include "at_ebm/io/png_write.h"
#include "at_ebm/method/losses.h"
#include "at_ebm/method/pgd.h"
#include "at_ebm/metrics/auc.h"
#include "at_ebm/toy2d/plot.h"
#include "at_ebm/train/train_config.h"
#include "engine/atomic_file.h"
#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "nn/io/model_file.h"
#include "nn/models/model_config.h"
#include "nn/optim/adam.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

using nlohmann::json;

// ---- options ---------------------------------------------------------------------------------

const std::set<std::string>& option_keys() {
  static const std::set<std::string> keys = {
      "seed",        "sigma",        "half_width", "p0",         "corner_size", "batch",        "iterations",
      "lr",          "beta1",        "beta2",      "step_size",  "k_start",     "k_max",        "iters_per_k",
      "auc_threshold", "auc_window", "r1_weight",  "eval_samples", "eval_steps", "plot_size",  "plot_points",
      "field_grid",  "plot_scale", "model"};
  return keys;
}

// Typed reads that refuse lossy conversions (1.5 for an integer, "2" for a number).
void read(const json& j, const char* key, double& out) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  ATEBM_CHECK(v.is_number(), "toy2d: {}: expected a number, got {}", key, v.dump());
  out = v.get<double>();
  ATEBM_CHECK(std::isfinite(out), "toy2d: {}: expected a finite number, got {}", key, v.dump());
}
void read(const json& j, const char* key, int64_t& out) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  ATEBM_CHECK(v.is_number_integer(), "toy2d: {}: expected an integer, got {}", key, v.dump());
  out = v.get<int64_t>();
}
void read(const json& j, const char* key, uint64_t& out) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  ATEBM_CHECK(v.is_number_unsigned(), "toy2d: {}: expected a non-negative integer, got {}", key, v.dump());
  out = v.get<uint64_t>();
}
void read(const json& j, const char* key, std::string& out) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  ATEBM_CHECK(v.is_string(), "toy2d: {}: expected a string, got {}", key, v.dump());
  out = v.get<std::string>();
}

void validate(const Toy2dOptions& o) {
  ATEBM_CHECK(o.sigma > 0, "toy2d: sigma: must be > 0, got {}", o.sigma);
  ATEBM_CHECK(o.half_width > 0, "toy2d: half_width: must be > 0, got {}", o.half_width);
  ATEBM_CHECK(o.p0 == "uniform" || o.p0 == "corner", "toy2d: p0: expected \"uniform\" or \"corner\", got \"{}\"", o.p0);
  ATEBM_CHECK(o.corner_size > 0 && o.corner_size <= 2 * o.half_width,
              "toy2d: corner_size: must be in (0, 2·half_width = {}], got {}", 2 * o.half_width, o.corner_size);
  ATEBM_CHECK(o.batch >= 1, "toy2d: batch: must be >= 1, got {}", o.batch);
  ATEBM_CHECK(o.iterations >= 1, "toy2d: iterations: must be >= 1, got {}", o.iterations);
  ATEBM_CHECK(o.lr > 0, "toy2d: lr: must be > 0, got {}", o.lr);
  ATEBM_CHECK(o.beta1 >= 0 && o.beta1 < 1, "toy2d: beta1: must be in [0, 1), got {}", o.beta1);
  ATEBM_CHECK(o.beta2 >= 0 && o.beta2 < 1, "toy2d: beta2: must be in [0, 1), got {}", o.beta2);
  ATEBM_CHECK(o.step_size >= 0, "toy2d: step_size: must be >= 0, got {}", o.step_size);
  ATEBM_CHECK(o.k_start >= 0, "toy2d: k_start: must be >= 0, got {}", o.k_start);
  ATEBM_CHECK(o.k_max >= o.k_start, "toy2d: k_max: must be >= k_start = {}, got {}", o.k_start, o.k_max);
  ATEBM_CHECK(o.iters_per_k >= 1, "toy2d: iters_per_k: must be >= 1, got {}", o.iters_per_k);
  ATEBM_CHECK(o.auc_window >= 1, "toy2d: auc_window: must be >= 1, got {}", o.auc_window);
  ATEBM_CHECK(o.r1_weight >= 0, "toy2d: r1_weight: must be >= 0, got {}", o.r1_weight);
  ATEBM_CHECK(o.eval_samples >= 1, "toy2d: eval_samples: must be >= 1, got {}", o.eval_samples);
  ATEBM_CHECK(o.eval_steps >= -1, "toy2d: eval_steps: must be >= 0, or -1 for the final K, got {}", o.eval_steps);
  ATEBM_CHECK(o.plot_size >= 16 && o.plot_size <= 4096, "toy2d: plot_size: must be in [16, 4096], got {}", o.plot_size);
  ATEBM_CHECK(o.plot_points >= 0, "toy2d: plot_points: must be >= 0, got {}", o.plot_points);
  ATEBM_CHECK(o.plot_scale == "auto" || o.plot_scale == "unit",
              "toy2d: plot_scale: expected \"auto\" or \"unit\", got \"{}\"", o.plot_scale);
  ATEBM_CHECK(o.field_grid >= 0 && o.field_grid <= 256, "toy2d: field_grid: must be in [0, 256], got {}", o.field_grid);
}

// ---- sampling --------------------------------------------------------------------------------

// [n, 2] from N(0, σ²I).
Tensor sample_data(int64_t n, const Toy2dOptions& o, Generator& gen) { return normal({n, 2}, 0.0, o.sigma, {}, &gen); }

// [n, 2] uniform on the square, or on the corner square [−h, −h + c]².
Tensor sample_p0(int64_t n, const std::string& kind, const Toy2dOptions& o, Generator& gen) {
  const double lo = -o.half_width;
  const double hi = kind == "corner" ? lo + o.corner_size : o.half_width;
  return uniform({n, 2}, lo, hi, {}, &gen);
}

PgdOptions attack(const Toy2dOptions& o, int64_t steps) {
  PgdOptions p;
  p.steps = steps;
  p.step_size = o.step_size;
  p.lo = -o.half_width;
  p.hi = o.half_width;
  return p;
}

// ---- Algorithm 2: the progressive K ---------------------------------------------------------

class KSchedule {
 public:
  explicit KSchedule(const Toy2dOptions& o) : o_(o), k_(o.k_start) {}
  int64_t k() const { return k_; }
  double window_mean() const {
    return window_.empty() ? 0.0 : std::accumulate(window_.begin(), window_.end(), 0.0) / window_.size();
  }
  // Records this iteration's adversarial AUC; moves to K+1 when the level is done. The window
  // restarts with every level, so a level is judged only by its own iterations.
  void record(double auc, int64_t iteration, std::vector<int64_t>& level_starts) {
    window_.push_back(auc);
    if (static_cast<int64_t>(window_.size()) > o_.auc_window) window_.pop_front();
    ++at_level_;
    if (k_ >= o_.k_max) return;
    const bool won = static_cast<int64_t>(window_.size()) == o_.auc_window && window_mean() > o_.auc_threshold;
    if (won || at_level_ >= o_.iters_per_k) {
      ++k_;
      at_level_ = 0;
      window_.clear();
      level_starts.push_back(iteration + 1);
    }
  }

 private:
  const Toy2dOptions& o_;
  int64_t k_;
  int64_t at_level_ = 0;
  std::deque<double> window_;
};

// ---- training, evaluation, figure ------------------------------------------------------------

struct Trained {
  int64_t final_k = 0;
  double final_auc = 0;
  std::vector<int64_t> level_starts;
};

Trained train(nn::Module& model, const ScoreFn& f, const Toy2dOptions& o, Generator& gen) {
  nn::Adam opt(model.named_parameters(), {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2});
  KSchedule schedule(o);
  Trained t;
  t.level_starts.push_back(0);
  for (int64_t it = 0; it < o.iterations; ++it) {
    const Tensor x_real = sample_data(o.batch, o, gen);
    const Tensor x_fake = pgd(f, sample_p0(o.batch, o.p0, o, gen), attack(o, schedule.k()), model.named_parameters(), gen);
    opt.zero_grad();
    const LossTerms terms = adversarial_loss(f, x_real, x_fake, o.r1_weight, o.r1_weight > 0);
    backward(terms.loss);
    opt.step();
    schedule.record(roc_auc(detach(terms.logits_real), detach(terms.logits_fake)), it, t.level_starts);
  }
  t.final_k = schedule.k();
  t.final_auc = schedule.window_mean();
  return t;
}

// D = sigmoid(f) at [n, 2] points, in chunks (the plot grid holds size² points).
std::vector<float> d_values(const ScoreFn& f, const Tensor& xy) {
  NoGradGuard no_grad;
  std::vector<float> d;
  d.reserve(static_cast<size_t>(xy.size(0)));
  constexpr int64_t chunk = 16384;
  for (int64_t s = 0; s < xy.size(0); s += chunk) {
    const std::vector<float> part = sigmoid(f(narrow(xy, 0, s, std::min(chunk, xy.size(0) - s)))).to_vector<float>();
    d.insert(d.end(), part.begin(), part.end());
  }
  return d;
}

double mean_of(const std::vector<float>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

struct Evaluated {
  double mean_d_data = 0, frac_within_3sigma = 0, mean_d_end = 0;
  Tensor data, starts, ends;  // [eval_samples, 2]
};

Evaluated evaluate(const nn::Module& model, const ScoreFn& f, const Toy2dOptions& o, int64_t steps, Generator& gen) {
  Evaluated e;
  e.data = sample_data(o.eval_samples, o, gen);
  e.mean_d_data = mean_of(d_values(f, e.data));
  e.starts = sample_p0(o.eval_samples, "uniform", o, gen);
  e.ends = pgd(f, e.starts, attack(o, steps), model.named_parameters(), gen);
  const std::vector<float> end_xy = e.ends.to_vector<float>();
  int64_t within = 0;
  for (size_t i = 0; i < end_xy.size(); i += 2) within += std::hypot(end_xy[i], end_xy[i + 1]) <= 3.0 * o.sigma;
  e.frac_within_3sigma = static_cast<double>(within) / static_cast<double>(o.eval_samples);
  e.mean_d_end = mean_of(d_values(f, e.ends));
  return e;
}

// Unit directions of ∇x f on the centres of a grid × grid partition of the square (∇D has the
// same direction: ∇D = D(1 − D)∇f).
std::vector<Arrow> gradient_field(const nn::Module& model, const ScoreFn& f, const Toy2dOptions& o) {
  const int64_t n = o.field_grid;
  if (n == 0) return {};
  std::vector<float> xy;
  const double cell = 2 * o.half_width / static_cast<double>(n);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) {
      xy.push_back(static_cast<float>(-o.half_width + (c + 0.5) * cell));
      xy.push_back(static_cast<float>(-o.half_width + (r + 0.5) * cell));
    }
  FreezeParameters frozen(model.named_parameters());
  GradModeGuard grad_on(true);
  const Tensor x = from_vector(xy, {n * n, 2}).set_requires_grad(true);
  const std::vector<float> g = grad({sum(f(x))}, {x})[0].to_vector<float>();
  std::vector<Arrow> arrows;
  for (size_t i = 0; i < xy.size(); i += 2) {
    const double norm = std::hypot(g[i], g[i + 1]);
    if (norm > 0) arrows.push_back({xy[i], xy[i + 1], g[i] / norm, g[i + 1] / norm});
  }
  return arrows;
}

std::vector<float> first_points(const Tensor& xy, int64_t n) {
  return narrow(xy, 0, 0, std::min(n, xy.size(0))).to_vector<float>();
}

struct Figure {
  std::vector<uint8_t> rgb;  // [plot_size, plot_size, 3]
  double d_min = 0, d_max = 0;
};

// Colour range and contour levels: "unit" maps D ∈ [0, 1] and draws 0.1, ..., 0.9; "auto" maps
// the grid's [min D, max D] and draws 9 evenly spaced levels inside it (D stays close to 1/2
// wherever the attack reaches, so a unit scale shows one flat colour). Both add the 0.5 level.
void set_levels(ToyPlot& plot, const std::string& scale, double d_min, double d_max) {
  if (scale == "auto" && d_max - d_min > 1e-6) plot.d_lo = d_min, plot.d_hi = d_max;
  for (int i = 1; i <= 9; ++i) plot.contour_levels.push_back(plot.d_lo + (plot.d_hi - plot.d_lo) * i / 10.0);
  if (plot.d_lo < 0.5 && 0.5 < plot.d_hi && scale == "auto") plot.contour_levels.push_back(0.5);
}

Figure draw_figure(const nn::Module& model, const ScoreFn& f, const Toy2dOptions& o, const Evaluated& e, int64_t steps,
                   Generator& gen) {
  ToyPlot plot;
  plot.frame = {.size = o.plot_size, .lo = -o.half_width, .hi = o.half_width};
  const std::vector<float> centres = plot.frame.pixel_centres();
  plot.d = d_values(f, from_vector(centres, {o.plot_size * o.plot_size, 2}));
  Figure fig;
  fig.d_min = *std::min_element(plot.d.begin(), plot.d.end());
  fig.d_max = *std::max_element(plot.d.begin(), plot.d.end());
  set_levels(plot, o.plot_scale, fig.d_min, fig.d_max);
  plot.arrows = gradient_field(model, f, o);
  plot.arrow_length = o.field_grid > 0 ? 0.6 * 2 * o.half_width / static_cast<double>(o.field_grid) : 0.0;
  // The p0 shown is the training p0: for "corner", fresh corner points and their end points.
  Tensor starts = e.starts, ends = e.ends;
  if (o.p0 != "uniform") {
    starts = sample_p0(o.plot_points, o.p0, o, gen);
    ends = pgd(f, starts, attack(o, steps), model.named_parameters(), gen);
  }
  plot.points.push_back({first_points(e.data, o.plot_points), Rgb{228, 26, 28}, 2});
  plot.points.push_back({first_points(starts, o.plot_points), Rgb{190, 190, 190}, 2});
  plot.points.push_back({first_points(ends, o.plot_points), Rgb{255, 140, 0}, 2});
  fig.rgb = render_toy_plot(plot);
  return fig;
}

}  // namespace

Toy2dOptions Toy2dOptions::from_json(const json& j) {
  ATEBM_CHECK(j.is_object(), "toy2d: expected a JSON object of options, got {}", j.dump());
  for (const auto& [key, value] : j.items())
    ATEBM_CHECK(option_keys().count(key), "toy2d: unknown option '{}' (known: {})", key, fmt::join(option_keys(), ", "));
  Toy2dOptions o;
  read(j, "seed", o.seed);
  read(j, "sigma", o.sigma);
  read(j, "half_width", o.half_width);
  read(j, "p0", o.p0);
  read(j, "corner_size", o.corner_size);
  read(j, "batch", o.batch);
  read(j, "iterations", o.iterations);
  read(j, "lr", o.lr);
  read(j, "beta1", o.beta1);
  read(j, "beta2", o.beta2);
  read(j, "step_size", o.step_size);
  read(j, "k_start", o.k_start);
  read(j, "k_max", o.k_max);
  read(j, "iters_per_k", o.iters_per_k);
  read(j, "auc_threshold", o.auc_threshold);
  read(j, "auc_window", o.auc_window);
  read(j, "r1_weight", o.r1_weight);
  read(j, "eval_samples", o.eval_samples);
  read(j, "eval_steps", o.eval_steps);
  read(j, "plot_size", o.plot_size);
  read(j, "plot_points", o.plot_points);
  read(j, "field_grid", o.field_grid);
  read(j, "plot_scale", o.plot_scale);
  if (j.contains("model")) {
    ATEBM_CHECK(j.at("model").is_object(), "toy2d: model: expected a model config object, got {}", j.at("model").dump());
    o.model = nn::complete_config(j.at("model"));  // validates the fields, naming them
  }
  validate(o);
  return o;
}

json Toy2dOptions::to_json() const {
  return {{"seed", seed},
          {"sigma", sigma},
          {"half_width", half_width},
          {"p0", p0},
          {"corner_size", corner_size},
          {"batch", batch},
          {"iterations", iterations},
          {"lr", lr},
          {"beta1", beta1},
          {"beta2", beta2},
          {"step_size", step_size},
          {"k_start", k_start},
          {"k_max", k_max},
          {"iters_per_k", iters_per_k},
          {"auc_threshold", auc_threshold},
          {"auc_window", auc_window},
          {"r1_weight", r1_weight},
          {"eval_samples", eval_samples},
          {"eval_steps", eval_steps},
          {"plot_size", plot_size},
          {"plot_points", plot_points},
          {"field_grid", field_grid},
          {"plot_scale", plot_scale},
          {"model", model}};
}

json Toy2dResult::to_json() const {
  return {{"mean_d_data", mean_d_data},   {"frac_within_3sigma", frac_within_3sigma},
          {"mean_d_end", mean_d_end},     {"final_auc", final_auc},
          {"final_k", final_k},           {"eval_steps", eval_steps},
          {"iterations", iterations},     {"k_level_starts", k_level_starts},
          {"d_grid_min", d_grid_min},     {"d_grid_max", d_grid_max},
          {"seconds", seconds},           {"png", png_path}};
}

void apply_toy2d_override(json& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  ATEBM_CHECK(eq != std::string::npos && eq > 0, "toy2d: override \"{}\": expected key=value (e.g. sigma=0.5)",
              assignment);
  apply_override(config, assignment);
}

Toy2dResult run_toy2d(const Toy2dOptions& options, const std::string& out_dir) {
  const Toy2dOptions o = Toy2dOptions::from_json(options.to_json());  // validated, model completed
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  ATEBM_CHECK(!ec, "toy2d: cannot create the output folder {}: {}", out_dir, ec.message());

  Generator gen(o.seed);
  const std::shared_ptr<nn::Module> model = nn::build_model(o.model, gen);
  const ScoreFn f = [&model](const Tensor& x) { return nn::energy_logit(*model, x); };
  const Trained t = train(*model, f, o, gen);
  const int64_t steps = o.eval_steps >= 0 ? o.eval_steps : t.final_k;
  const Evaluated e = evaluate(*model, f, o, steps, gen);
  const Figure fig = draw_figure(*model, f, o, e, steps, gen);

  Toy2dResult r;
  r.mean_d_data = e.mean_d_data;
  r.frac_within_3sigma = e.frac_within_3sigma;
  r.mean_d_end = e.mean_d_end;
  r.final_auc = t.final_auc;
  r.final_k = t.final_k;
  r.eval_steps = steps;
  r.iterations = o.iterations;
  r.k_level_starts = t.level_starts;
  r.d_grid_min = fig.d_min;
  r.d_grid_max = fig.d_max;
  r.png_path = (std::filesystem::path(out_dir) / "toy2d.png").string();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  write_png(r.png_path, fig.rgb.data(), o.plot_size, o.plot_size, 3);
  nn::save_model((std::filesystem::path(out_dir) / "model.safetensors").string(), *model, o.model);
  write_file_atomic((std::filesystem::path(out_dir) / "config.json").string(), o.to_json().dump(2) + "\n", "toy2d");
  write_file_atomic((std::filesystem::path(out_dir) / "toy2d.json").string(), r.to_json().dump(2) + "\n", "toy2d");
  return r;
}

json toy2d_default_config() { return Toy2dOptions().to_json(); }

Toy2dResult run_toy2d(const json& config, const std::string& out_dir) {
  return run_toy2d(Toy2dOptions::from_json(config), out_dir);
}

}  // namespace atebm::at_ebm
