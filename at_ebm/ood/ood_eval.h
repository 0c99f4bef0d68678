#pragma once
// OOD detection with the model's score f(x) (higher = in-distribution), as in Table 4 of the
// paper:
//   clean AUC       ROC AUC of f on n in-distribution test images (positives) against n images of
//                   an OOD set (negatives), both unperturbed;
//   worst-case AUC  the same after every OOD image was attacked to maximise f inside the ε-ball
//                   around it (clamped to [0, 1]); in-distribution images stay clean. The paper's
//                   protocol: APGD, L2, ε = 1.0 for 32×32 inputs, 100 iterations, 5 restarts.
// An attacked OOD score is the larger of its clean score and the attack's best (the ball holds its
// centre), so worst ≤ clean always, and ε = 0 gives the clean AUC exactly.
//
// Determinism: the images of a set are draw_indices(size, min(n, size), seed); the attack's random
// starts come from Generator(seed) anew for every OOD set, used batch by batch, so results depend
// on the seed, the data, the model and the batch size (not on the other sets or their order).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "at_ebm/data/dataset.h"
#include "at_ebm/ood/apgd.h"

namespace atebm::at_ebm {

enum class OodAttackKind { None, Pgd, Apgd };

/// "none" | "pgd" | "apgd" (and back); parse throws atebm::Error naming the text.
OodAttackKind parse_attack_kind(const std::string& text);
std::string attack_kind_name(OodAttackKind kind);

struct OodAttack {
  OodAttackKind kind = OodAttackKind::Apgd;
  double eps = 1.0;            // radius around each OOD image
  PgdNorm norm = PgdNorm::L2;
  int64_t steps = 100;         // PGD steps, or APGD iterations per restart
  double step_size = 0.0;      // PGD's λ; 0: 2.5·ε/steps (Madry et al.'s rule). APGD sets its own.
  int64_t restarts = 5;        // APGD: random restarts; PGD: the first from the clean image, the
                               // others from a uniform random point of the ball
};

/// Throws atebm::Error naming the field (for an attack other than none): ε negative or not finite,
/// steps < 1, restarts < 1, step size negative or not finite.
void check_ood_attack(const OodAttack& a);

/// Maximises f around every image of x0 ([N, ...]) with the attack `a` (kind none: x0 itself).
/// The result is the best point per sample, never scoring below the clean image's f.
AttackResult attack_max_score(const ScoreFn& f, const nn::NamedTensors& params, const Tensor& x0,
                              const OodAttack& a, Generator& gen);

struct OodOptions {
  int64_t n = 1024;         // images per set (fewer when a set holds fewer)
  uint64_t seed = 0;        // which images, and the attack's random starts
  int64_t batch_size = 128; // images per scoring / attack batch
  OodAttack attack;
};

/// A named dataset: `spec` is what the user gave (for the report), `data` the opened set.
struct NamedDataset {
  std::string spec;
  data::DatasetPtr data;
};

struct OodSetResult {
  std::string spec, name;
  int64_t n = 0;
  double clean_auc = 0.0;
  double worst_auc = 0.0;        // = clean_auc for the attack none
  double mean_clean_score = 0.0;
  double mean_worst_score = 0.0;
  double seconds = 0.0;          // scoring and attacking this set
  std::vector<double> clean_scores, worst_scores;
};

struct OodReport {
  std::string in_spec, in_name;
  int64_t n_in = 0;
  double mean_in_score = 0.0;
  double in_seconds = 0.0;
  std::vector<double> in_scores;
  std::vector<OodSetResult> sets;
  OodOptions options;
};

/// Throws atebm::Error for n or batch_size < 1, no OOD set, or a bad attack.
void check_ood_options(const OodOptions& opt);

/// Scores the in-distribution set and every OOD set (all at the model's input shape, on the
/// CPU as float32; each batch is moved to the model's parameters' device and dtype), attacks the
/// OOD images, and computes both AUCs per set. Call model.eval() first.
OodReport evaluate_ood(const ScoreFn& f, const nn::NamedTensors& params, const NamedDataset& in,
                       const std::vector<NamedDataset>& ood, const OodOptions& opt);

/// {"in": {spec, name, n, mean_score, seconds}, "attack": {kind, norm, eps, steps, step_size,
///  restarts, (APGD:) rho, momentum, checkpoints}, "n", "seed", "batch_size",
///  "sets": [{set, name, n, clean_auc, worst_auc, mean_clean_score, mean_worst_score, seconds}]}
/// (worst_auc and mean_worst_score are null for the attack none). Scores are not included.
nlohmann::json ood_report_json(const OodReport& r);

}  // namespace atebm::at_ebm
