#pragma once
// The training loop of the method: progressive binary adversarial training (Algorithms 1 and 2).
// One iteration:
//   real ← next p_data batch (m images)         p0 ← next p0 batch (m images)
//   fake ← PGD ascent from p0, K steps of λ     (K from the level schedule; parameters frozen)
//   [real ← PGD descent from real, indist_attack.steps steps]   (the official recipe)
//   loss ← BCE(f(real) → 1, f(fake) → 0) + γ·R1(real)   (R1 lazily every N iterations, ×N)
//   optimiser step (Adam betas (0, 0.99) or SGD), BN in eval mode throughout
//   one JSON line in RUN/metrics.jsonl; level schedule updated with this batch's AUC
// Every train.checkpoint_every iterations and at the end: RUN/model.safetensors, RUN/state.safetensors
// (train_state.h), RUN/config.json, each written atomically. A run reopened with resume = true
// continues bit for bit (same thread count): same weights, optimiser moments, K, AUC window,
// data positions and random streams.
// A non-finite loss or parameter stops training with an error naming the iteration; nothing is
// written after it, so the last checkpoint stays as it was.
#include <atomic>
#include <memory>
#include <string>

#include "at_ebm/train/train_config.h"

namespace atebm::at_ebm {

struct TrainResult {
  int64_t iterations = 0;   // total, including before a resume
  int64_t k = 0;            // K at the end
  double seconds = 0;       // training time, including before a resume
  std::string stop_reason;  // "max_iters", "max_seconds", "stopped"
  std::string samples_png;  // where the end-of-run sample grid went ("" if none)
};

struct TrainerOptions {
  /// Progress on stderr: a live line when stderr is a terminal, else a line every log_every.
  bool progress = true;
};

class Trainer {
 public:
  /// Fresh run: creates `run_dir` (which must not already hold a state.safetensors) and writes
  /// config.json. Resume: reads run_dir/state.safetensors; `cfg` must be the run's config.
  Trainer(TrainConfig cfg, std::string run_dir, bool resume, TrainerOptions opt = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  TrainResult run();

  /// Asks every running trainer to stop after its current iteration (and checkpoint). Safe to
  /// call from a signal handler.
  static void request_stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Reads RUN/config.json into a config (with validation).
TrainConfig load_run_config(const std::string& run_dir);

}  // namespace atebm::at_ebm
