#include "at_ebm/method/pgd_graph.h"

#include <fmt/format.h>

#include <string>

#include "engine/factories.h"
#include "ops/math_mode.h"
#include "ops/ops.h"
#ifdef ATEBM_WITH_CUDA
#include "engine/cuda/cuda_graph.h"
#endif

namespace atebm::at_ebm {

struct GraphedPgd::Graph {
  std::string key;  // shape, dtype, device and every option the captured loop depends on
  bool warmed_up = false;  // the key ran once eagerly (and passed its checks)
  Tensor x, x0;     // the loop's fixed input/output: the iterate and the ball's centre
  Tensor first_scores;  // output too: f at the start, from step 1
#ifdef ATEBM_WITH_CUDA
  std::unique_ptr<cuda::CudaGraph> graph;
#endif
};

GraphedPgd::GraphedPgd(ScoreFn f, nn::NamedTensors params) : f_(std::move(f)), params_(std::move(params)) {}
GraphedPgd::~GraphedPgd() = default;

Tensor GraphedPgd::run(const Tensor& start, const PgdOptions& opt, Generator& gen) {
  return run_scored(start, opt, gen).x;
}

PgdResult GraphedPgd::run_scored(const Tensor& start, const PgdOptions& opt, Generator& gen) {
  last_replayed_ = false;
#ifdef ATEBM_WITH_CUDA
  const bool graphable = start.defined() && start.device().is_cuda() && !opt.random_start && !opt.mask.defined() &&
                         opt.steps > 0;
  if (!graphable) return pgd_scored(f_, start, opt, params_, gen);
  // The math switches too: the captured cuBLAS/cuDNN calls keep the mode they were recorded with.
  const std::string key =
      fmt::format("{} {} {} | {} {} {} {} {} {} {} | {} {} {}", shape_str(start.shape()), dtype_name(start.dtype()),
                  start.device(), opt.steps, opt.step_size, opt.eps, static_cast<int>(opt.norm), opt.descent, opt.lo,
                  opt.hi, allow_tf32(), static_cast<int>(conv_algo()), static_cast<int>(cudnn_algo_search()));
  if (!graph_ || graph_->key != key) {
    graph_.reset();  // frees the old graph and its pool before the warm-up allocates
    graph_ = std::make_unique<Graph>();
    graph_->key = key;
  }
  Graph& g = *graph_;
  if (!g.warmed_up) {
    PgdResult warm = pgd_scored(f_, start, opt, params_, gen);  // warm-up, and the checks
    g.warmed_up = true;  // only once they passed: later runs of this key skip them
    return warm;
  }
  if (!g.graph) {
    g.x = empty(start.shape(), {.dtype = start.dtype(), .device = start.device()});
    g.x0 = empty(start.shape(), {.dtype = start.dtype(), .device = start.device()});
    copy_into(g.x, start);
    copy_into(g.x0, start);
    auto captured = std::make_unique<cuda::CudaGraph>();
    try {
      FreezeParameters frozen(params_);
      captured->capture_begin();
      for (int64_t k = 0; k < opt.steps; ++k) {
        Tensor scores = pgd_step_(f_, g.x, g.x0, opt);
        if (k == 0) g.first_scores = std::move(scores);  // in the graph's pool, rewritten by each replay
      }
      captured->capture_end();  // recorded, not run: the replay below computes
    } catch (const Error& e) {
      graph_.reset();
      ATEBM_FAIL("capturing {} PGD steps on a {} batch in a CUDA graph failed: {} (an op in the model "
                 "synchronises with the host; train.cuda_graph=false runs the loop eagerly)",
                 opt.steps, shape_str(start.shape()), e.what());
    }
    g.graph = std::move(captured);
  } else {
    copy_into(g.x, start);
    copy_into(g.x0, start);
  }
  g.graph->replay();
  last_replayed_ = true;
  return {clone(g.x), clone(g.first_scores)};  // both are overwritten by the next run
#else
  return pgd_scored(f_, start, opt, params_, gen);
#endif
}

}  // namespace atebm::at_ebm
