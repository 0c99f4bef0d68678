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
//
// Data parallel (TrainerOptions::comm with N ranks, e.g. under mpirun): data.batch_size is the
// per-rank batch m, the global batch is N·m. Every rank's loaders produce the same global batch
// sequence (same seeds) and each rank keeps its own slice of m rows of every p_data and p0
// batch; PGD, the loss and the R1 double backward run locally; the parameter gradients are then
// averaged over ranks (nn/dist/grad_sync.h), so all ranks step identically. The metrics (loss,
// AUCs from every rank's logits, distances) and therefore the K-level decisions are computed
// from all ranks' values, so every rank switches K at the same iteration. Rank 0 alone writes
// config.json, metrics.jsonl, checkpoints and progress; the state file holds every rank's
// generator, and a resume needs the same number of ranks.
#include <atomic>
#include <memory>
#include <string>

#include "at_ebm/train/train_config.h"
#include "nn/dist/communicator.h"

namespace atebm::at_ebm {

struct TrainResult {
  int64_t iterations = 0;   // total, including before a resume
  int64_t k = 0;            // K at the end
  double seconds = 0;       // training time, including before a resume
  std::string stop_reason;  // "max_iters", "max_seconds", "stopped"
  // Gradient all-reduce of this run (all 0 for one rank; nn/dist/grad_sync.h):
  double allreduce_seconds = 0;       // waiting for it after backward (the part not hidden)
  double allreduce_hook_seconds = 0;  // packing and starting buckets inside backward
  int64_t buckets_overlapped = 0;     // buckets started while backward still ran
  int64_t buckets_total = 0;          // buckets all-reduced (per iteration × iterations)
  std::string samples_png;  // where the end-of-run sample grid went ("" if none)
};

struct TrainerOptions {
  /// Progress on stderr: a live line when stderr is a terminal, else a line every log_every.
  bool progress = true;
  /// The data-parallel job this trainer is one rank of; null: single process.
  std::shared_ptr<nn::Communicator> comm;
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
