// GraphedPgd: on the CPU it is exactly pgd() (the trainer and the sampler use it on every
// device); on CUDA the warm-up run is eager, the second run captures and replays, later ones
// replay, and every result equals pgd()'s — also after the weights change in place and when
// the key (K) changes. The CUDA half skips without a GPU; its sequence also runs on the CPU in
// every build (nothing replays there), which proves that the differences it relies on to catch
// a stale replay (PGD moves the images, the new weights and the new K change the result) are there.
// run_scored's f at the start is checked the same way (another start, other scores).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/expect.h"
#include "common/gpu_test.h"
#include "common/tiny_models.h"
#include "at_ebm/method/pgd_graph.h"
#include "engine/device.h"
#include "nn/models/model_config.h"
#include "ops/inplace.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::at_ebm;

namespace {

using Model = atebm::test::ScoredModel;
using atebm::test::scored_tiny_resnet;

using atebm::test::max_abs_diff;

}  // namespace

TEST(GraphedPgd, OnTheCpuIsExactlyPgd) {
  Model m = scored_tiny_resnet(Device::cpu());
  const nn::NamedTensors params = m.net->named_parameters();
  GraphedPgd loop(m.f, params);
  Generator data(3), g1(0), g2(0);
  const Tensor start = rand({4, 1, 8, 8}, {}, &data);
  for (const PgdOptions& opt : {PgdOptions{.steps = 3, .step_size = 0.3},
                                PgdOptions{.steps = 2, .step_size = 0.2, .eps = 0.25, .descent = true},
                                PgdOptions{.steps = 2, .step_size = 0.2, .eps = 0.3, .random_start = true}}) {
    const Tensor ours = loop.run(start, opt, g1);
    const Tensor ref = pgd(m.f, start, opt, params, g2);
    EXPECT_EQ(ours.to_vector<float>(), ref.to_vector<float>());
    EXPECT_FALSE(loop.last_run_replayed());
  }
  EXPECT_GT(max_abs_diff(loop.run(start, {.steps = 3, .step_size = 0.3}, g1), start), 1e-2) << "PGD did not move";
}

namespace {

// GraphedPgd against pgd() on `device`: four runs of one key (CUDA: eager warm-up, capture and
// replay, then replays), a run after the weights changed in place, and a new key (K = 5: a new
// warm-up, then a new graph). Only CUDA replays.
void check_graphed_pgd_against_pgd(const Device& device) {
  const bool replays = device.is_cuda();
  Model m = scored_tiny_resnet(device);
  const nn::NamedTensors params = m.net->named_parameters();
  GraphedPgd loop(m.f, params);
  Generator data(3), unused(0);
  const TensorOptions on{.device = device};
  const PgdOptions opt{.steps = 3, .step_size = 0.3, .eps = 1.0};
  std::vector<float> previous_scores;
  for (int run = 0; run < 4; ++run) {
    const Tensor start = rand({4, 1, 8, 8}, on, &data);
    // Every other run through run_scored: f at the start comes back too, from the replay's step 1.
    const PgdResult ours = run % 2 == 0 ? PgdResult{loop.run(start, opt, unused), Tensor()}
                                        : loop.run_scored(start, opt, unused);
    EXPECT_EQ(loop.last_run_replayed(), replays && run >= 1) << "run " << run;
    const Tensor ref = pgd(m.f, start, opt, params, unused);
    EXPECT_LE(max_abs_diff(ours.x, ref), 1e-5) << "run " << run;
    EXPECT_GT(max_abs_diff(ref, start), 1e-2) << "run " << run << ": PGD did not move, a replay of another start would pass";
    if (ours.first_scores.defined()) {
      NoGradGuard no_grad;
      const Tensor want = m.f(start);
      EXPECT_LE(max_abs_diff(ours.first_scores, want), 1e-5) << "run " << run;
      const std::vector<float> got = to(ours.first_scores, Device::cpu()).to_vector<float>();
      EXPECT_NE(got, previous_scores) << "run " << run << ": the scores of the last start came back";
      previous_scores = got;
    }
  }
  const Tensor start = rand({4, 1, 8, 8}, on, &data);
  const Tensor old_weights = pgd(m.f, start, opt, params, unused);
  {  // an optimiser-like step in place: the replay reads the new weights
    NoGradGuard no_grad;
    Generator noise(9);
    for (const auto& [name, p] : params)
      if (p.dim() == 4) add_(p, randn(p.shape(), on, &noise), 0.1);
  }
  const Tensor ref3 = pgd(m.f, start, opt, params, unused);
  EXPECT_GT(max_abs_diff(ref3, old_weights), 1e-3) << "the new weights did not change PGD: a stale replay would pass";
  EXPECT_LE(max_abs_diff(loop.run(start, opt, unused), ref3), 1e-5);
  EXPECT_EQ(loop.last_run_replayed(), replays);
  // Another K: a new warm-up (eager), then a new graph.
  const PgdOptions opt5{.steps = 5, .step_size = 0.3, .eps = 1.0};
  const Tensor ref5 = pgd(m.f, start, opt5, params, unused);
  EXPECT_GT(max_abs_diff(ref5, ref3), 1e-3) << "K = 5 ends where K = 3 does: the old graph would pass";
  EXPECT_LE(max_abs_diff(loop.run(start, opt5, unused), ref5), 1e-5);
  EXPECT_FALSE(loop.last_run_replayed());
  EXPECT_LE(max_abs_diff(loop.run(start, opt5, unused), ref5), 1e-5);
  EXPECT_EQ(loop.last_run_replayed(), replays);
}

}  // namespace

TEST(GraphedPgd, OnCudaReplaysAndEqualsEagerPgd) {
  ATEBM_SKIP_WITHOUT_GPU();
  check_graphed_pgd_against_pgd(Device::cuda());
}

// The CUDA test's sequence with nothing replayed, in every build.
TEST(GraphedPgd, CudaSequenceHoldsOnTheCpu) { check_graphed_pgd_against_pgd(Device::cpu()); }
