#include "nn/module.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "nn/io/state_dict.h"

namespace atebm::nn {

void set_data(const Tensor& t, const Tensor& src) {
  ATEBM_CHECK(t.defined() && src.defined(), "set_data: undefined tensor");
  ATEBM_CHECK(t.is_leaf(), "set_data: only leaves can have their data replaced (shape {})", shape_str(t.shape()));
  TensorImpl* impl = t.impl();
  impl->storage = src.storage();
  impl->shape = src.shape();
  impl->strides = src.strides();
  impl->offset = src.offset();
  impl->dtype = src.dtype();
  impl->grad.reset();
  impl->storage->bump_version();
}

Tensor Module::register_parameter(std::string name, Tensor t) {
  ATEBM_CHECK(t.defined() && is_floating(t.dtype()), "register_parameter '{}': expected a float tensor", name);
  t.set_requires_grad(true);
  params_.emplace_back(std::move(name), t);
  return t;
}

Tensor Module::register_buffer(std::string name, Tensor t) {
  ATEBM_CHECK(t.defined(), "register_buffer '{}': undefined tensor", name);
  buffers_.emplace_back(std::move(name), t);
  return t;
}

void Module::collect(const std::string& prefix, bool params, NamedTensors& out) const {
  for (const auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

NamedTensors Module::state_dict() const {
  // PyTorch's order: each module's own parameters, then its buffers, then its children.
  NamedTensors out;
  for (const auto& [name, mod] : named_modules()) {
    const std::string prefix = name.empty() ? "" : name + ".";
    for (const auto& [n, t] : mod->params_) out.emplace_back(prefix + n, t);
    for (const auto& [n, t] : mod->buffers_) out.emplace_back(prefix + n, t);
  }
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() const {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& [n, c] : children_) out.emplace_back(n, c.get());
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, Module*>> out{{"", const_cast<Module*>(this)}};
  for (const auto& [n, c] : children_)
    for (const auto& [sub, m] : c->named_modules()) out.emplace_back(sub.empty() ? n : n + "." + sub, m);
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) { load_into(state, state_dict(), strict); }

void Module::train(bool on) {
  for (const auto& [n, m] : named_modules()) {
    m->training_ = on;
    m->on_train(on);
  }
}

void Module::to(Device device) {
  for (const auto& [n, t] : state_dict())
    if (t.device() != device) set_data(t, copy_to(t, device, t.dtype()));
}

void Module::to(DType dtype) {
  for (const auto& [n, t] : state_dict())
    if (is_floating(t.dtype()) && t.dtype() != dtype) set_data(t, copy_to(t, t.device(), dtype));
}

void Module::zero_grad() {
  for (auto& [n, p] : named_parameters()) p.set_grad(Tensor());
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

std::string Module::summary() const {
  std::string out;
  for (const auto& [name, m] : named_modules()) {
    const int64_t depth = name.empty() ? 0 : 1 + static_cast<int64_t>(std::count(name.begin(), name.end(), '.'));
    int64_t own = 0;
    for (const auto& [n, p] : m->params_) own += p.numel();
    out += fmt::format("{:{}}{}{}{}\n", "", 2 * depth, name.empty() ? "" : name + ": ", m->type_name(),
                       own > 0 ? fmt::format(" ({} params)", own) : "");
  }
  out += fmt::format("total parameters: {}\n", num_parameters());
  return out;
}

Tensor default_weight_init(const Shape& shape, int64_t fan_in, DType dtype, Generator& gen) {
  ATEBM_CHECK(fan_in > 0, "default_weight_init: fan_in must be positive, got {}", fan_in);
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return uniform(shape, -bound, bound, {.dtype = dtype}, &gen);
}

Tensor default_bias_init(int64_t n, int64_t fan_in, DType dtype, Generator& gen) {
  return default_weight_init({n}, fan_in, dtype, gen);
}

}  // namespace atebm::nn
