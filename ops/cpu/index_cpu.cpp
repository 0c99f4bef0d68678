#include "ops/cpu/index_cpu.h"

#include <cstring>

#include "engine/factories.h"
#include "engine/parallel.h"

namespace atebm::cpu {
namespace {

struct Around {
  int64_t outer = 1, n = 1, inner = 1;
};

Around around(const Shape& shape, int64_t dim) {
  Around a;
  for (int64_t d = 0; d < dim; ++d) a.outer *= shape[d];
  a.n = shape[dim];
  for (size_t d = dim + 1; d < shape.size(); ++d) a.inner *= shape[d];
  return a;
}

}  // namespace

void index_select(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const Around ax = around(x.shape(), dim);
  const int64_t k = index.numel();
  const int64_t* idx = index.data<int64_t>();
  const size_t row_bytes = static_cast<size_t>(ax.inner) * x.itemsize();
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  parallel_for(0, ax.outer * k, std::max<int64_t>(1, 65536 / std::max<int64_t>(ax.inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / k, j = t % k;
      std::memcpy(dst + t * row_bytes, src + (o * ax.n + idx[j]) * row_bytes, row_bytes);
    }
  });
}

void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const Around ao = around(out.shape(), dim);
  const int64_t k = index.numel();
  const int64_t* idx = index.data<int64_t>();
  ATEBM_DISPATCH_FLOATING(out.dtype(), "index_add", [&] {
    scalar_t* po = out.data<scalar_t>();
    const scalar_t* ps = src.data<scalar_t>();
    // Parallel over outer slices only: rows of one slice may repeat an index.
    parallel_for(0, ao.outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(k * ao.inner, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o)
        for (int64_t j = 0; j < k; ++j) {
          scalar_t* d = po + (o * ao.n + idx[j]) * ao.inner;
          const scalar_t* s = ps + (o * k + j) * ao.inner;
          for (int64_t i = 0; i < ao.inner; ++i) d[i] += s[i];
        }
    });
  });
}

void gather(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const Shape& is = index.shape();
  const Shape xst = contiguous_strides(x.shape());
  const int64_t nd = static_cast<int64_t>(is.size());
  const int64_t* idx = index.data<int64_t>();
  ATEBM_DISPATCH_FLOATING(out.dtype(), "gather", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(0, index.numel(), 16384, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        int64_t rem = t, off = 0;
        for (int64_t d = nd - 1; d >= 0; --d) {
          const int64_t c = rem % is[d];
          rem /= is[d];
          off += (d == dim ? idx[t] : c) * xst[d];
        }
        po[t] = px[off];
      }
    });
  });
}

void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const Shape& is = index.shape();
  const Shape ost = contiguous_strides(out.shape());
  const int64_t nd = static_cast<int64_t>(is.size());
  const int64_t* idx = index.data<int64_t>();
  ATEBM_DISPATCH_FLOATING(out.dtype(), "scatter_add", [&] {
    const scalar_t* ps = src.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    // Serial: different positions may target the same output element.
    for (int64_t t = 0; t < index.numel(); ++t) {
      int64_t rem = t, off = 0;
      for (int64_t d = nd - 1; d >= 0; --d) {
        const int64_t c = rem % is[d];
        rem /= is[d];
        off += (d == dim ? idx[t] : c) * ost[d];
      }
      po[off] += ps[t];
    }
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
