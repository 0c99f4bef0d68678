#include "ops/kernels/reduce_layout.h"

#include "engine/error.h"
#include "engine/factories.h"
#include "engine/shape.h"

namespace atebm::kernels {

SumLayout sum_layout(const Tensor& x, const std::vector<bool>& reduce) {
  const int64_t nd = x.dim();
  ATEBM_CHECK(static_cast<int64_t>(reduce.size()) == nd, "sum: {} reduce flags for a {}-d tensor", reduce.size(), nd);
  std::vector<int64_t> kept, red;
  for (int64_t d = 0; d < nd; ++d) (reduce[d] ? red : kept).push_back(d);
  int runs = 0;  // runs of reduced dims, ignoring size-1 dims
  bool prev = false;
  for (int64_t d = 0; d < nd; ++d) {
    if (x.shape()[d] == 1) continue;
    if (reduce[d] && !prev) ++runs;
    prev = reduce[d];
  }
  SumLayout l;
  if (runs <= 1) {
    l.xc = contiguous_raw(x);
    bool seen_r = false;
    for (int64_t d = 0; d < nd; ++d) {
      const int64_t s = x.shape()[d];
      if (s == 1) continue;
      if (reduce[d]) {
        l.r *= s;
        seen_r = true;
      } else {
        (seen_r ? l.inner : l.outer) *= s;
      }
    }
    return l;
  }
  std::vector<int64_t> perm = kept;
  perm.insert(perm.end(), red.begin(), red.end());
  Shape ps, pst;
  for (int64_t d : perm) {
    ps.push_back(x.shape()[d]);
    pst.push_back(x.strides()[d]);
  }
  l.xc = copy_to(make_view(x, ps, pst, x.offset()), x.device(), x.dtype());
  for (int64_t d : kept) l.outer *= x.shape()[d];
  for (int64_t d : red) l.r *= x.shape()[d];
  return l;
}

}  // namespace atebm::kernels
