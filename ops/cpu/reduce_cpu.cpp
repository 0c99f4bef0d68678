#include "ops/cpu/reduce_cpu.h"

#include <cmath>

#include "engine/factories.h"
#include "engine/parallel.h"
#include "ops/kernels/reduce_layout.h"

namespace atebm::cpu {
namespace {

constexpr int64_t kBlock = 1024;       // elements summed in T before widening to double
constexpr int64_t kChunk = 1 << 16;    // unit of parallel work for a full reduction

// Sum of n contiguous values: blocks of kBlock in T (vectorised), blocks added in double.
template <typename T>
double contiguous_sum(const T* p, int64_t n) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    T acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = b; i < e; ++i) acc += p[i];
    total += static_cast<double>(acc);
  }
  return total;
}

template <typename T>
void sum_all(T* out, const T* x, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(std::max<int64_t>(chunks, 1)), 0.0);
  parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      partial[c] = contiguous_sum(x + c * kChunk, std::min(kChunk, n - c * kChunk));
  });
  double total = 0.0;
  for (double v : partial) total += v;  // fixed order: deterministic
  *out = static_cast<T>(total);
}

// x contiguous [outer, r, inner] → out [outer, inner].
template <typename T>
void sum_middle(T* out, const T* x, int64_t outer, int64_t r, int64_t inner) {
  if (inner == 1) {
    parallel_for(0, outer, std::max<int64_t>(1, kChunk / std::max<int64_t>(r, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) out[o] = static_cast<T>(contiguous_sum(x + o * r, r));
    });
    return;
  }
  // Columns in tiles of 256 per task; each tile accumulates over r rows in double.
  constexpr int64_t kTile = 256;
  const int64_t tiles = (inner + kTile - 1) / kTile;
  parallel_for(0, outer * tiles, std::max<int64_t>(1, kChunk / std::max<int64_t>(r * kTile, 1)),
               [&](int64_t b, int64_t e) {
                 double acc[kTile];
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / tiles, c0 = (t % tiles) * kTile, w = std::min(kTile, inner - c0);
                   for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
                   const T* base = x + o * r * inner + c0;
                   for (int64_t i = 0; i < r; ++i) {
                     const T* row = base + i * inner;
#pragma omp simd
                     for (int64_t j = 0; j < w; ++j) acc[j] += static_cast<double>(row[j]);
                   }
                   T* dst = out + o * inner + c0;
                   for (int64_t j = 0; j < w; ++j) dst[j] = static_cast<T>(acc[j]);
                 }
               });
}

}  // namespace

void reduce_sum(const Tensor& out, const Tensor& x, const std::vector<bool>& reduce) {
  // x as a contiguous [outer, r, inner] (ops/kernels/reduce_layout.h, shared with CUDA).
  const kernels::SumLayout l = kernels::sum_layout(x, reduce);
  const Tensor& xc = l.xc;
  const int64_t outer = l.outer, r = l.r, inner = l.inner;
  ATEBM_DISPATCH_FLOATING(x.dtype(), "sum", [&] {
    const scalar_t* px = xc.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    if (outer == 1 && inner == 1) {
      sum_all(po, px, r);
    } else {
      sum_middle(po, px, outer, r, inner);
    }
  });
}

void reduce_max_min(bool is_max, const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  const Tensor xc = contiguous_raw(x);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.shape()[d];
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  const int64_t r = x.shape()[dim];
  ATEBM_DISPATCH_FLOATING(x.dtype(), is_max ? "max" : "min", [&] {
    using T = scalar_t;
    const T* px = xc.data<T>();
    T* pv = values.data<T>();
    int64_t* pi = indices.data<int64_t>();
    // better(v, best): strictly more extreme, or v is NaN while best is not (NaN propagates).
    auto better = [is_max](T v, T best) {
      if (std::isnan(v)) return !std::isnan(best);
      return is_max ? v > best : v < best;
    };
    parallel_for(0, outer * inner, std::max<int64_t>(1, 16384 / std::max<int64_t>(r, 1)), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / inner, c = t % inner;
        const T* p = px + o * r * inner + c;
        T best = p[0];
        int64_t arg = 0;
        for (int64_t i = 1; i < r; ++i) {
          if (better(p[i * inner], best)) {
            best = p[i * inner];
            arg = i;
          }
        }
        pv[t] = best;
        pi[t] = arg;
      }
    });
  });
}

}  // namespace atebm::cpu
