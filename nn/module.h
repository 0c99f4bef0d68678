#pragma once
// Module: the unit of a model. It owns named parameters (leaves that require grad), named
// buffers (state that is saved but not trained, such as BatchNorm's running statistics) and
// named children, so that every tensor has a dotted name like "layer1.0.conv1.weight" — the
// same names as the equivalent PyTorch module, so state dicts move both ways.
//
// Tensors are handles: moving a module to another device or loading a state dict changes the
// data behind the existing handles (set_data), so layers can keep plain Tensor members.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"

namespace atebm::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The layer's computation. Modules of this library map one tensor to one tensor.
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  /// Class name for printing ("Conv2d", "ResNet", ...).
  virtual std::string type_name() const = 0;

  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  /// Parameters then buffers of each module, depth-first in registration order (PyTorch's order).
  NamedTensors state_dict() const;
  /// Copies values by name into this module's tensors. strict: missing and unexpected keys are
  /// errors; shape/dtype mismatches always are. All problems are reported in one error and
  /// nothing is modified when there is any.
  void load_state_dict(const NamedTensors& state, bool strict = true);
  std::vector<std::pair<std::string, Module*>> named_children() const;
  /// Every module in the tree with its dotted name ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules() const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// Moves every parameter and buffer to `device` (handles stay valid).
  void to(Device device);
  /// Converts every floating parameter and buffer to `dtype` (handles stay valid).
  void to(DType dtype);
  void zero_grad();
  int64_t num_parameters() const;
  /// A multi-line summary: the module tree with parameter counts.
  std::string summary() const;

 protected:
  /// Registers a trainable tensor; it becomes a leaf that requires grad.
  Tensor register_parameter(std::string name, Tensor t);
  Tensor register_buffer(std::string name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> m) {
    children_.emplace_back(std::move(name), m);
    return m;
  }
  /// Called by train(): modules that behave differently in training (BatchNorm) override it.
  virtual void on_train(bool on) { (void)on; }

 private:
  void collect(const std::string& prefix, bool params, NamedTensors& out) const;
  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

/// Replaces the data of `t` (storage, shape, strides, dtype) with that of `src`, keeping the
/// handle and its requires_grad flag: what to(), load_state_dict() and optimisers rely on.
void set_data(const Tensor& t, const Tensor& src);

/// PyTorch's default initialisation of Conv2d/Linear: weight ~ kaiming_uniform(a = √5), i.e.
/// U(±1/√fan_in), and bias ~ U(±1/√fan_in), with fan_in = in_features · kernel area.
Tensor default_weight_init(const Shape& shape, int64_t fan_in, DType dtype, Generator& gen);
Tensor default_bias_init(int64_t n, int64_t fan_in, DType dtype, Generator& gen);

}  // namespace atebm::nn
