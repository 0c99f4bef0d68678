#pragma once
// The loss half of a training iteration through a CUDA graph: adversarial_loss (both forwards,
// R1's gradient with its graph) and backward() through all of it (R1's double backward included)
// recorded once and replayed, so it costs two copies and one graph launch instead of thousands
// of kernel launches from the host. The optimiser step stays eager: Adam's fused kernel takes
// the bias corrections of the step count as host scalars, which a graph would freeze, and it is
// one launch per parameter.
//
//   GraphedLossStep loss_step(f, params);
//   LossTerms t = loss_step.run(real, fake, r1_weight, compute_r1);
//   optimizer.step();
//
// run() means exactly the eager
//   for (p : params) p.set_grad(Tensor());            // zero_grad()
//   LossTerms t = adversarial_loss(f, real, fake, r1_weight, compute_r1);
//   backward(t.loss);
// except that the terms come back as copies without history (values only: nothing can be
// differentiated through them), and that on CUDA, after a replay, every parameter's grad() is
// the graph's own gradient tensor: the next run() overwrites it, so use it before then (the
// optimiser step does).
//
// On CUDA, per key (both batches' shapes, dtype and device, r1_weight, compute_r1, and the math
// switches of ops/math_mode.h, which the captured cuBLAS/cuDNN calls keep): the first run is
// eager (it warms up handles, algorithms, workspaces and the allocator's cache), the second
// captures and replays, later ones copy the batches in and replay. Two keys live at once (lazy
// R1 alternates between an iteration with R1 and one without); a third replaces the older, and
// its private memory pool with it. The parameters are read at their addresses on every replay,
// so the optimiser's in-place step between runs is seen.
// Falls back to the eager lines above on the CPU and without the CUDA backend. The model must
// draw no random numbers (a replay repeats the captured kernels with their captured arguments)
// and must not synchronise with the host in its forward or backward (then the capture fails
// with an error that says so). Gradient hooks of several ranks (nn/dist/grad_sync.h) are not
// part of it: the trainer uses it for one rank only.
#include <memory>
#include <vector>

#include "at_ebm/method/losses.h"
#include "nn/module.h"

namespace atebm::at_ebm {

class GraphedLossStep {
 public:
  GraphedLossStep(ScoreFn f, nn::NamedTensors params);
  ~GraphedLossStep();
  GraphedLossStep(const GraphedLossStep&) = delete;
  GraphedLossStep& operator=(const GraphedLossStep&) = delete;

  /// zero_grad, adversarial_loss(f, real, fake, r1_weight, compute_r1), backward (see the top).
  LossTerms run(const Tensor& real, const Tensor& fake, double r1_weight, bool compute_r1);

  /// Whether the last run() replayed a captured graph (for tests and logs).
  bool last_run_replayed() const { return last_replayed_; }

 private:
  struct Graph;
  ScoreFn f_;
  nn::NamedTensors params_;
  std::vector<std::unique_ptr<Graph>> graphs_;  // at most two, the most recently used last
  bool last_replayed_ = false;
};

}  // namespace atebm::at_ebm
