#include "at_ebm/train/train_config.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "engine/error.h"
#include "nn/models/model_config.h"
#include "nn/optim/lr_schedule.h"

namespace atebm::at_ebm {
namespace {

using nlohmann::json;

// Reads one section: every key must be known; each get() converts with a message naming the
// field ("train.max_iters: expected an integer, got \"ten\"").
class Section {
 public:
  Section(const json& root, std::string name) : name_(std::move(name)) {
    if (!root.contains(name_)) return;
    const json& s = root.at(name_);
    ATEBM_CHECK(s.is_object(), "config: \"{}\" must be an object; got {}", name_, s.dump());
    obj_ = &s;
  }
  /// Call after the last get(): rejects keys no get() asked for.
  void finish() const {
    if (obj_ == nullptr) return;
    for (const auto& [k, v] : obj_->items())
      ATEBM_CHECK(seen_.count(k) > 0, "config: unknown field \"{}.{}\"; known fields of \"{}\": {}", name_, k, name_,
                  fmt::join(seen_, ", "));
  }
  template <typename T>
  void get(const char* key, T& out) {
    seen_.insert(key);
    if (obj_ == nullptr || !obj_->contains(key)) return;
    const json& v = obj_->at(key);
    const std::string field = fmt::format("{}.{}", name_, key);
    if constexpr (std::is_same_v<T, bool>) {
      ATEBM_CHECK(v.is_boolean(), "config: {}: expected true or false; got {}", field, v.dump());
      out = v.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      ATEBM_CHECK(v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()),
                  "config: {}: expected an integer; got {}", field, v.dump());
      ATEBM_CHECK(!std::is_unsigned_v<T> || v.get<double>() >= 0, "config: {}: expected a non-negative integer; got {}",
                  field, v.dump());
      out = static_cast<T>(v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(v.get<double>()));
    } else if constexpr (std::is_floating_point_v<T>) {
      ATEBM_CHECK(v.is_number(), "config: {}: expected a number; got {}", field, v.dump());
      out = v.get<double>();
    } else if constexpr (std::is_same_v<T, std::string>) {
      ATEBM_CHECK(v.is_string(), "config: {}: expected a string; got {}", field, v.dump());
      out = v.get<std::string>();
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      ATEBM_CHECK(v.is_array(), "config: {}: expected a list of integers; got {}", field, v.dump());
      out.clear();
      for (const json& e : v) {
        ATEBM_CHECK(e.is_number_integer(), "config: {}: expected a list of integers; got {}", field, v.dump());
        out.push_back(e.get<int64_t>());
      }
    } else {
      static_assert(std::is_same_v<T, json>);
      out = v;
    }
  }
  void radius(const char* key, double& out) {
    seen_.insert(key);
    if (obj_ != nullptr && obj_->contains(key)) out = parse_radius(obj_->at(key), fmt::format("{}.{}", name_, key));
  }

 private:
  std::string name_;
  const json* obj_ = nullptr;
  std::set<std::string> seen_;
};

void check(bool ok, const std::string& field, const std::string& what, const json& value) {
  ATEBM_CHECK(ok, "config: {}: expected {}; got {}", field, what, value.dump());
}

json radius_json(double r) { return std::isinf(r) ? json("inf") : json(r); }

void check_specs(const json& v, const std::string& field, bool allow_null) {
  if (allow_null && v.is_null()) return;
  bool ok = v.is_string() || (v.is_array() && !v.empty());
  if (v.is_array())
    for (const json& e : v) ok = ok && e.is_string();
  check(ok, field, "a dataset spec string or a non-empty list of them", v);
}

void validate(const TrainConfig& c) {
  check_specs(c.data.train, "data.train", false);
  check_specs(c.data.p0, "data.p0", false);
  check_specs(c.sample.p0, "sample.p0", true);
  check(c.data.shape.size() == 3 && c.data.shape[0] > 0 && c.data.shape[1] > 0 && c.data.shape[2] > 0, "data.shape",
        "[C, H, W] with positive sizes", c.data.shape);
  check(c.data.batch_size > 0, "data.batch_size", "a positive integer", c.data.batch_size);
  check(c.data.workers >= 0, "data.workers", "a non-negative integer", c.data.workers);
  check(c.attack.step_size >= 0, "attack.step_size", "a non-negative number", c.attack.step_size);
  check(c.attack.start_step >= 0, "attack.start_step", "a non-negative integer", c.attack.start_step);
  check(c.attack.max_steps >= c.attack.start_step, "attack.max_steps",
        fmt::format("an integer >= attack.start_step ({})", c.attack.start_step), c.attack.max_steps);
  check(c.attack.epochs_per_step > 0, "attack.epochs_per_step", "a positive integer", c.attack.epochs_per_step);
  check(c.attack.auc_threshold >= 0 && c.attack.auc_threshold <= 1, "attack.auc_threshold", "a number in [0, 1]",
        c.attack.auc_threshold);
  check(c.attack.auc_window > 0, "attack.auc_window", "a positive integer", c.attack.auc_window);
  check(c.attack.norm == "l2" || c.attack.norm == "linf", "attack.norm", "\"l2\" or \"linf\"", c.attack.norm);
  check(c.indist_attack.steps >= 0, "indist_attack.steps", "a non-negative integer", c.indist_attack.steps);
  check(c.indist_attack.step_size >= 0, "indist_attack.step_size", "a non-negative number", c.indist_attack.step_size);
  check(c.loss.r1_weight >= 0, "loss.r1_weight", "a non-negative number", c.loss.r1_weight);
  check(c.loss.r1_interval > 0, "loss.r1_interval", "a positive integer", c.loss.r1_interval);
  check(c.optim.name == "adam" || c.optim.name == "sgd", "optim.name", "\"adam\" or \"sgd\"", c.optim.name);
  check(c.optim.lr > 0, "optim.lr", "a positive number", c.optim.lr);
  check(c.optim.beta1 >= 0 && c.optim.beta1 < 1, "optim.beta1", "a number in [0, 1)", c.optim.beta1);
  check(c.optim.beta2 >= 0 && c.optim.beta2 < 1, "optim.beta2", "a number in [0, 1)", c.optim.beta2);
  check(c.optim.eps > 0, "optim.eps", "a positive number", c.optim.eps);
  check(c.optim.momentum >= 0, "optim.momentum", "a non-negative number", c.optim.momentum);
  check(c.optim.weight_decay >= 0, "optim.weight_decay", "a non-negative number", c.optim.weight_decay);
  check(!(c.optim.name == "sgd" && c.optim.nesterov && c.optim.momentum == 0), "optim.momentum",
        "a positive momentum with nesterov = true", c.optim.momentum);
  nn::LrSchedule::parse(c.optim.schedule, c.optim.lr);  // throws naming the schedule
  check(c.train.max_iters >= 0, "train.max_iters", "a non-negative integer (0: no limit)", c.train.max_iters);
  check(c.train.max_seconds >= 0, "train.max_seconds", "a non-negative number (0: no limit)", c.train.max_seconds);
  check(c.train.threads >= 0, "train.threads", "a non-negative integer (0: default)", c.train.threads);
  check(c.train.device == "cpu" || c.train.device == "cuda" || c.train.device.rfind("cuda:", 0) == 0, "train.device",
        "\"cpu\", \"cuda\" or \"cuda:N\"", c.train.device);
  if (c.train.device.rfind("cuda:", 0) == 0) {
    try {
      (void)Device::parse(c.train.device);
    } catch (const Error&) {
      check(false, "train.device", "\"cpu\", \"cuda\" or \"cuda:N\"", c.train.device);
    }
  }
  check(c.train.checkpoint_every > 0, "train.checkpoint_every", "a positive integer", c.train.checkpoint_every);
  check(c.train.log_every > 0, "train.log_every", "a positive integer", c.train.log_every);
  check(c.sample.steps >= 0, "sample.steps", "a non-negative integer", c.sample.steps);
  check(c.sample.step_size >= 0, "sample.step_size", "a non-negative number", c.sample.step_size);
  check(c.sample.n > 0, "sample.n", "a positive integer", c.sample.n);
  check(c.sample.batch_size > 0, "sample.batch_size", "a positive integer", c.sample.batch_size);
}

}  // namespace

double parse_radius(const json& v, const std::string& field) {
  if (v.is_string() && (v.get<std::string>() == "inf" || v.get<std::string>() == "infinity"))
    return std::numeric_limits<double>::infinity();
  check(v.is_number() && v.get<double>() >= 0, field, "a non-negative number or \"inf\"", v);
  return v.get<double>();
}

TrainConfig train_config_from_json(const json& j) {
  ATEBM_CHECK(j.is_object(), "config: expected a JSON object; got {}", j.dump());
  static const std::set<std::string> sections = {"preset", "model", "data", "attack", "indist_attack",
                                                 "loss", "optim", "train", "sample"};
  for (const auto& [k, v] : j.items())
    ATEBM_CHECK(sections.count(k) > 0, "config: unknown field \"{}\"; known fields: {}", k, fmt::join(sections, ", "));
  TrainConfig c;
  if (j.contains("preset")) {
    check(j.at("preset").is_string(), "preset", "a string", j.at("preset"));
    c.preset = j.at("preset").get<std::string>();
  }
  ATEBM_CHECK(j.contains("model"), "config: \"model\" is missing; expected a model config such as "
                                   "{{\"arch\": \"resnet\", ...}} (see nn/models/model_config.h)");
  c.model = nn::complete_config(j.at("model"));
  {
    Section s(j, "data");
    s.get("train", c.data.train);
    s.get("p0", c.data.p0);
    s.get("shape", c.data.shape);
    s.get("batch_size", c.data.batch_size);
    s.get("augment", c.data.augment);
    s.get("p0_augment", c.data.p0_augment);
    s.get("workers", c.data.workers);
    s.finish();
  }
  {
    Section s(j, "attack");
    s.get("step_size", c.attack.step_size);
    s.get("start_step", c.attack.start_step);
    s.get("max_steps", c.attack.max_steps);
    s.get("epochs_per_step", c.attack.epochs_per_step);
    s.get("auc_threshold", c.attack.auc_threshold);
    s.get("auc_window", c.attack.auc_window);
    s.radius("eps", c.attack.eps);
    s.get("norm", c.attack.norm);
    s.finish();
  }
  {
    Section s(j, "indist_attack");
    s.get("steps", c.indist_attack.steps);
    s.get("step_size", c.indist_attack.step_size);
    s.radius("eps", c.indist_attack.eps);
    s.finish();
  }
  {
    Section s(j, "loss");
    s.get("r1_weight", c.loss.r1_weight);
    s.get("r1_interval", c.loss.r1_interval);
    s.finish();
  }
  {
    Section s(j, "optim");
    s.get("name", c.optim.name);
    s.get("lr", c.optim.lr);
    s.get("beta1", c.optim.beta1);
    s.get("beta2", c.optim.beta2);
    s.get("eps", c.optim.eps);
    s.get("momentum", c.optim.momentum);
    s.get("nesterov", c.optim.nesterov);
    s.get("weight_decay", c.optim.weight_decay);
    s.get("schedule", c.optim.schedule);
    s.finish();
  }
  {
    Section s(j, "train");
    s.get("max_iters", c.train.max_iters);
    s.get("max_seconds", c.train.max_seconds);
    s.get("seed", c.train.seed);
    s.get("threads", c.train.threads);
    s.get("device", c.train.device);
    s.get("cuda_graph", c.train.cuda_graph);
    s.get("overlap_allreduce", c.train.overlap_allreduce);
    s.get("checkpoint_every", c.train.checkpoint_every);
    s.get("log_every", c.train.log_every);
    s.get("sample_at_end", c.train.sample_at_end);
    s.finish();
  }
  {
    Section s(j, "sample");
    s.get("steps", c.sample.steps);
    s.get("step_size", c.sample.step_size);
    s.get("n", c.sample.n);
    s.get("batch_size", c.sample.batch_size);
    s.get("seed", c.sample.seed);
    s.get("p0", c.sample.p0);
    s.finish();
  }
  validate(c);
  return c;
}

json train_config_to_json(const TrainConfig& c) {
  json j;
  j["preset"] = c.preset;
  j["model"] = nn::complete_config(c.model);
  j["data"] = {{"train", c.data.train}, {"p0", c.data.p0}, {"shape", c.data.shape}, {"batch_size", c.data.batch_size},
               {"augment", c.data.augment}, {"p0_augment", c.data.p0_augment}, {"workers", c.data.workers}};
  j["attack"] = {{"step_size", c.attack.step_size}, {"start_step", c.attack.start_step},
                 {"max_steps", c.attack.max_steps}, {"epochs_per_step", c.attack.epochs_per_step},
                 {"auc_threshold", c.attack.auc_threshold}, {"auc_window", c.attack.auc_window},
                 {"eps", radius_json(c.attack.eps)}, {"norm", c.attack.norm}};
  j["indist_attack"] = {{"steps", c.indist_attack.steps}, {"step_size", c.indist_attack.step_size},
                        {"eps", radius_json(c.indist_attack.eps)}};
  j["loss"] = {{"r1_weight", c.loss.r1_weight}, {"r1_interval", c.loss.r1_interval}};
  j["optim"] = {{"name", c.optim.name},       {"lr", c.optim.lr},
                {"beta1", c.optim.beta1},     {"beta2", c.optim.beta2},
                {"eps", c.optim.eps},         {"momentum", c.optim.momentum},
                {"nesterov", c.optim.nesterov}, {"weight_decay", c.optim.weight_decay},
                {"schedule", c.optim.schedule}};
  j["train"] = {{"max_iters", c.train.max_iters},         {"max_seconds", c.train.max_seconds},
                {"seed", c.train.seed},                   {"threads", c.train.threads},
                {"device", c.train.device},               {"cuda_graph", c.train.cuda_graph},
                {"overlap_allreduce", c.train.overlap_allreduce},
                {"checkpoint_every", c.train.checkpoint_every}, {"log_every", c.train.log_every},
                {"sample_at_end", c.train.sample_at_end}};
  j["sample"] = {{"steps", c.sample.steps}, {"step_size", c.sample.step_size}, {"n", c.sample.n},
                 {"batch_size", c.sample.batch_size}, {"seed", c.sample.seed}, {"p0", c.sample.p0}};
  return j;
}

void apply_override(json& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  ATEBM_CHECK(eq != std::string::npos && eq > 0,
              "override \"{}\": expected section.key=value (e.g. attack.step_size=0.5)", assignment);
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // a bare string: fashion-mnist:train, crop=4,flip, ...
  json* node = &config;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    ATEBM_CHECK(!part.empty(), "override \"{}\": empty name in \"{}\"", assignment, key);
    if (node->is_null()) *node = json::object();
    ATEBM_CHECK(node->is_object(), "override \"{}\": \"{}\" is not a section", assignment, key.substr(0, start - 1));
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  *node = std::move(value);
}

}  // namespace atebm::at_ebm
