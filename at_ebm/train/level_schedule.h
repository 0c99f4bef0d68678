#pragma once
// Progressive K (Algorithm 2 with the official rules): the number of PGD steps on p0 starts at
// `start_step` and grows by one per level up to `max_steps`. A level ends
//   - early, when the mean adversarial AUC of the last `window` iterations of this level
//     exceeds `threshold` (D separates real from attacked p0 too easily: make the attack
//     stronger), or
//   - at the latest after `max_level_iters` iterations (epochs_per_step epochs of p_data).
// The window restarts empty at each level, so a switch is decided on that level's own
// iterations only (otherwise the AUCs that ended one level would end the next at once). The
// last level never ends; the run stops on its own limits.
#include <cstdint>
#include <deque>
#include <vector>

namespace atebm::at_ebm {

struct LevelOptions {
  int64_t start_step = 0, max_steps = 25;
  int64_t max_level_iters = 1;  // epochs_per_step · batches per epoch
  double threshold = 0.8;
  int64_t window = 100;
};

class LevelSchedule {
 public:
  explicit LevelSchedule(LevelOptions opt);

  /// K to use for the next iteration.
  int64_t k() const { return k_; }
  /// Records one finished iteration's adversarial AUC; returns true when K just moved up.
  bool record(double adv_auc);
  /// Mean of the current window (NaN when empty).
  double window_mean() const;
  /// Highest full-window mean seen at this level (NaN before the window first fills).
  double best_window_mean() const { return best_; }
  int64_t level_iters() const { return level_iters_; }

  /// The whole state as numbers, for checkpoints: [k, level_iters, best, window...].
  std::vector<double> state() const;
  /// Throws atebm::Error when `s` is malformed or K lies outside [start_step, max_steps].
  void load_state(const std::vector<double>& s);

 private:
  void next_level();
  LevelOptions opt_;
  int64_t k_;
  int64_t level_iters_ = 0;
  double best_;
  std::deque<double> window_;
};

}  // namespace atebm::at_ebm
