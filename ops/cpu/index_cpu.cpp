#include "ops/cpu/index_cpu.h"

#include <cstring>

#include "engine/factories.h"
#include "engine/parallel.h"
#include "ops/kernels/index_math.h"

// The offsets come from ops/kernels/index_math.h, shared with the CUDA kernels (ops/cuda/index.cu);
// the loops and their threading stay here.
namespace atebm::cpu {

namespace ix = kernels::index;

void index_select(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const ix::AlongDim v = ix::shared_index_view(x.shape(), dim, index.numel());
  const int64_t* idx = index.data<int64_t>();
  const size_t item = x.itemsize(), row_bytes = static_cast<size_t>(v.inner) * item;
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  // One memcpy per operand row t = (a, j): out row t is x's row (a, index[j]).
  parallel_for(0, v.outer * v.m, std::max<int64_t>(1, 65536 / std::max<int64_t>(v.inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      std::memcpy(dst + t * row_bytes, src + ix::paired_offset(v, idx, ix::row_position(v, t)) * item, row_bytes);
  });
}

void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const ix::AlongDim v = ix::shared_index_view(out.shape(), dim, index.numel());
  const int64_t* idx = index.data<int64_t>();
  ATEBM_DISPATCH_FLOATING(out.dtype(), "index_add", [&] {
    scalar_t* po = out.data<scalar_t>();
    const scalar_t* ps = src.data<scalar_t>();
    // Parallel over outer slices only: rows of one slice may repeat an index. Within a slice the
    // rows j go in increasing order (index_math.h's accumulation rule). The walk starts from the
    // shared offsets of row (a, 0) and steps them (index by ij, source by inner), which costs
    // less per row than recomputing them when rows are short.
    parallel_for(0, v.outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(v.m * v.inner, 1)), [&](int64_t b, int64_t e) {
      for (int64_t a = b; a < e; ++a) {
        const ix::Position first{a, 0, 0};
        const int64_t* ir = idx + ix::index_offset(v, first);
        const scalar_t* s = ps + ix::operand_offset(v, first);
        for (int64_t j = 0; j < v.m; ++j, s += v.inner) {
          scalar_t* d = po + ix::data_offset(v, a, ir[j * v.ij], 0);
          if (v.inner == 1) {  // upsample_nearest2d's backward: skip the vector loop's set-up per element
            *d += *s;
            continue;
          }
          for (int64_t i = 0; i < v.inner; ++i) d[i] += s[i];
        }
      }
    });
  });
}

void gather(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const ix::AlongDim v = ix::per_element_view(x.shape(), index.shape(), dim);
  const int64_t* idx = index.data<int64_t>();
  ATEBM_DISPATCH_FLOATING(out.dtype(), "gather", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(0, index.numel(), 16384, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) po[t] = px[ix::paired_offset(v, idx, ix::position_of(t, v.m, v.inner))];
    });
  });
}

void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const ix::AlongDim v = ix::per_element_view(out.shape(), index.shape(), dim);
  const int64_t* idx = index.data<int64_t>();
  ATEBM_DISPATCH_FLOATING(out.dtype(), "scatter_add", [&] {
    const scalar_t* ps = src.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    // Serial in t: different positions may target the same output element, and each gets its
    // sources in increasing t, hence increasing j (index_math.h's accumulation rule).
    for (int64_t t = 0; t < index.numel(); ++t) po[ix::paired_offset(v, idx, ix::position_of(t, v.m, v.inner))] += ps[t];
  });
}

Tensor nonzero_flat(const Tensor& t) {
  std::vector<int64_t> pos;
  ATEBM_DISPATCH_ALL(t.dtype(), "nonzero", [&] {
    const scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < t.numel(); ++i)
      if (p[i] != scalar_t(0)) pos.push_back(i);
  });
  return from_vector<int64_t>(pos, {static_cast<int64_t>(pos.size())}, {.dtype = DType::Int64});
}

}  // namespace atebm::cpu
