#pragma once
// Learning-rate schedules as pure functions of the iteration (0-based), so that a resumed run
// only needs its iteration count to get the same lr:
//   constant                         lr = base
//   step:every=N,gamma=γ             lr = base · γ^⌊iter / N⌋              (γ defaults to 0.1)
//   cosine:T=N,min=m                 lr = m + (base − m)·(1 + cos(π·iter/N))/2 for iter < N, then m
//                                    (m defaults to 0)
//   any of them + "+warmup:W"        lr = inner(iter) · (iter + 1)/W for iter < W, then inner(iter)
// The warm-up multiplies the inner schedule on the same clock (iteration 0 gets base/W, the
// last warm-up iteration W − 1 gets the full value), so "cosine:T=10000+warmup:500" still
// reaches its minimum at 10000.
// Numbers may be written as 1e-6 or 10000; iteration counts must be whole numbers.
#include <cstdint>
#include <string>
#include <string_view>

namespace atebm::nn {

struct LrSchedule {
  enum class Kind { Constant, Step, Cosine };
  Kind kind = Kind::Constant;
  double base_lr = 1e-3;
  int64_t every = 0;     // step: iterations between decays
  double gamma = 0.1;    // step: factor per decay
  int64_t total = 0;     // cosine: T, iterations to reach min_lr
  double min_lr = 0.0;   // cosine: final value
  int64_t warmup = 0;    // linear warm-up iterations (0: none)

  /// "cosine:T=10000,min=1e-6+warmup:500" with the given base lr. A bad string gives an error
  /// naming the schedule and the field.
  static LrSchedule parse(std::string_view spec, double base_lr);
  /// The learning rate at iteration `iter` >= 0.
  double lr_at(int64_t iter) const;
  /// The spec string (parse(str(), base_lr) gives this schedule back).
  std::string str() const;
};

}  // namespace atebm::nn
