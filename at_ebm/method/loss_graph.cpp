#include "at_ebm/method/loss_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "ops/math_mode.h"
#include "ops/ops.h"
#ifdef ATEBM_WITH_CUDA
#include "engine/cuda/cuda_graph.h"
#endif

namespace atebm::at_ebm {
namespace {

// The values of t, without history (the returned terms), copied so that a later replay cannot
// change them.
LossTerms values_of(const LossTerms& t) {
  auto copy = [](const Tensor& x) { return x.defined() ? clone(detach(x)) : Tensor(); };
  NoGradGuard no_grad;
  return {copy(t.loss), copy(t.bce), copy(t.r1), copy(t.logits_real), copy(t.logits_fake)};
}

// zero_grad, the loss, backward: the eager step (and the warm-up of a key).
LossTerms eager_step(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& real, const Tensor& fake,
                     double r1_weight, bool compute_r1) {
  for (auto [name, p] : params) p.set_grad(Tensor());  // p is a handle: the copy clears the original
  const LossTerms t = adversarial_loss(f, real, fake, r1_weight, compute_r1);
  backward(t.loss);
  return values_of(t);
}

}  // namespace

struct GraphedLossStep::Graph {
  std::string key;  // both shapes, dtype, device, r1_weight, compute_r1 and the math switches
  bool warmed_up = false;  // the key ran once eagerly (and passed its checks)
  Tensor real, fake;           // the fixed inputs
  LossTerms terms;             // the captured terms (without history), rewritten by each replay
  std::vector<Tensor> grads;   // params_[i]'s captured gradient (undefined: the loss does not reach it)
#ifdef ATEBM_WITH_CUDA
  std::unique_ptr<cuda::CudaGraph> graph;
#endif
};

GraphedLossStep::GraphedLossStep(ScoreFn f, nn::NamedTensors params) : f_(std::move(f)), params_(std::move(params)) {}
GraphedLossStep::~GraphedLossStep() = default;

LossTerms GraphedLossStep::run(const Tensor& real, const Tensor& fake, double r1_weight, bool compute_r1) {
  last_replayed_ = false;
#ifdef ATEBM_WITH_CUDA
  const bool graphable = real.defined() && fake.defined() && real.device().is_cuda() && fake.device() == real.device();
  if (!graphable) return eager_step(f_, params_, real, fake, r1_weight, compute_r1);
  const std::string key =
      fmt::format("{} {} {} {} | {} {} | {} {} {}", shape_str(real.shape()), shape_str(fake.shape()),
                  dtype_name(real.dtype()), real.device(), r1_weight, compute_r1, allow_tf32(),
                  static_cast<int>(conv_algo()), static_cast<int>(cudnn_algo_search()));
  auto found = std::find_if(graphs_.begin(), graphs_.end(), [&](const auto& g) { return g->key == key; });
  if (found == graphs_.end()) {
    if (graphs_.size() == 2) graphs_.erase(graphs_.begin());  // the older one, and its pool
    graphs_.push_back(std::make_unique<Graph>());
    graphs_.back()->key = key;
  } else {
    std::rotate(found, found + 1, graphs_.end());  // most recently used last
  }
  Graph& g = *graphs_.back();
  if (!g.warmed_up) {
    LossTerms warm = eager_step(f_, params_, real, fake, r1_weight, compute_r1);  // warm-up, and the checks
    g.warmed_up = true;
    return warm;
  }
  if (!g.graph) {
    g.real = empty(real.shape(), {.dtype = real.dtype(), .device = real.device()});
    g.fake = empty(fake.shape(), {.dtype = fake.dtype(), .device = fake.device()});
    copy_into(g.real, real);
    copy_into(g.fake, fake);
    for (auto [name, p] : params_) p.set_grad(Tensor());  // backward assigns fresh gradients
    auto captured = std::make_unique<cuda::CudaGraph>();
    try {
      captured->capture_begin();
      const LossTerms t = adversarial_loss(f_, g.real, g.fake, r1_weight, compute_r1);
      backward(t.loss);
      g.terms = {detach(t.loss), detach(t.bce), t.r1.defined() ? detach(t.r1) : Tensor(), detach(t.logits_real),
                 detach(t.logits_fake)};
      captured->capture_end();  // recorded, not run: the replay below computes
    } catch (const Error& e) {
      graphs_.pop_back();
      ATEBM_FAIL("capturing the loss step (adversarial loss{} and backward) on batches {} and {} in a CUDA graph "
                 "failed: {} (an op in the model synchronises with the host; train.cuda_graph=false runs it eagerly)",
                 compute_r1 ? " with R1" : "", shape_str(real.shape()), shape_str(fake.shape()), e.what());
    }
    g.grads.clear();
    for (const auto& [name, p] : params_) g.grads.push_back(p.grad());
    g.graph = std::move(captured);
  } else {
    copy_into(g.real, real);
    copy_into(g.fake, fake);
  }
  g.graph->replay();
  // The gradients are the graph's tensors, just rewritten (zero_grad() in between dropped them).
  for (size_t i = 0; i < params_.size(); ++i) params_[i].second.set_grad(g.grads[i]);
  last_replayed_ = true;
  return values_of(g.terms);
#else
  return eager_step(f_, params_, real, fake, r1_weight, compute_r1);
#endif
}

}  // namespace atebm::at_ebm
