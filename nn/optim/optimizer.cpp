#include "nn/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"

namespace atebm::nn {

Tensor clone_data(const Tensor& t) { return copy_to(t, t.device(), t.dtype()); }

Optimizer::Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay, std::string who)
    : groups_(std::move(groups)), lr_(lr), weight_decay_(weight_decay), who_(std::move(who)) {
  ATEBM_CHECK(std::isfinite(lr) && lr >= 0, "{}: learning rate must be finite and >= 0, got {}", who_, lr);
  ATEBM_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, "{}: weight_decay must be >= 0, got {}", who_,
              weight_decay);
  std::set<std::string> names;
  std::set<const TensorImpl*> impls;
  size_t n = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    ATEBM_CHECK(std::isfinite(g.lr_scale) && g.lr_scale >= 0, "{}: group {} has lr_scale {}", who_, gi, g.lr_scale);
    ATEBM_CHECK(!g.weight_decay || *g.weight_decay >= 0, "{}: group {} has weight_decay {}", who_, gi,
                *g.weight_decay);
    for (const auto& [name, p] : g.params) {
      ATEBM_CHECK(!name.empty(), "{}: a parameter has an empty name", who_);
      ATEBM_CHECK(p.defined(), "{}: parameter '{}' is an undefined tensor", who_, name);
      ATEBM_CHECK(is_floating(p.dtype()), "{}: parameter '{}' has dtype {}; only float tensors can be optimised",
                  who_, name, p.dtype());
      ATEBM_CHECK(p.is_leaf(), "{}: parameter '{}' is not a leaf (it has a grad_fn)", who_, name);
      ATEBM_CHECK(names.insert(name).second, "{}: parameter name '{}' appears twice", who_, name);
      ATEBM_CHECK(impls.insert(p.impl()).second, "{}: parameter '{}' is the same tensor as an earlier one", who_,
                  name);
      ++n;
    }
  }
  state_.resize(n);
}

void Optimizer::set_lr(double lr) {
  ATEBM_CHECK(std::isfinite(lr) && lr >= 0, "{}: learning rate must be finite and >= 0, got {}", who_, lr);
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (const ParamGroup& g : groups_)
    for (auto [name, p] : g.params) p.set_grad(Tensor());  // p is a handle: the copy clears the original
}

void Optimizer::step() {
  NoGradGuard no_grad;
  size_t k = 0;
  for (const ParamGroup& group : groups_) {
    const double lr = lr_ * group.lr_scale, wd = group.weight_decay.value_or(weight_decay_);
    for (const auto& [name, p] : group.params) {
      ParamState& st = state_[k++];
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      // Module::to() replaces a parameter's data behind its handle; moments made before then
      // would no longer match it.
      for (const Tensor& b : st.buffers) {
        ATEBM_CHECK(b.shape() == p.shape() && b.dtype() == p.dtype() && b.device() == p.device(),
                    "{}: the state of '{}' is {} {} on {} but the parameter is now {} {} on {}; create the "
                    "optimiser after moving or converting the model",
                    who_, name, b.dtype(), shape_str(b.shape()), b.device(), p.dtype(), shape_str(p.shape()),
                    p.device());
      }
      update(StepContext{name, lr, wd}, p, g, st);
    }
  }
}

NamedTensors Optimizer::state_tensors() const {
  NamedTensors out;
  const std::vector<std::string> slots = buffer_slots();
  const std::string pre = kind() + ".";
  size_t k = 0;
  for (const ParamGroup& group : groups_) {
    for (const auto& [name, p] : group.params) {
      const ParamState& st = state_[k++];
      if (!st.initialized) continue;
      if (counts_steps()) out.emplace_back(pre + "step." + name, scalar_tensor(double(st.step), {.dtype = DType::Int64}));
      for (size_t s = 0; s < slots.size(); ++s) out.emplace_back(pre + slots[s] + "." + name, clone_data(st.buffers[s]));
    }
  }
  return out;
}

void Optimizer::load_state_tensors(const NamedTensors& state) {
  const std::vector<std::string> slots = buffer_slots();
  const std::string pre = kind() + ".";
  // Every parameter by name → (flat index, tensor).
  std::map<std::string, std::pair<size_t, Tensor>> params;
  size_t k = 0;
  for (const ParamGroup& group : groups_)
    for (const auto& [name, p] : group.params) params.emplace(name, std::pair{k++, p});

  std::vector<std::string> problems;
  // Per parameter: slot name → value, collected before anything is changed.
  std::map<std::string, std::map<std::string, Tensor>> found;
  std::set<std::string> seen;
  auto slot_list = [&] {
    std::string s = counts_steps() ? "step" : "";
    for (const std::string& b : slots) s += (s.empty() ? "" : ", ") + b;
    return s.empty() ? std::string("none: this optimiser keeps no state") : s;
  };
  for (const auto& [key, t] : state) {
    if (!seen.insert(key).second) {
      problems.push_back(fmt::format("'{}' appears twice", key));
      continue;
    }
    const size_t dot = key.find('.', pre.size());
    if (key.compare(0, pre.size(), pre) != 0 || dot == std::string::npos) {
      problems.push_back(fmt::format("unexpected key '{}' (expected {}<slot>.<parameter>)", key, pre));
      continue;
    }
    const std::string slot = key.substr(pre.size(), dot - pre.size());
    const std::string pname = key.substr(dot + 1);
    const bool is_step = counts_steps() && slot == "step";
    if (!is_step && std::find(slots.begin(), slots.end(), slot) == slots.end()) {
      problems.push_back(fmt::format("'{}': unknown slot '{}' (slots: {})", key, slot, slot_list()));
      continue;
    }
    auto it = params.find(pname);
    if (it == params.end()) {
      problems.push_back(fmt::format("'{}': no parameter named '{}'", key, pname));
      continue;
    }
    const Tensor& p = it->second.second;
    if (!t.defined()) {
      problems.push_back(fmt::format("'{}': undefined tensor", key));
      continue;
    }
    if (is_step) {
      const bool ok = t.numel() == 1 && (t.dtype() == DType::Int64 || is_floating(t.dtype()));
      const double v = ok ? t.item() : -1.0;
      if (!ok || v < 0 || v != std::floor(v)) {
        problems.push_back(fmt::format("'{}': expected a one-element step count >= 0, got {} {}", key, t.dtype(),
                                       shape_str(t.shape())));
        continue;
      }
    } else {
      if (t.shape() != p.shape()) {
        problems.push_back(fmt::format("'{}': shape {} but the parameter has shape {}", key, shape_str(t.shape()),
                                       shape_str(p.shape())));
        continue;
      }
      if (!is_floating(t.dtype())) {
        problems.push_back(fmt::format("'{}': dtype {}, expected a float tensor", key, t.dtype()));
        continue;
      }
    }
    found[pname][slot] = t;
  }
  // A parameter's state is all or nothing.
  for (const auto& [pname, have] : found) {
    std::vector<std::string> missing;
    if (counts_steps() && !have.count("step")) missing.push_back(pre + "step." + pname);
    for (const std::string& s : slots)
      if (!have.count(s)) missing.push_back(pre + s + "." + pname);
    if (!missing.empty())
      problems.push_back(fmt::format("parameter '{}' has incomplete state: missing {}", pname, fmt::join(missing, ", ")));
  }
  if (!problems.empty()) {
    ATEBM_FAIL("{}.load_state_tensors: {} problem(s), nothing was loaded:\n  - {}", who_, problems.size(),
               fmt::join(problems, "\n  - "));
  }

  std::vector<ParamState> fresh(state_.size());
  for (const auto& [pname, have] : found) {
    const auto& [idx, p] = params.at(pname);
    ParamState& st = fresh[idx];
    st.initialized = true;
    if (counts_steps()) st.step = static_cast<int64_t>(have.at("step").item());
    for (const std::string& s : slots) st.buffers.push_back(copy_to(have.at(s), p.device(), p.dtype()));
  }
  state_ = std::move(fresh);
}

}  // namespace atebm::nn
