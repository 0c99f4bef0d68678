#pragma once
// CPU kernel of the fused PGD update (tier 1 of DESIGN.md: no autograd, no checks beyond the
// shape contract, no version bump; ops/pgd_update.h does those and states the formula).
//
// Shape contract: x, g, x0 and mask (when not null) are contiguous [n, d] of one float type T
// (n samples of d elements each); mask holds the expanded 0/1 mask. x is written in place and
// may alias x0 exactly (element j is read before it is written), nothing else.
//
// Per sample, in double: the masked gradient norm, the step, then (ε finite) the projection
// norm, recomputing the step instead of storing it; the last pass writes x. Elements whose mask
// is 0 are never written. Samples are split over threads; each sample's sums run serially, so
// the result does not depend on the thread count.
#include <cstdint>

#include "ops/pgd_update.h"

namespace atebm::cpu {

template <typename T>
void pgd_update(T* x, const T* g, const T* x0, const T* mask, int64_t n, int64_t d, const PgdStep& s);

}  // namespace atebm::cpu
