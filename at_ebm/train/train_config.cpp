#include "at_ebm/train/train_config.h"

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <type_traits>

#include "engine/error.h"
#include "nn/models/model_config.h"
#include "nn/optim/lr_schedule.h"
#include "ops/math_mode.h"

namespace atebm::at_ebm {
namespace {

using nlohmann::json;

void check(bool ok, const std::string& field, const std::string& what, const json& value) {
  ATEBM_CHECK(ok, "config: {}: expected {}; got {}", field, what, value.dump());
}

// The one list of the config's fields: adding a field here adds it to the reader (known key, typed
// conversion), the writer (RUN/config.json) and the known top-level names. The reader checks the
// fields in this order, so it decides which bad field is reported first. Config is TrainConfig
// (the reader fills it) or const TrainConfig (the writer and the name list read it).
// A visitor provides:
//   top(key, std::string&)            a top-level string ("preset")
//   model(key, json&)                 the required model config, completed by nn::complete_config
//   section(name, fields)             calls fields(s) once; s has field(key, member) for plain
//                                     members and radius(key, double&) for radii ("inf" in JSON)
template <typename Config, typename Visitor>
void visit_fields(Config& c, Visitor& v) {
  static_assert(std::is_same_v<std::remove_const_t<Config>, TrainConfig>);
  v.top("preset", c.preset);
  v.model("model", c.model);
  v.section("data", [&](auto& s) {
    s.field("train", c.data.train);
    s.field("p0", c.data.p0);
    s.field("shape", c.data.shape);
    s.field("batch_size", c.data.batch_size);
    s.field("augment", c.data.augment);
    s.field("p0_augment", c.data.p0_augment);
    s.field("workers", c.data.workers);
  });
  v.section("attack", [&](auto& s) {
    s.field("step_size", c.attack.step_size);
    s.field("start_step", c.attack.start_step);
    s.field("max_steps", c.attack.max_steps);
    s.field("epochs_per_step", c.attack.epochs_per_step);
    s.field("auc_threshold", c.attack.auc_threshold);
    s.field("auc_window", c.attack.auc_window);
    s.radius("eps", c.attack.eps);
    s.field("norm", c.attack.norm);
  });
  v.section("indist_attack", [&](auto& s) {
    s.field("steps", c.indist_attack.steps);
    s.field("step_size", c.indist_attack.step_size);
    s.radius("eps", c.indist_attack.eps);
  });
  v.section("loss", [&](auto& s) {
    s.field("r1_weight", c.loss.r1_weight);
    s.field("r1_interval", c.loss.r1_interval);
  });
  v.section("optim", [&](auto& s) {
    s.field("name", c.optim.name);
    s.field("lr", c.optim.lr);
    s.field("beta1", c.optim.beta1);
    s.field("beta2", c.optim.beta2);
    s.field("eps", c.optim.eps);
    s.field("momentum", c.optim.momentum);
    s.field("nesterov", c.optim.nesterov);
    s.field("weight_decay", c.optim.weight_decay);
    s.field("schedule", c.optim.schedule);
  });
  v.section("train", [&](auto& s) {
    s.field("max_iters", c.train.max_iters);
    s.field("max_seconds", c.train.max_seconds);
    s.field("seed", c.train.seed);
    s.field("threads", c.train.threads);
    s.field("device", c.train.device);
    s.field("cuda_graph", c.train.cuda_graph);
    s.field("tf32", c.train.tf32);
    s.field("conv_algo", c.train.conv_algo);
    s.field("cudnn_algo_search", c.train.cudnn_algo_search);
    s.field("overlap_allreduce", c.train.overlap_allreduce);
    s.field("checkpoint_every", c.train.checkpoint_every);
    s.field("log_every", c.train.log_every);
    s.field("sample_at_end", c.train.sample_at_end);
  });
  v.section("sample", [&](auto& s) {
    s.field("steps", c.sample.steps);
    s.field("step_size", c.sample.step_size);
    s.field("n", c.sample.n);
    s.field("batch_size", c.sample.batch_size);
    s.field("seed", c.sample.seed);
    s.field("p0", c.sample.p0);
  });
}

// Reads one section: every key must be known; each field() converts with a message naming the
// field ("train.max_iters: expected an integer, got \"ten\"").
class SectionReader {
 public:
  SectionReader(const json& root, std::string name) : name_(std::move(name)) {
    if (!root.contains(name_)) return;
    const json& s = root.at(name_);
    ATEBM_CHECK(s.is_object(), "config: \"{}\" must be an object; got {}", name_, s.dump());
    obj_ = &s;
  }
  /// Call after the last field(): rejects keys no field() or radius() asked for.
  void finish() const {
    if (obj_ == nullptr) return;
    for (const auto& [k, v] : obj_->items())
      ATEBM_CHECK(seen_.count(k) > 0, "config: unknown field \"{}.{}\"; known fields of \"{}\": {}", name_, k, name_,
                  fmt::join(seen_, ", "));
  }
  template <typename T>
  void field(const char* key, T& out) {
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
      static_assert(std::is_same_v<T, json>);  // dataset specs: checked by validate()
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

// Fills a TrainConfig from the root object (unknown top-level keys are checked before, by name).
class Reader {
 public:
  explicit Reader(const json& root) : root_(root) {}
  void top(const char* key, std::string& out) {
    if (!root_.contains(key)) return;
    check(root_.at(key).is_string(), key, "a string", root_.at(key));
    out = root_.at(key).get<std::string>();
  }
  void model(const char* key, json& out) {
    ATEBM_CHECK(root_.contains(key), "config: \"{}\" is missing; expected a model config such as "
                                     "{{\"arch\": \"resnet\", ...}} (see nn/models/model_config.h)", key);
    out = nn::complete_config(root_.at(key));
  }
  template <typename Fields>
  void section(const char* name, Fields&& fields) {
    SectionReader s(root_, name);
    fields(s);
    s.finish();
  }

 private:
  const json& root_;
};

// Builds the JSON object of one section; radii are written as "inf" when infinite.
struct SectionWriter {
  json obj = json::object();
  template <typename T>
  void field(const char* key, const T& value) { obj[key] = value; }
  void radius(const char* key, double r) { obj[key] = std::isinf(r) ? json("inf") : json(r); }
};

// Builds the whole config object (what RUN/config.json holds).
struct Writer {
  void top(const char* key, const std::string& value) { root[key] = value; }
  void model(const char* key, const json& m) { root[key] = nn::complete_config(m); }
  template <typename Fields>
  void section(const char* name, Fields&& fields) {
    SectionWriter s;
    fields(s);
    root[name] = std::move(s.obj);
  }
  json root;
};

// Collects the top-level names ("preset", "model", the sections) without touching any field.
struct TopLevelNames {
  void top(const char* key, const std::string&) { names.insert(key); }
  void model(const char* key, const json&) { names.insert(key); }
  template <typename Fields>
  void section(const char* name, Fields&&) { names.insert(name); }
  std::set<std::string> names;
};

const std::set<std::string>& top_level_names() {
  static const std::set<std::string> names = [] {
    const TrainConfig defaults;
    TopLevelNames v;
    visit_fields(defaults, v);
    return v.names;
  }();
  return names;
}

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
  try {
    (void)conv_algo_from_name(c.train.conv_algo);
  } catch (const Error&) {
    check(false, "train.conv_algo", "\"cudnn\", \"implicit_gemm\" or \"implicit_gemm_pipelined\"", c.train.conv_algo);
  }
  try {
    (void)cudnn_algo_search_from_name(c.train.cudnn_algo_search);
  } catch (const Error&) {
    check(false, "train.cudnn_algo_search", "\"heuristic\" or \"measured\"", c.train.cudnn_algo_search);
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
  const std::set<std::string>& sections = top_level_names();
  for (const auto& [k, v] : j.items())
    ATEBM_CHECK(sections.count(k) > 0, "config: unknown field \"{}\"; known fields: {}", k, fmt::join(sections, ", "));
  TrainConfig c;
  Reader reader(j);
  visit_fields(c, reader);
  validate(c);
  return c;
}

json train_config_to_json(const TrainConfig& c) {
  Writer writer;
  visit_fields(c, writer);
  return std::move(writer.root);
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
