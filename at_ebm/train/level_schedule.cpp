#include "at_ebm/train/level_schedule.h"

#include <cmath>
#include <limits>

#include "engine/error.h"

namespace atebm::at_ebm {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

LevelSchedule::LevelSchedule(LevelOptions opt) : opt_(opt), k_(opt.start_step), best_(kNaN) {
  ATEBM_CHECK(opt.start_step >= 0 && opt.max_steps >= opt.start_step,
              "level schedule: need 0 <= start_step <= max_steps; got {} and {}", opt.start_step, opt.max_steps);
  ATEBM_CHECK(opt.max_level_iters > 0 && opt.window > 0,
              "level schedule: max_level_iters ({}) and window ({}) must be positive", opt.max_level_iters, opt.window);
}

bool LevelSchedule::record(double adv_auc) {
  ++level_iters_;
  window_.push_back(adv_auc);
  if (static_cast<int64_t>(window_.size()) > opt_.window) {
    window_.pop_front();
  }
  const bool full = static_cast<int64_t>(window_.size()) == opt_.window;
  if (full && !(window_mean() <= best_)) best_ = window_mean();  // also replaces NaN
  if (k_ >= opt_.max_steps) return false;
  if ((full && window_mean() > opt_.threshold) || level_iters_ >= opt_.max_level_iters) {
    next_level();
    return true;
  }
  return false;
}

double LevelSchedule::window_mean() const {
  if (window_.empty()) return kNaN;
  // Summed afresh in order: the same values always give the same mean (resume decides alike).
  double s = 0;
  for (double v : window_) s += v;
  return s / static_cast<double>(window_.size());
}

void LevelSchedule::next_level() {
  ++k_;
  level_iters_ = 0;
  best_ = kNaN;
  window_.clear();
}

std::vector<double> LevelSchedule::state() const {
  std::vector<double> s = {static_cast<double>(k_), static_cast<double>(level_iters_), best_};
  s.insert(s.end(), window_.begin(), window_.end());
  return s;
}

void LevelSchedule::load_state(const std::vector<double>& s) {
  ATEBM_CHECK(s.size() >= 3 && static_cast<int64_t>(s.size()) - 3 <= opt_.window,
              "level schedule state: expected 3 + at most {} values; got {}", opt_.window, s.size());
  const double k = s[0], it = s[1];
  ATEBM_CHECK(k == std::floor(k) && k >= static_cast<double>(opt_.start_step) && k <= static_cast<double>(opt_.max_steps),
              "level schedule state: K = {} outside [start_step {}, max_steps {}]", k, opt_.start_step, opt_.max_steps);
  ATEBM_CHECK(it == std::floor(it) && it >= 0, "level schedule state: iterations at this level = {} is not a count", it);
  k_ = static_cast<int64_t>(k);
  level_iters_ = static_cast<int64_t>(it);
  best_ = s[2];
  window_.assign(s.begin() + 3, s.end());
}

}  // namespace atebm::at_ebm
