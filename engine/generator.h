#pragma once
// A seeded random stream (Philox4x32-10, see engine/philox.h). Its whole state is
// (seed, offset): save it with state(), restore it with set_state() to resume a run exactly.
#include <cstdint>

namespace atebm {

struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;  // in 128-bit Philox blocks
  bool operator==(const GeneratorState&) const = default;
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : state_{seed, 0} {}
  void manual_seed(uint64_t seed) { state_ = {seed, 0}; }
  uint64_t seed() const { return state_.seed; }
  GeneratorState state() const { return state_; }
  void set_state(GeneratorState s) { state_ = s; }
  /// Reserves `blocks` consecutive Philox blocks and returns the first one's offset.
  uint64_t take(uint64_t blocks) {
    const uint64_t first = state_.offset;
    state_.offset += blocks;
    return first;
  }

 private:
  GeneratorState state_;
};

/// The process-wide default generator (seed 0 until manual_seed is called).
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace atebm
