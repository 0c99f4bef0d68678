#include "at_ebm/method/sampler.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "at_ebm/data/random_draw.h"
#include "at_ebm/data/spec.h"
#include "at_ebm/method/pgd_graph.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "nn/io/model_file.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

using nlohmann::json;

// Where and in which dtype the model computes: that of its first parameter (CPU float32 without).
TensorOptions model_options(const nn::NamedTensors& params) {
  for (const auto& [name, t] : params)
    if (t.defined()) return {.dtype = t.dtype(), .device = t.device()};
  return {.dtype = DType::Float32, .device = Device::cpu()};
}

void check_start(const Tensor& start, const Tensor& mask) {
  ATEBM_CHECK(start.defined() && start.dim() == 4 && start.size(0) >= 1,
              "pgd_batched: expected start images [n, C, H, W] with n >= 1, got {}",
              start.defined() ? shape_str(start.shape()) : std::string("an undefined tensor"));
  ATEBM_CHECK(is_floating(start.dtype()), "pgd_batched: expected floating start images, got dtype {}", start.dtype());
  if (!mask.defined()) return;
  ATEBM_CHECK(mask.dim() == 4 && (mask.size(0) == 1 || mask.size(0) == start.size(0)) && mask.size(1) == 1 &&
                  mask.size(2) == start.size(2) && mask.size(3) == start.size(3),
              "pgd_batched: expected a mask [1 or {}, 1, {}, {}] for images {}, got {}", start.size(0), start.size(2),
              start.size(3), shape_str(start.shape()), shape_str(mask.shape()));
}

// Images [first, first + len) of the start set, [len, C, H, W] on the CPU.
using BatchSource = std::function<Tensor(int64_t first, int64_t len)>;

// The batched PGD loop: each batch is fetched, moved to the model's device and dtype, climbed,
// and copied into the CPU float32 result [shape].
Tensor run_batches(const ScoreFn& f, const nn::NamedTensors& params, const BatchSource& source, const Shape& shape,
                   const SampleOptions& opt, const Tensor& mask, const FrameObserver& observer) {
  SampleOptions checked = opt;
  checked.n = shape[0];
  check_sample_options(checked);
  const TensorOptions on_model = model_options(params);
  const int64_t n = shape[0];
  Tensor out = empty(shape);
  Generator gen(opt.seed);  // PGD's random start is off; the generator is only passed along
  // Without masks or per-step frames, every full batch replays one captured CUDA graph on the GPU
  // (pgd_graph.h; on the CPU this is plain pgd()).
  GraphedPgd loop(f, params);
  for (int64_t first = 0; first < n; first += opt.batch_size) {
    const int64_t len = std::min(opt.batch_size, n - first);
    const Tensor x0 = copy_to(source(first, len), on_model.device, on_model.dtype);
    PgdOptions p{.steps = opt.steps, .step_size = opt.step_size, .eps = opt.eps};
    if (mask.defined()) {
      const Tensor m = mask.size(0) == 1 ? mask : narrow(mask, 0, first, len);
      p.mask = copy_to(m, on_model.device, on_model.dtype);
    }
    PgdObserver step_observer;
    if (observer) {
      observer(0, first, x0);
      step_observer = [&](int64_t k, const Tensor& x) { observer(k, first, x); };
    }
    const Tensor x = step_observer ? pgd(f, x0, p, params, gen, step_observer) : loop.run(x0, p, gen);
    copy_into(narrow(out, 0, first, len), x);
  }
  return out;
}

// --- reading the run's config.json ---

json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ATEBM_CHECK(in.good(), "{}: cannot open the file", path);
  std::stringstream text;
  text << in.rdbuf();
  ATEBM_CHECK(!in.bad(), "{}: read failed", path);
  return nn::parse_json(text.str(), path);
}

template <typename T>
void read_field(const json& obj, const char* key, T& out, const std::string& where) {
  if (!obj.contains(key) || obj.at(key).is_null()) return;
  try {
    out = obj.at(key).get<T>();
  } catch (const json::exception&) {
    ATEBM_FAIL("{}.{}: wrong type, got {}", where, key, obj.at(key).dump());
  }
}

// A radius: a number or "inf" (JSON has no infinity).
void read_radius(const json& obj, const char* key, double& out, const std::string& where) {
  if (!obj.contains(key) || obj.at(key).is_null()) return;
  const json& v = obj.at(key);
  if (v.is_string() && (v.get<std::string>() == "inf" || v.get<std::string>() == "infinity")) {
    out = std::numeric_limits<double>::infinity();
    return;
  }
  ATEBM_CHECK(v.is_number(), "{}.{}: expected a number or \"inf\", got {}", where, key, v.dump());
  out = v.get<double>();
}

SampleOptions sample_options_from(const json& config, const std::string& file) {
  SampleOptions s;
  if (!config.contains("sample")) return s;
  const json& b = config.at("sample");
  const std::string where = file + ": sample";
  ATEBM_CHECK(b.is_object(), "{}: expected an object, got {}", where, b.dump());
  read_field(b, "n", s.n, where);
  read_field(b, "batch_size", s.batch_size, where);
  read_field(b, "steps", s.steps, where);
  read_field(b, "step_size", s.step_size, where);
  read_radius(b, "eps", s.eps, where);
  read_field(b, "seed", s.seed, where);
  try {
    check_sample_options(s);
  } catch (const Error& e) {
    ATEBM_FAIL("{}: {}", where, e.what());
  }
  return s;
}

// train.tf32, train.conv_algo and train.cudnn_algo_search over the defaults.
MathMode math_mode_from(const json& config, const std::string& file) {
  MathMode m;
  if (!config.contains("train") || config.at("train").is_null()) return m;
  const json& t = config.at("train");
  const std::string where = file + ": train";
  ATEBM_CHECK(t.is_object(), "{}: expected an object, got {}", where, t.dump());
  read_field(t, "tf32", m.tf32, where);
  std::string algo = conv_algo_name(m.conv_algo), search = cudnn_algo_search_name(m.cudnn_algo_search);
  read_field(t, "conv_algo", algo, where);
  read_field(t, "cudnn_algo_search", search, where);
  try {
    m.conv_algo = conv_algo_from_name(algo);
    m.cudnn_algo_search = cudnn_algo_search_from_name(search);
  } catch (const Error& e) {
    ATEBM_FAIL("{}: {}", where, e.what());
  }
  return m;
}

data::ImageShape shape_field(const json& shape, const std::string& where) {
  std::vector<int64_t> v;
  try {
    v = shape.get<std::vector<int64_t>>();
  } catch (const json::exception&) {
    ATEBM_FAIL("{}: expected [C, H, W], got {}", where, shape.dump());
  }
  ATEBM_CHECK(v.size() == 3 && v[0] >= 1 && v[1] >= 1 && v[2] >= 1, "{}: expected [C, H, W] of positive sizes, got {}",
              where, shape.dump());
  return {v[0], v[1], v[2]};
}

std::string first_spec(const json& specs, const std::string& what) {
  if (specs.is_string()) return specs.get<std::string>();
  ATEBM_CHECK(specs.is_array() && !specs.empty() && specs.at(0).is_string(),
              "{}: expected a dataset spec string or a non-empty list of them, got {}", what, specs.dump());
  return specs.at(0).get<std::string>();
}

}  // namespace

void check_sample_options(const SampleOptions& opt) {
  ATEBM_CHECK(opt.n >= 1, "sample options: n must be >= 1, got {}", opt.n);
  ATEBM_CHECK(opt.batch_size >= 1, "sample options: batch_size must be >= 1, got {}", opt.batch_size);
  ATEBM_CHECK(opt.steps >= 0, "sample options: steps must be >= 0, got {}", opt.steps);
  ATEBM_CHECK(std::isfinite(opt.step_size) && opt.step_size >= 0.0,
              "sample options: step_size must be finite and >= 0, got {}", opt.step_size);
  ATEBM_CHECK(opt.eps >= 0.0, "sample options: eps must be >= 0 (inf: unconstrained), got {}", opt.eps);
}

ScoreFn model_score(nn::Module& model) {
  return [&model](const Tensor& x) { return nn::energy_logit(model, x); };
}

std::vector<int64_t> draw_indices(int64_t size, int64_t n, uint64_t seed) {
  ATEBM_CHECK(size >= 1, "draw_indices: the dataset holds no images");
  ATEBM_CHECK(n >= 0, "draw_indices: n must be >= 0, got {}", n);
  Generator gen(seed);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  // Fisher–Yates with the swapped-out entries kept in a map: slot i holds moved[i] if present,
  // else i. Each pass over the whole set is one permutation.
  std::unordered_map<int64_t, int64_t> moved;
  const auto slot = [&moved](int64_t k) {
    const auto it = moved.find(k);
    return it == moved.end() ? k : it->second;
  };
  int64_t i = 0;
  while (static_cast<int64_t>(out.size()) < n) {
    if (i == size) {
      moved.clear();
      i = 0;
    }
    const int64_t j = data::draw_int(gen, i, size - 1);
    const int64_t vi = slot(i), vj = slot(j);
    moved[j] = vi;
    out.push_back(vj);
    ++i;
  }
  return out;
}

Tensor load_images(const data::Dataset& ds, const std::vector<int64_t>& indices) {
  const data::ImageShape s = ds.shape();
  Tensor out = empty({static_cast<int64_t>(indices.size()), s.c, s.h, s.w});
  float* dst = out.data<float>();
  for (size_t k = 0; k < indices.size(); ++k) ds.get_into(indices[k], dst + static_cast<int64_t>(k) * s.numel());
  return out;
}

Tensor draw_images(const data::Dataset& ds, int64_t n, uint64_t seed) {
  ATEBM_CHECK(n >= 1, "draw_images: n must be >= 1, got {}", n);
  ATEBM_CHECK(ds.size() >= 1, "draw_images: {} holds no images", ds.name());
  return load_images(ds, draw_indices(ds.size(), n, seed));
}

Tensor pgd_batched(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& start, const SampleOptions& opt,
                   const Tensor& mask, const FrameObserver& observer) {
  check_start(start, mask);
  const Tensor x = detach(start);
  const BatchSource source = [&x](int64_t first, int64_t len) { return narrow(x, 0, first, len); };
  return run_batches(f, params, source, x.shape(), opt, mask.defined() ? detach(mask) : Tensor(), observer);
}

Tensor generate(const ScoreFn& f, const nn::NamedTensors& params, const data::Dataset& p0, const SampleOptions& opt,
                const FrameObserver& observer) {
  check_sample_options(opt);
  ATEBM_CHECK(p0.size() >= 1, "generate: {} holds no images", p0.name());
  // Loaded batch by batch: n start images are never held at once (50k CIFAR samples for FID).
  const std::vector<int64_t> indices = draw_indices(p0.size(), opt.n, opt.seed);
  const BatchSource source = [&](int64_t first, int64_t len) {
    return load_images(p0, std::vector<int64_t>(indices.begin() + first, indices.begin() + first + len));
  };
  const data::ImageShape s = p0.shape();
  return run_batches(f, params, source, {opt.n, s.c, s.h, s.w}, opt, Tensor(), observer);
}

Tensor generate(nn::Module& model, const data::Dataset& p0, const SampleOptions& opt, const FrameObserver& observer) {
  return generate(model_score(model), model.named_parameters(), p0, opt, observer);
}

// ---- run folders and model files ----------------------------------------------------------

SamplingSetup open_model_file(const std::string& path, Device device) {
  nn::LoadedModel loaded = nn::load_model(path);
  SamplingSetup s;
  s.model = std::move(loaded.model);
  s.model->eval();
  if (device != Device::cpu()) s.model->to(device);
  s.model_config = std::move(loaded.config);
  return s;
}

SamplingSetup open_run(const std::string& dir, Device device) {
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  const json config = read_json_file(config_path);
  ATEBM_CHECK(config.is_object(), "{}: expected a JSON object", config_path);
  SamplingSetup s = open_model_file((std::filesystem::path(dir) / "model.safetensors").string(), device);
  s.run_dir = dir;
  s.sample = sample_options_from(config, config_path);
  s.math = math_mode_from(config, config_path);

  ATEBM_CHECK(config.contains("data") && config.at("data").is_object(), "{}: missing the object 'data'", config_path);
  const json& d = config.at("data");
  if (config.contains("sample") && config.at("sample").contains("p0") && !config.at("sample").at("p0").is_null())
    s.p0 = config.at("sample").at("p0");
  else
    s.p0 = d.contains("p0") ? d.at("p0") : json();
  ATEBM_CHECK(!s.p0.is_null(), "{}: missing data.p0 (the p0 dataset spec)", config_path);

  if (d.contains("shape") && !d.at("shape").is_null()) {
    s.shape = shape_field(d.at("shape"), config_path + ": data.shape");
  } else {
    ATEBM_CHECK(d.contains("train"), "{}: neither data.shape nor data.train says the model's image shape",
                config_path);
    resolve_shape(s, d.at("train"));
  }
  return s;
}

data::ImageShape model_input_shape(const json& model_config, const data::ImageShape& hint) {
  const json cfg = nn::complete_config(model_config);
  const std::string arch = cfg.at("arch").get<std::string>();
  if (arch == "stargan_discriminator") {
    const int64_t size = cfg.at("img_size").get<int64_t>();
    return {3, size, size};
  }
  ATEBM_CHECK(arch == "resnet", "the model ({}) takes vectors, not images: generation needs an image model", arch);
  ATEBM_CHECK(hint.h >= 1 && hint.w >= 1, "model_input_shape: the image size hint {} is empty", data::shape_str(hint));
  return {cfg.at("in_channels").get<int64_t>(), hint.h, hint.w};
}

void resolve_shape(SamplingSetup& setup, const json& specs) {
  if (setup.shape.c != 0) return;
  const data::DatasetPtr ds = data::open_dataset(first_spec(specs, "dataset"));
  setup.shape = model_input_shape(setup.model_config, ds->shape());
}

}  // namespace atebm::at_ebm
