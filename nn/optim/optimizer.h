#pragma once
// Optimizer: the shared half of every optimiser. It owns parameter groups of named leaves
// (names as Module::named_parameters() gives them, e.g. "layer1.0.conv1.weight"), runs the
// update of each parameter that has a gradient under NoGradGuard, and exports / imports the
// per-parameter state as named tensors so that a checkpoint can hold it:
//   "<kind>.<slot>.<parameter>"   e.g. "adam.exp_avg.layer1.0.conv1.weight"
//   "<kind>.step.<parameter>"     an int64 0-dim step counter (optimisers that count steps)
// A parameter's state appears only once it has been updated (PyTorch's lazy state), and it is
// all-or-nothing per parameter. Restoring exported state and stepping reproduces an
// uninterrupted run bit for bit (hyperparameters come from the constructor, the lr from the
// caller, e.g. an LrSchedule evaluated at the iteration).
//
//   Adam opt(model.named_parameters(), {.lr = 5e-4, .beta1 = 0, .beta2 = 0.99});
//   for (...) { opt.zero_grad(); backward(loss(model)); opt.step(); }
#include <optional>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "nn/module.h"

namespace atebm::nn {

/// Parameters updated with the same hyperparameters.
struct ParamGroup {
  NamedTensors params;
  /// This group's learning rate is the optimiser's lr() times lr_scale (so schedules apply to all).
  double lr_scale = 1.0;
  /// Unset: the optimiser's weight decay (set 0 to exempt biases and norms, for example).
  std::optional<double> weight_decay;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// Updates every parameter that has a gradient (others are skipped, their state untouched).
  void step();
  /// Drops every parameter's gradient (set_grad(Tensor())): the next backward starts afresh.
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  /// State prefix: "sgd", "adam".
  virtual std::string kind() const = 0;

  /// Copies of the state (later steps do not change them), in group/parameter order.
  NamedTensors state_tensors() const;
  /// Replaces the whole state with `state` (parameters absent from it get fresh state). Every
  /// problem (unknown key or parameter, wrong shape or dtype, incomplete parameter, duplicate)
  /// is reported in one error, and then nothing is changed. Values are copied to each
  /// parameter's dtype and device.
  void load_state_tensors(const NamedTensors& state);

 protected:
  /// `who` names the optimiser in error messages.
  Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay, std::string who);

  /// What an optimiser keeps per parameter: an optional step count and buffers shaped like it.
  struct ParamState {
    bool initialized = false;
    int64_t step = 0;
    Tensors buffers;  // one per buffer_slots() entry, contiguous, the parameter's dtype/device
  };
  /// The hyperparameters one update sees after group overrides.
  struct StepContext {
    const std::string& name;
    double lr;
    double weight_decay;
  };
  /// Names of the per-parameter buffers, in order ("exp_avg", "exp_avg_sq").
  virtual std::vector<std::string> buffer_slots() const = 0;
  /// Whether "<kind>.step.<parameter>" is part of the state.
  virtual bool counts_steps() const = 0;
  /// Updates p in place from g (grad mode is off). Initialises `st` on first use.
  virtual void update(const StepContext& ctx, const Tensor& p, const Tensor& g, ParamState& st) = 0;

  const std::string& who() const { return who_; }

 private:
  std::vector<ParamGroup> groups_;
  std::vector<ParamState> state_;  // flat: group by group, parameter by parameter
  double lr_;
  double weight_decay_;
  std::string who_;
};

/// A contiguous copy of t's values (same dtype and device, no autograd history).
Tensor clone_data(const Tensor& t);

}  // namespace atebm::nn
