#pragma once
// CPU parallelism: one owner per call. parallel_for splits [begin, end) into at most
// num_threads() contiguous chunks of at least `grain` iterations and runs them on OpenMP
// threads; nested calls (from inside a parallel region) run serially, so a kernel that calls
// another never oversubscribes the cores. The body must not throw.
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace atebm {

int num_threads();
/// Sets the OpenMP thread count used by every kernel (and, once GEMM lands, OpenBLAS's).
void set_num_threads(int n);

template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& body) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int max_t = omp_in_parallel() ? 1 : num_threads();
  const int64_t want = std::min<int64_t>(max_t, (n + grain - 1) / std::max<int64_t>(grain, 1));
  if (want <= 1) {
    body(begin, end);
    return;
  }
  const int64_t chunk = (n + want - 1) / want;
#pragma omp parallel num_threads(static_cast<int>(want))
  {
    const int64_t b = begin + omp_get_thread_num() * chunk;
    const int64_t e = std::min(end, b + chunk);
    if (b < e) body(b, e);
  }
}

}  // namespace atebm
