#pragma once
// PGD through a CUDA graph: the K steps of forward + input gradient + PGD update (the inner loop
// of training and of sampling) recorded once and replayed, so a step costs one graph launch
// instead of hundreds of kernel launches from the host.
//
//   GraphedPgd attack(f, params);
//   fake = attack.run(x0, opt, gen);   // = pgd(f, x0, opt, params, gen), see pgd.h
//
// On CUDA, per (shape, dtype, device, options): the first run is eager (it warms up cuBLAS /
// cuDNN handles, algorithms, workspaces and the allocator's cache), the second captures the loop
// on fixed input/output tensors and replays it, later ones copy the start in and replay. Another
// key (K grows during training, the last sampling batch is shorter) replaces the graph: one lives
// at a time, so its private memory pool is the only one held. The model's parameters are read
// at their addresses on every replay, so an optimiser step in place between runs is seen.
// Falls back to plain pgd() on the CPU, without the CUDA backend, and for options a graph cannot
// hold (random start: a fresh draw per run; a mask; K = 0).
#include <memory>

#include "at_ebm/method/pgd.h"

namespace atebm::at_ebm {

class GraphedPgd {
 public:
  GraphedPgd(ScoreFn f, nn::NamedTensors params);
  ~GraphedPgd();
  GraphedPgd(const GraphedPgd&) = delete;
  GraphedPgd& operator=(const GraphedPgd&) = delete;

  /// pgd(f, start, opt, params, gen) (the same checks), returning a new tensor. `gen` is used
  /// only when the call falls back to pgd() (random start).
  Tensor run(const Tensor& start, const PgdOptions& opt, Generator& gen);

  /// The same as pgd_scored(): also f at the first iterate, recorded in the graph too.
  PgdResult run_scored(const Tensor& start, const PgdOptions& opt, Generator& gen);

  /// Whether the last run() replayed a captured graph (for tests and logs).
  bool last_run_replayed() const { return last_replayed_; }

 private:
  struct Graph;
  ScoreFn f_;
  nn::NamedTensors params_;
  std::unique_ptr<Graph> graph_;
  bool last_replayed_ = false;
};

}  // namespace atebm::at_ebm
