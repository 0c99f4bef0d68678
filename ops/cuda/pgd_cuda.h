#pragma once
// CUDA twin of ops/cpu/pgd_cpu.h (defined in ops/cuda/pgd.cu, built with ATEBM_WITH_CUDA): the
// fused PGD update of ops/pgd_update.h on device memory.
//
// Shape contract (as on the CPU): x, g, x0 and mask (when not null) are contiguous [n, d] device
// arrays of one float type T (n samples of d elements each); mask holds the expanded 0/1 mask.
// x is written in place and may alias x0 exactly, nothing else. Elements whose mask is 0 are
// never written. Runs on the device that holds x.
//
// L2: per-sample sums in double, each sample cut into fixed chunks (one block each), the chunk
// partials combined in chunk order: one pass for ||m⊙g||, one more for the projection norm when
// ε is finite, one that writes x. The summation order depends only on d, never on the launch,
// so results are bitwise reproducible (no atomics). L∞: one elementwise pass.
#include <cstdint>

#include "ops/cpu/pgd_cpu.h"
#include "ops/pgd_update.h"

namespace atebm::cuda {

template <typename T>
void pgd_update(T* x, const T* g, const T* x0, const T* mask, int64_t n, int64_t d, const PgdStep& s);

}  // namespace atebm::cuda
