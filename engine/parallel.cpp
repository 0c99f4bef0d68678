#include "engine/parallel.h"

#include "engine/error.h"

namespace atebm {

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  ATEBM_CHECK(n >= 1, "set_num_threads: expected n >= 1, got {}", n);
  omp_set_num_threads(n);
}

}  // namespace atebm
