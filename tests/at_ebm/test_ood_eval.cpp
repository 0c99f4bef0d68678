// OOD evaluation (at_ebm/ood/ood_eval.h) on a tiny ResNet trained in the test (BCE of
// adversarial_loss, Adam, 50 iterations) to tell smooth noise (in-distribution) from uniform
// noise (OOD) at 1×8×8: it separates them; attacking the OOD images lowers the AUC; ε = 0 gives
// the clean AUC exactly; the AUCs are those of the returned scores; the JSON has every field.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "at_ebm/data/spec.h"
#include "at_ebm/method/losses.h"
#include "at_ebm/method/sampler.h"
#include "at_ebm/metrics/auc.h"
#include "at_ebm/ood/ood_eval.h"
#include "nn/models/model_config.h"
#include "nn/optim/adam.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::at_ebm;

namespace {

const data::ImageShape kShape{1, 8, 8};

nlohmann::json tiny_resnet_config() {
  return {{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}}, {"widths", {4, 4, 8, 8}},
          {"in_channels", 1}, {"num_classes", 1},  {"pool", 1},           {"mean", {0.5}},
          {"std", {0.5}}};
}

// Trained once for the whole file (about a second): smooth:200 → 1, uniform:200 → 0.
nn::Module& trained_model() {
  static std::shared_ptr<nn::Module> model = [] {
    Generator gen(42);
    std::shared_ptr<nn::Module> m = nn::build_model(tiny_resnet_config(), gen);
    m->eval();  // BatchNorm stays an affine map, as in the method
    const data::DatasetPtr real = data::open_dataset("smooth:200:seed=1", kShape);
    const data::DatasetPtr fake = data::open_dataset("uniform:200:seed=2", kShape);
    nn::Adam opt(m->named_parameters(), {.lr = 3e-3, .beta1 = 0.0, .beta2 = 0.99});
    const ScoreFn f = model_score(*m);
    for (uint64_t it = 0; it < 50; ++it) {
      const Tensor x_real = load_images(*real, draw_indices(real->size(), 16, 100 + it));
      const Tensor x_fake = load_images(*fake, draw_indices(fake->size(), 16, 200 + it));
      const LossTerms t = adversarial_loss(f, x_real, x_fake, 0.0, false);
      opt.zero_grad();
      backward(t.loss);
      opt.step();
    }
    return m;
  }();
  return *model;
}

struct Sets {
  NamedDataset in, ood;
};

Sets held_out_sets() {
  return {{"smooth:100:seed=5", data::open_dataset("smooth:100:seed=5", kShape)},
          {"uniform:100:seed=6", data::open_dataset("uniform:100:seed=6", kShape)}};
}

OodReport evaluate(const OodAttack& attack, int64_t n = 48, int64_t batch_size = 16) {
  nn::Module& m = trained_model();
  const Sets s = held_out_sets();
  return evaluate_ood(model_score(m), m.named_parameters(), s.in, {s.ood},
                      {.n = n, .seed = 3, .batch_size = batch_size, .attack = attack});
}

}  // namespace

TEST(OodEval, CleanAucOfTheTrainedModelIsHighAndMatchesItsScores) {
  const OodReport r = evaluate({.kind = OodAttackKind::None});
  ASSERT_EQ(r.sets.size(), 1u);
  const OodSetResult& s = r.sets[0];
  EXPECT_EQ(r.n_in, 48);
  EXPECT_EQ(s.n, 48);
  EXPECT_GT(s.clean_auc, 0.95);
  EXPECT_DOUBLE_EQ(s.clean_auc, roc_auc(r.in_scores, s.clean_scores));
  EXPECT_EQ(s.worst_scores, s.clean_scores);
  // The scores are the model's on the drawn images, in draw order.
  nn::Module& m = trained_model();
  const Sets sets = held_out_sets();
  NoGradGuard no_grad;
  const Tensor x = load_images(*sets.ood.data, draw_indices(100, 48, 3));
  const std::vector<double> want = model_score(m)(x).to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(s.clean_scores[i], want[i], 1e-5 * (1 + std::abs(want[i])));
}

TEST(OodEval, ZeroRadiusGivesTheCleanAucExactly) {
  for (OodAttackKind kind : {OodAttackKind::Apgd, OodAttackKind::Pgd}) {
    const OodReport r = evaluate({.kind = kind, .eps = 0.0, .steps = 3, .restarts = 2});
    const OodSetResult& s = r.sets[0];
    EXPECT_EQ(s.worst_scores, s.clean_scores) << attack_kind_name(kind);
    EXPECT_EQ(s.worst_auc, s.clean_auc) << attack_kind_name(kind);
  }
}

TEST(OodEval, AttackingTheOodImagesLowersTheAuc) {
  for (OodAttackKind kind : {OodAttackKind::Apgd, OodAttackKind::Pgd}) {
    const OodReport r = evaluate({.kind = kind, .eps = 1.0, .steps = 10, .restarts = 1});
    const OodSetResult& s = r.sets[0];
    for (size_t i = 0; i < s.clean_scores.size(); ++i) EXPECT_GE(s.worst_scores[i], s.clean_scores[i]) << i;
    EXPECT_LE(s.worst_auc, s.clean_auc) << attack_kind_name(kind);
    EXPECT_LT(s.worst_auc, s.clean_auc - 0.05) << attack_kind_name(kind);  // the attack does something
    EXPECT_GT(s.mean_worst_score, s.mean_clean_score) << attack_kind_name(kind);
    EXPECT_DOUBLE_EQ(s.worst_auc, roc_auc(r.in_scores, s.worst_scores));
  }
}

TEST(OodEval, SmallSetsAreUsedWholeAndOptionsAreChecked) {
  const OodReport r = evaluate({.kind = OodAttackKind::None}, /*n=*/500, /*batch_size=*/64);
  EXPECT_EQ(r.n_in, 100);
  EXPECT_EQ(r.sets[0].n, 100);
  EXPECT_THROW(evaluate({.kind = OodAttackKind::None}, 0), Error);
  EXPECT_THROW(evaluate({.kind = OodAttackKind::None}, 8, 0), Error);
  EXPECT_THROW(evaluate({.kind = OodAttackKind::Apgd, .eps = -1.0}), Error);
  EXPECT_THROW(evaluate({.kind = OodAttackKind::Pgd, .steps = 0}), Error);
  EXPECT_THROW(parse_attack_kind("fgsm"), Error);
  EXPECT_EQ(parse_attack_kind("apgd"), OodAttackKind::Apgd);
}

TEST(OodEval, JsonHoldsEveryField) {
  const OodReport r = evaluate({.kind = OodAttackKind::Apgd, .eps = 0.5, .steps = 4, .restarts = 1}, 16);
  const nlohmann::json j = ood_report_json(r);
  EXPECT_EQ(j.at("in").at("set"), "smooth:100:seed=5");
  EXPECT_EQ(j.at("in").at("n"), 16);
  EXPECT_EQ(j.at("n"), 16);
  EXPECT_EQ(j.at("seed"), 3);
  const nlohmann::json& a = j.at("attack");
  EXPECT_EQ(a.at("kind"), "apgd");
  EXPECT_EQ(a.at("norm"), "L2");
  EXPECT_EQ(a.at("eps"), 0.5);
  EXPECT_EQ(a.at("steps"), 4);
  EXPECT_EQ(a.at("restarts"), 1);
  EXPECT_EQ(a.at("rho"), 0.75);
  EXPECT_EQ(a.at("momentum"), 0.75);
  EXPECT_EQ(a.at("initial_step_size"), 1.0);
  EXPECT_EQ(a.at("checkpoints"), apgd_checkpoints(4));
  ASSERT_EQ(j.at("sets").size(), 1u);
  const nlohmann::json& s = j.at("sets").at(0);
  EXPECT_EQ(s.at("set"), "uniform:100:seed=6");
  EXPECT_EQ(s.at("n"), 16);
  EXPECT_EQ(s.at("clean_auc").get<double>(), r.sets[0].clean_auc);
  EXPECT_EQ(s.at("worst_auc").get<double>(), r.sets[0].worst_auc);
  EXPECT_TRUE(s.at("seconds").is_number());
  EXPECT_TRUE(s.at("mean_clean_score").is_number());
  // Without an attack there is no worst case to report.
  const nlohmann::json none = ood_report_json(evaluate({.kind = OodAttackKind::None}, 16));
  EXPECT_TRUE(none.at("sets").at(0).at("worst_auc").is_null());
  EXPECT_EQ(none.at("attack"), (nlohmann::json{{"kind", "none"}}));
}
