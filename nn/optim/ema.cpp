#include "nn/optim/ema.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "nn/optim/optimizer.h"
#include "ops/inplace.h"

namespace atebm::nn {
namespace {

void check_decay(double decay) {
  ATEBM_CHECK(decay >= 0 && decay <= 1, "Ema: decay must be in [0, 1], got {}", decay);
}

bool same_meta(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.device() == b.device();
}

[[noreturn]] void fail_all(const std::string& what, const std::vector<std::string>& problems) {
  ATEBM_FAIL("{}: {} problem(s), nothing was changed:\n  - {}", what, problems.size(), fmt::join(problems, "\n  - "));
}

}  // namespace

Ema::Ema(NamedTensors params, double decay) : params_(std::move(params)), decay_(decay) {
  check_decay(decay);
  std::set<std::string> names;
  for (const auto& [name, p] : params_) {
    ATEBM_CHECK(p.defined() && is_floating(p.dtype()), "Ema: parameter '{}' must be a defined float tensor", name);
    ATEBM_CHECK(names.insert(name).second, "Ema: parameter name '{}' appears twice", name);
    shadow_.emplace_back(name, clone_data(p));
  }
}

void Ema::set_decay(double decay) {
  check_decay(decay);
  decay_ = decay;
}

void Ema::update() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    const Tensor& s = shadow_[i].second;
    ATEBM_CHECK(same_meta(p, s),
                "Ema: parameter '{}' is now {} {} on {} but its average is {} {} on {}; create the Ema after moving "
                "or converting the model",
                name, p.dtype(), shape_str(p.shape()), p.device(), s.dtype(), shape_str(s.shape()), s.device());
    lerp_(s, p, 1.0 - decay_);  // s + (1 − decay)·(p − s) = decay·s + (1 − decay)·p
  }
  ++num_updates_;
}

std::vector<size_t> Ema::match(const char* op, const NamedTensors& params) const {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < shadow_.size(); ++i) index.emplace(shadow_[i].first, i);
  std::vector<size_t> out;
  std::vector<std::string> problems;
  for (const auto& [name, p] : params) {
    auto it = index.find(name);
    if (it == index.end()) {
      problems.push_back(fmt::format("'{}' is not tracked by this Ema", name));
      continue;
    }
    const Tensor& s = shadow_[it->second].second;
    if (!p.defined() || !same_meta(p, s)) {
      problems.push_back(fmt::format("'{}': {} but the average is {} {} on {}", name,
                                     p.defined() ? fmt::format("{} {} on {}", p.dtype(), shape_str(p.shape()), p.device())
                                                 : std::string("undefined"),
                                     s.dtype(), shape_str(s.shape()), s.device()));
      continue;
    }
    out.push_back(it->second);
  }
  if (!problems.empty()) fail_all(fmt::format("Ema.{}", op), problems);
  return out;
}

void Ema::copy_to(const NamedTensors& params) const {
  const std::vector<size_t> idx = match("copy_to", params);
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) copy_(params[i].second, shadow_[idx[i]].second);
}

void Ema::swap(const NamedTensors& params) {
  const std::vector<size_t> idx = match("swap", params);
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i].second;
    const Tensor& s = shadow_[idx[i]].second;
    const Tensor tmp = clone_data(p);
    copy_(p, s);
    copy_(s, tmp);
  }
}

NamedTensors Ema::state_tensors() const {
  NamedTensors out;
  for (const auto& [name, s] : shadow_) out.emplace_back("ema.shadow." + name, clone_data(s));
  out.emplace_back("ema.num_updates", scalar_tensor(double(num_updates_), {.dtype = DType::Int64}));
  return out;
}

void Ema::load_state_tensors(const NamedTensors& state) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < shadow_.size(); ++i) index.emplace(shadow_[i].first, i);
  const std::string pre = "ema.shadow.";
  std::vector<std::string> problems;
  std::vector<Tensor> values(shadow_.size());
  std::optional<int64_t> updates;
  std::set<std::string> seen;
  for (const auto& [key, t] : state) {
    if (!seen.insert(key).second) {
      problems.push_back(fmt::format("'{}' appears twice", key));
      continue;
    }
    if (!t.defined()) {
      problems.push_back(fmt::format("'{}': undefined tensor", key));
      continue;
    }
    if (key == "ema.num_updates") {
      const double v = t.numel() == 1 && t.dtype() != DType::Bool ? t.item() : -1.0;
      if (v < 0 || v != std::floor(v)) {
        problems.push_back(fmt::format("'{}': expected a one-element count >= 0, got {} {}", key, t.dtype(),
                                       shape_str(t.shape())));
      } else {
        updates = static_cast<int64_t>(v);
      }
      continue;
    }
    if (key.compare(0, pre.size(), pre) != 0) {
      problems.push_back(fmt::format("unexpected key '{}' (expected ema.shadow.<parameter> or ema.num_updates)", key));
      continue;
    }
    auto it = index.find(key.substr(pre.size()));
    if (it == index.end()) {
      problems.push_back(fmt::format("'{}': no tracked parameter named '{}'", key, key.substr(pre.size())));
      continue;
    }
    const Tensor& s = shadow_[it->second].second;
    if (t.shape() != s.shape() || !is_floating(t.dtype())) {
      problems.push_back(fmt::format("'{}': {} {} but the average is {} {}", key, t.dtype(), shape_str(t.shape()),
                                     s.dtype(), shape_str(s.shape())));
      continue;
    }
    values[it->second] = t;
  }
  for (size_t i = 0; i < shadow_.size(); ++i)
    if (!values[i].defined() && !seen.count(pre + shadow_[i].first))
      problems.push_back(fmt::format("missing '{}{}'", pre, shadow_[i].first));
  if (!updates && !seen.count("ema.num_updates")) problems.push_back("missing 'ema.num_updates'");
  if (!problems.empty()) fail_all("Ema.load_state_tensors", problems);

  NoGradGuard no_grad;
  for (size_t i = 0; i < shadow_.size(); ++i) copy_(shadow_[i].second, values[i]);
  num_updates_ = *updates;
}

EmaScope::EmaScope(Ema& ema) : ema_(ema) { ema_.swap(ema_.params()); }
EmaScope::~EmaScope() { ema_.swap(ema_.params()); }

}  // namespace atebm::nn
