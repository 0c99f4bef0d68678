#pragma once
// Exponential moving average of parameters, for sampling and evaluation with smoother weights:
//   shadow ← decay·shadow + (1 − decay)·param        after every optimiser step
// computed as lerp(shadow, param, 1 − decay). The shadow starts as a copy of the parameters.
//
//   Ema ema(model.named_parameters(), 0.999);
//   ... opt.step(); ema.update();
//   { EmaScope with_ema(ema); sample(model); }   // EMA weights inside the scope only
//
// State: "ema.shadow.<name>" per parameter and "ema.num_updates" (int64 0-dim).
#include <cstdint>

#include "nn/module.h"

namespace atebm::nn {

class Ema {
 public:
  /// Tracks `params` (handles: later updates read their current values).
  Ema(NamedTensors params, double decay);

  /// shadow ← decay·shadow + (1 − decay)·param for every tracked parameter.
  void update();
  double decay() const { return decay_; }
  void set_decay(double decay);
  int64_t num_updates() const { return num_updates_; }
  /// The averaged values, by name (live tensors: copy them to keep a snapshot).
  const NamedTensors& shadow() const { return shadow_; }
  /// The tracked parameters.
  const NamedTensors& params() const { return params_; }

  /// Writes the averaged values into `params` (by name; every name must be tracked, shapes must
  /// match). For evaluating a copy of the model with EMA weights.
  void copy_to(const NamedTensors& params) const;
  /// Exchanges the values of `params` and the shadow, by name: calling it twice restores both.
  void swap(const NamedTensors& params);

  NamedTensors state_tensors() const;
  /// Validates every name, shape and dtype first, reports all problems in one error, and only
  /// then copies. The state must cover every tracked parameter.
  void load_state_tensors(const NamedTensors& state);

 private:
  /// Index into shadow_ for each of `params`, or one error listing every unknown name or mismatch.
  std::vector<size_t> match(const char* op, const NamedTensors& params) const;

  NamedTensors params_;
  NamedTensors shadow_;
  double decay_;
  int64_t num_updates_ = 0;
};

/// Swaps the EMA weights into the tracked parameters for the scope, and back on exit.
class EmaScope {
 public:
  explicit EmaScope(Ema& ema);
  ~EmaScope();
  EmaScope(const EmaScope&) = delete;
  EmaScope& operator=(const EmaScope&) = delete;

 private:
  Ema& ema_;
};

}  // namespace atebm::nn
