#include "at_ebm/ood/ood_eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "at_ebm/method/sampler.h"
#include "at_ebm/metrics/auc.h"
#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double mean_of(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Where and in which dtype the model computes: that of its first parameter (CPU float32 without).
TensorOptions model_options(const nn::NamedTensors& params) {
  for (const auto& [name, t] : params)
    if (t.defined()) return {.dtype = t.dtype(), .device = t.device()};
  return {.dtype = DType::Float32, .device = Device::cpu()};
}

std::vector<double> score(const ScoreFn& f, const Tensor& x) {
  NoGradGuard no_grad;
  const Tensor y = f(x);
  ATEBM_CHECK(y.defined() && y.dim() == 1 && y.size(0) == x.size(0),
              "ood: the score function must return shape [{}] (one score per image), got {}", x.size(0),
              y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
  return y.to_vector<double>();
}

// PGD ascent, once from the clean images and restarts − 1 times from uniform random points of
// the ball; the final iterate of each run is scored and the best kept per sample.
AttackResult pgd_attack(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& x0, const OodAttack& a,
                        Generator& gen) {
  const double step = a.step_size > 0.0 ? a.step_size : 2.5 * a.eps / static_cast<double>(a.steps);
  AttackResult best{x0, score(f, x0)};
  for (int64_t r = 0; r < a.restarts; ++r) {
    const PgdOptions p{.steps = a.steps, .step_size = step, .eps = a.eps, .norm = a.norm, .random_start = r > 0};
    const Tensor x = pgd(f, x0, p, params, gen);
    const std::vector<double> s = score(f, x);
    std::vector<double> better(s.size(), 0.0);
    bool any = false;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] > best.score[i]) {
        best.score[i] = s[i];
        better[i] = 1.0;
        any = true;
      }
    }
    if (!any) continue;
    NoGradGuard no_grad;
    Shape col(static_cast<size_t>(x0.dim()), 1);
    col[0] = x0.size(0);
    best.x = where(from_vector<double>(better, col, {.dtype = x0.dtype(), .device = x0.device()}), x, best.x);
  }
  return best;
}

// Scores of `indices` of `ds`, batch by batch; with an attack, the best attacked score (never
// below the clean one, see the header) goes to `worst`.
void score_set(const ScoreFn& f, const nn::NamedTensors& params, const data::Dataset& ds,
               const std::vector<int64_t>& indices, const OodOptions& opt, const OodAttack* attack,
               std::vector<double>& clean, std::vector<double>& worst) {
  const TensorOptions on_model = model_options(params);
  Generator gen(opt.seed);
  const auto n = static_cast<int64_t>(indices.size());
  for (int64_t first = 0; first < n; first += opt.batch_size) {
    const int64_t len = std::min(opt.batch_size, n - first);
    const std::vector<int64_t> batch(indices.begin() + first, indices.begin() + first + len);
    const Tensor x = copy_to(load_images(ds, batch), on_model.device, on_model.dtype);
    const std::vector<double> s = score(f, x);
    clean.insert(clean.end(), s.begin(), s.end());
    if (attack == nullptr) continue;
    const AttackResult r = attack_max_score(f, params, x, *attack, gen);
    for (size_t i = 0; i < s.size(); ++i) worst.push_back(std::max(s[i], r.score[i]));
  }
}

std::vector<int64_t> draw(const data::Dataset& ds, const OodOptions& opt) {
  ATEBM_CHECK(ds.size() >= 1, "ood: {} holds no images", ds.name());
  return draw_indices(ds.size(), std::min(opt.n, ds.size()), opt.seed);
}

}  // namespace

OodAttackKind parse_attack_kind(const std::string& text) {
  if (text == "none") return OodAttackKind::None;
  if (text == "pgd") return OodAttackKind::Pgd;
  if (text == "apgd") return OodAttackKind::Apgd;
  ATEBM_FAIL("ood: unknown attack '{}': expected none, pgd or apgd", text);
}

std::string attack_kind_name(OodAttackKind kind) {
  switch (kind) {
    case OodAttackKind::None: return "none";
    case OodAttackKind::Pgd: return "pgd";
    case OodAttackKind::Apgd: return "apgd";
  }
  return "?";
}

void check_ood_attack(const OodAttack& a) {
  if (a.kind == OodAttackKind::None) return;
  ATEBM_CHECK(std::isfinite(a.eps) && a.eps >= 0.0, "ood attack: eps must be finite and >= 0, got {}", a.eps);
  ATEBM_CHECK(a.steps >= 1, "ood attack: steps must be >= 1, got {}", a.steps);
  ATEBM_CHECK(a.restarts >= 1, "ood attack: restarts must be >= 1, got {}", a.restarts);
  ATEBM_CHECK(std::isfinite(a.step_size) && a.step_size >= 0.0,
              "ood attack: step size must be finite and >= 0 (0: the default), got {}", a.step_size);
}

AttackResult attack_max_score(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& x0,
                              const OodAttack& a, Generator& gen) {
  check_ood_attack(a);
  switch (a.kind) {
    case OodAttackKind::None: return {x0, score(f, x0)};
    case OodAttackKind::Pgd: return pgd_attack(f, params, x0, a, gen);
    case OodAttackKind::Apgd:
      return apgd(f, x0, {.iterations = a.steps, .restarts = a.restarts, .eps = a.eps, .norm = a.norm}, params, gen);
  }
  ATEBM_FAIL("ood: unknown attack kind");
}

void check_ood_options(const OodOptions& opt) {
  ATEBM_CHECK(opt.n >= 1, "ood options: n must be >= 1, got {}", opt.n);
  ATEBM_CHECK(opt.batch_size >= 1, "ood options: batch_size must be >= 1, got {}", opt.batch_size);
  check_ood_attack(opt.attack);
}

OodReport evaluate_ood(const ScoreFn& f, const nn::NamedTensors& params, const NamedDataset& in,
                       const std::vector<NamedDataset>& ood, const OodOptions& opt) {
  check_ood_options(opt);
  ATEBM_CHECK(in.data != nullptr, "ood: the in-distribution set ({}) is not open", in.spec);
  ATEBM_CHECK(!ood.empty(), "ood: no OOD set given");
  OodReport r;
  r.options = opt;
  r.in_spec = in.spec;
  r.in_name = in.data->name();

  Clock::time_point t0 = Clock::now();
  std::vector<double> unused;
  score_set(f, params, *in.data, draw(*in.data, opt), opt, nullptr, r.in_scores, unused);
  r.n_in = static_cast<int64_t>(r.in_scores.size());
  r.mean_in_score = mean_of(r.in_scores);
  r.in_seconds = seconds_since(t0);

  const bool attacked = opt.attack.kind != OodAttackKind::None;
  for (const NamedDataset& set : ood) {
    ATEBM_CHECK(set.data != nullptr, "ood: the OOD set {} is not open", set.spec);
    ATEBM_CHECK(set.data->shape() == in.data->shape(), "ood: the OOD set {} has images {}, the in-distribution set {}",
                set.spec, data::shape_str(set.data->shape()), data::shape_str(in.data->shape()));
    t0 = Clock::now();
    OodSetResult s;
    s.spec = set.spec;
    s.name = set.data->name();
    score_set(f, params, *set.data, draw(*set.data, opt), opt, attacked ? &opt.attack : nullptr, s.clean_scores,
              s.worst_scores);
    if (!attacked) s.worst_scores = s.clean_scores;
    s.n = static_cast<int64_t>(s.clean_scores.size());
    s.clean_auc = roc_auc(r.in_scores, s.clean_scores);
    s.worst_auc = roc_auc(r.in_scores, s.worst_scores);
    s.mean_clean_score = mean_of(s.clean_scores);
    s.mean_worst_score = mean_of(s.worst_scores);
    s.seconds = seconds_since(t0);
    r.sets.push_back(std::move(s));
  }
  return r;
}

nlohmann::json ood_report_json(const OodReport& r) {
  using nlohmann::json;
  const OodAttack& a = r.options.attack;
  const bool attacked = a.kind != OodAttackKind::None;
  json attack = {{"kind", attack_kind_name(a.kind)}};
  if (attacked) {
    attack["norm"] = a.norm == PgdNorm::L2 ? "L2" : "Linf";
    attack["eps"] = a.eps;
    attack["steps"] = a.steps;
    attack["restarts"] = a.restarts;
    if (a.kind == OodAttackKind::Pgd) {
      attack["step_size"] = a.step_size > 0.0 ? a.step_size : 2.5 * a.eps / static_cast<double>(a.steps);
    } else {
      const ApgdOptions defaults;
      attack["initial_step_size"] = 2.0 * a.eps;
      attack["rho"] = defaults.rho;
      attack["momentum"] = defaults.momentum;
      attack["checkpoints"] = apgd_checkpoints(a.steps);
    }
  }
  json sets = json::array();
  for (const OodSetResult& s : r.sets) {
    sets.push_back({{"set", s.spec},
                    {"name", s.name},
                    {"n", s.n},
                    {"clean_auc", s.clean_auc},
                    {"worst_auc", attacked ? json(s.worst_auc) : json()},
                    {"mean_clean_score", s.mean_clean_score},
                    {"mean_worst_score", attacked ? json(s.mean_worst_score) : json()},
                    {"seconds", s.seconds}});
  }
  return {{"in", {{"set", r.in_spec}, {"name", r.in_name}, {"n", r.n_in}, {"mean_score", r.mean_in_score},
                  {"seconds", r.in_seconds}}},
          {"attack", attack},
          {"n", r.options.n},
          {"seed", r.options.seed},
          {"batch_size", r.options.batch_size},
          {"sets", sets}};
}

}  // namespace atebm::at_ebm
