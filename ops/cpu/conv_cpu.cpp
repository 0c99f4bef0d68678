#include "ops/cpu/conv_cpu.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>

#include "engine/error.h"
#include "engine/parallel.h"
#include "ops/cpu/gemm_cpu.h"

namespace atebm::cpu {
namespace {

// ---- scratch: per-thread buffers that only grow (no heap traffic once warm) ----

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

struct ScratchSlot {
  std::unique_ptr<void, FreeDeleter> ptr;
  size_t bytes = 0;
};

template <typename T>
T* scratch(int slot, int64_t count) {
  thread_local ScratchSlot slots[3];
  ScratchSlot& s = slots[slot];
  const size_t want = (static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T) + 63) / 64 * 64;
  if (s.bytes < want) {
    s.ptr.reset();  // free first: the peak is one buffer, not two
    void* p = std::aligned_alloc(64, want);
    ATEBM_CHECK(p != nullptr, "conv2d: out of memory allocating a {}-byte scratch buffer", want);
    s.ptr.reset(p);
    s.bytes = want;
  }
  return static_cast<T*>(s.ptr.get());
}

// ---- tiling ----

// Direct mode: one GEMM per sample (or per block of its output rows), reading g and writing
// y / dx in place (NCHW rows are the GEMM rows). Batched mode: several samples per GEMM,
// through a gather / scatter, for samples whose own GEMM would be small: one with 16 columns
// (4×4) runs far below peak, and 32 → 32 channels at 28×28 (7M multiply-adds) gains ~20% from
// batching. The first layers (K·P tiny) stay direct: their batched GEMM could not be split
// over threads either, and the gather only adds traffic. Thresholds: ConvTuning, measured
// with bench_conv.
std::atomic<int64_t> g_tile_bytes{ConvTuning{}.tile_bytes};
std::atomic<int64_t> g_direct_min_cols{ConvTuning{}.direct_min_cols};
std::atomic<int64_t> g_direct_min_macs{ConvTuning{}.direct_min_macs};
std::atomic<int64_t> g_samples_per_thread{ConvTuning{}.samples_per_thread};
std::atomic<int64_t> g_transposed_min_channels{ConvTuning{}.transposed_min_channels};
std::atomic<int64_t> g_dw_transposed_below{ConvTuning{}.dw_transposed_below};

// A tile: samples [n0, n1) and output rows [oh0, oh1) of each (all rows when n1 − n0 > 1).
struct Tile {
  int64_t n0, n1, oh0, oh1;
};

struct Plan {
  bool direct = false;  // one sample per tile; GEMMs address NCHW tensors in place
  int64_t samples = 1;  // per tile (batched mode)
  int64_t rows = 1;     // output rows per tile (direct mode)
};

template <typename T>
Plan make_plan(const Conv2dGeometry& g) {
  const int64_t P = g.c_in * g.kh * g.kw, Ho = g.h_out(), Wo = g.w_out(), L = Ho * Wo;
  const int64_t col_bytes = P * static_cast<int64_t>(sizeof(T));  // one column of cols
  const int64_t tile_bytes = g_tile_bytes.load();
  Plan p;
  if (g.n == 0) return p;
  const int64_t KP = g.c_out * P;
  p.direct = L >= g_direct_min_cols.load() && (KP * L >= g_direct_min_macs.load() || KP <= 1024);
  if (p.direct) {
    // Pointwise convs read x in place, so one tile = one whole sample. Others bound the cols
    // buffer by splitting a large sample into row blocks of equal size.
    const int64_t fit = std::max<int64_t>(1, tile_bytes / std::max<int64_t>(1, col_bytes * Wo));
    const int64_t blocks = g.is_pointwise() ? 1 : (Ho + fit - 1) / fit;
    p.rows = (Ho + blocks - 1) / blocks;
  } else {
    const int64_t fit =
        std::clamp<int64_t>(tile_bytes / std::max<int64_t>(1, col_bytes * L), 1, std::max<int64_t>(g.n, 1));
    const int64_t tiles = (g.n + fit - 1) / fit;
    p.samples = (g.n + tiles - 1) / tiles;  // balanced: the last tile is not a runt
  }
  return p;
}

template <typename F>
void for_each_tile(const Conv2dGeometry& g, const Plan& p, F&& f) {
  const int64_t Ho = g.h_out();
  if (p.direct) {
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t oh = 0; oh < Ho; oh += p.rows) f(Tile{n, n + 1, oh, std::min(Ho, oh + p.rows)});
  } else {
    for (int64_t n = 0; n < g.n; n += p.samples) f(Tile{n, std::min(g.n, n + p.samples), 0, Ho});
  }
}

// Forward and grad-input tiles write disjoint outputs (y / dx of their samples), so in direct
// mode with several whole samples per thread they run as a parallel_for over samples, each
// thread doing im2col (or col2im) and a single-threaded GEMM for its own samples in its own
// buffer. That beat splitting every GEMM by 5–15% at 64–128 channels (bench_conv): no barrier
// between im2col and GEMM, and each thread's columns stay in its cache. Otherwise (batched
// tiles, row blocks, a batch of one) the passes and GEMMs of each tile are split instead.
// grad-weight always runs the tiles in order: its sum over samples must not depend on the
// thread count.

template <typename F>
void run_tiles(const Conv2dGeometry& g, const Plan& p, F&& f) {
  if (!p.direct || p.rows != g.h_out() || g.n < g_samples_per_thread.load() * num_threads()) {
    for_each_tile(g, p, f);
    return;
  }
  SingleThreadedBlas one_thread_each;  // a no-op under the default GEMM policy
  parallel_for(0, g.n, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) f(Tile{n, n + 1, 0, g.h_out()});  // nested passes run serially
  });
}

// Iterations per parallel_for chunk so that each chunk moves at least ~32k elements.
int64_t grain_for(int64_t per_item) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(per_item, 1)); }

// Output columns [lo, hi) of a kernel tap whose input column is ow·s − p + j·d, within [0, W).
inline void valid_cols(int64_t W, int64_t Wo, int64_t s, int64_t off, int64_t& lo, int64_t& hi) {
  // off = j·d − p; iw = ow·s + off
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / s + 1;
  lo = std::min(lo, Wo);
  hi = std::clamp(hi, lo, Wo);
}

// ---- im2col / col2im over one tile ----
// A tile's columns matrix has one row per r = (c, i, j) and one column per (t, oh − oh0, ow),
// t = n − n0; its row stride is the tile's column count.

// Row r of the tile's cols (ld = tile columns, written to dst[0 .. ld)).
template <typename T>
void im2col_row(const Conv2dGeometry& g, const Tile& tl, int64_t r, const T* x, T* dst) {
  const int64_t Wo = g.w_out(), KK = g.kh * g.kw;
  const int64_t c = r / KK, i = (r / g.kw) % g.kh, j = r % g.kw;
  const int64_t off_w = j * g.dil_w - g.pad_w;
  int64_t lo, hi;
  valid_cols(g.w, Wo, g.stride_w, off_w, lo, hi);
  for (int64_t n = tl.n0; n < tl.n1; ++n) {
    const T* xc = x + (n * g.c_in + c) * g.h * g.w;
    for (int64_t oh = tl.oh0; oh < tl.oh1; ++oh, dst += Wo) {
      const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dil_h;
      if (ih < 0 || ih >= g.h) {
        std::fill(dst, dst + Wo, T(0));
        continue;
      }
      const T* xrow = xc + ih * g.w;
      std::fill(dst, dst + lo, T(0));
      if (g.stride_w == 1) {
        std::copy(xrow + lo + off_w, xrow + hi + off_w, dst + lo);
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = xrow[ow * g.stride_w + off_w];
      }
      std::fill(dst + hi, dst + Wo, T(0));
    }
  }
}

template <typename T>
void im2col_tile(const Conv2dGeometry& g, const Tile& tl, const T* x, T* cols) {
  const int64_t ld = (tl.n1 - tl.n0) * (tl.oh1 - tl.oh0) * g.w_out();
  parallel_for(0, g.c_in * g.kh * g.kw, grain_for(ld), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) im2col_row(g, tl, r, x, cols + r * ld);
  });
}

// The adjoint for one (sample t, channel c): dx[n0 + t, c] += its kh·kw rows of dcols, which
// start at `rows` (row stride ld). Distinct (t, c) pairs write disjoint planes of dx.
template <typename T>
void col2im_plane(const Conv2dGeometry& g, const Tile& tl, int64_t t, int64_t c, const T* rows, int64_t ld, T* dx) {
  const int64_t Wo = g.w_out(), Lt = (tl.oh1 - tl.oh0) * Wo;
  T* dxc = dx + ((tl.n0 + t) * g.c_in + c) * g.h * g.w;
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t off_w = j * g.dil_w - g.pad_w;
      int64_t lo, hi;
      valid_cols(g.w, Wo, g.stride_w, off_w, lo, hi);
      const T* src = rows + (i * g.kw + j) * ld + t * Lt;
      for (int64_t oh = tl.oh0; oh < tl.oh1; ++oh, src += Wo) {
        const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dil_h;
        if (ih < 0 || ih >= g.h) continue;
        T* dst = dxc + ih * g.w;
        if (g.stride_w == 1) {
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow + off_w] += src[ow];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.stride_w + off_w] += src[ow];
        }
      }
    }
}

template <typename T>
void col2im_tile(const Conv2dGeometry& g, const Tile& tl, const T* dcols, T* dx) {
  const int64_t KK = g.kh * g.kw, Lt = (tl.oh1 - tl.oh0) * g.w_out(), ld = (tl.n1 - tl.n0) * Lt;
  parallel_for(0, (tl.n1 - tl.n0) * g.c_in, grain_for(KK * Lt), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t t = q / g.c_in, c = q % g.c_in;
      col2im_plane(g, tl, t, c, dcols + c * KK * ld, ld, dx);
    }
  });
}

// Batched mode: rows of a [C, N, L] tile ↔ NCHW. gather: buf[k, t·L + l] = a[n0 + t, k, l].
template <typename T>
void gather_tile(int64_t rows, int64_t L, const Tile& tl, const T* a, T* buf) {
  const int64_t T_ = tl.n1 - tl.n0;
  parallel_for(0, rows, grain_for(T_ * L), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k)
      for (int64_t t = 0; t < T_; ++t) std::copy_n(a + ((tl.n0 + t) * rows + k) * L, L, buf + (k * T_ + t) * L);
  });
}

// scatter: y[n0 + t, k, l] = buf[k, t·L + l] (+ b[k]).
template <typename T>
void scatter_tile(int64_t rows, int64_t L, const Tile& tl, const T* buf, const T* b, T* y) {
  const int64_t T_ = tl.n1 - tl.n0;
  parallel_for(0, rows, grain_for(T_ * L), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const T bias = b != nullptr ? b[k] : T(0);
      for (int64_t t = 0; t < T_; ++t) {
        const T* src = buf + (k * T_ + t) * L;
        T* dst = y + ((tl.n0 + t) * rows + k) * L;
        for (int64_t l = 0; l < L; ++l) dst[l] = src[l] + bias;
      }
    }
  });
}

template <typename T>
void fill_parallel(T* p, int64_t n, T v) {
  parallel_for(0, n, 1 << 16, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, v); });
}

void check_geometry(const Conv2dGeometry& g) {
  ATEBM_CHECK(g.groups == 1, "conv2d: groups = {} is not implemented (only groups = 1)", g.groups);
  ATEBM_CHECK(g.h_out() >= 1 && g.w_out() >= 1, "conv2d kernel: empty output {}x{}", g.h_out(), g.w_out());
}

}  // namespace

ConvTuning conv_tuning() {
  return {g_tile_bytes.load(),         g_direct_min_cols.load(),         g_direct_min_macs.load(),
          g_samples_per_thread.load(), g_transposed_min_channels.load(), g_dw_transposed_below.load()};
}

void set_conv_tuning(const ConvTuning& t) {
  ATEBM_CHECK(t.tile_bytes >= 1 && t.direct_min_cols >= 1 && t.direct_min_macs >= 0 && t.samples_per_thread >= 1 &&
                  t.transposed_min_channels >= 1 && t.dw_transposed_below >= 0,
              "set_conv_tuning: invalid tile_bytes {}, direct_min_cols {}, direct_min_macs {}, samples_per_thread {}, "
              "transposed_min_channels {}, dw_transposed_below {}",
              t.tile_bytes, t.direct_min_cols, t.direct_min_macs, t.samples_per_thread, t.transposed_min_channels,
              t.dw_transposed_below);
  g_tile_bytes.store(t.tile_bytes);
  g_direct_min_cols.store(t.direct_min_cols);
  g_direct_min_macs.store(t.direct_min_macs);
  g_samples_per_thread.store(t.samples_per_thread);
  g_transposed_min_channels.store(t.transposed_min_channels);
  g_dw_transposed_below.store(t.dw_transposed_below);
}

template <typename T>
void conv2d_forward_cpu(const Conv2dGeometry& g, const T* x, const T* w, const T* b, T* y) {
  check_geometry(g);
  const int64_t K = g.c_out, P = g.c_in * g.kh * g.kw, Wo = g.w_out(), L = g.h_out() * Wo;
  const Plan plan = make_plan<T>(g);
  run_tiles(g, plan, [&](const Tile& tl) {
    const int64_t Lt = (tl.oh1 - tl.oh0) * Wo, cols_n = (tl.n1 - tl.n0) * Lt;
    const T* cols;
    int64_t ldb;
    if (plan.direct && g.is_pointwise()) {
      cols = x + tl.n0 * g.c_in * L + tl.oh0 * Wo;
      ldb = L;
    } else {
      T* buf = scratch<T>(0, P * cols_n);
      im2col_tile(g, tl, x, buf);
      cols = buf;
      ldb = cols_n;
    }
    if (plan.direct) {  // y_n[:, rows] = W · cols (+ b, pre-filled so the GEMM adds onto it)
      T* yt = y + tl.n0 * K * L + tl.oh0 * Wo;
      if (b != nullptr)
        parallel_for(0, K, grain_for(Lt), [&](int64_t k0, int64_t k1) {
          for (int64_t k = k0; k < k1; ++k) std::fill(yt + k * L, yt + k * L + Lt, b[k]);
        });
      gemm(false, false, K, Lt, P, T(1), w, P, cols, ldb, b != nullptr ? T(1) : T(0), yt, L);
    } else {
      T* out = scratch<T>(1, K * cols_n);
      gemm(false, false, K, cols_n, P, T(1), w, P, cols, ldb, T(0), out, cols_n);
      scatter_tile(K, L, tl, out, b, y);
    }
  });
}

// Stride-1 grad-input as a forward convolution of g (the "full" convolution):
//   dx = conv(g, w̃),  w̃[c, k, i, j] = w[k, c, kh−1−i, kw−1−j],  padding d·(k−1) − p, same dilation
// (the padding may be negative; im2col treats it as an offset). Its GEMM reduces over the
// long K·kh·kw and writes the small C·H·W, where GEMM + col2im reduces over the short K and
// writes P·L columns (through OpenBLAS's slow beta = 0 pass) that col2im then reads back:
// 1.3–1.5× faster at 32–64 channels on 14×14..32×32 (bench_conv), on par at 128–512
// channels on small images. Not for the first layer (a 1-row GEMM) or strides > 1 (zeros
// between g's elements).
bool use_transposed(const Conv2dGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && !g.is_pointwise() && g.c_in >= g_transposed_min_channels.load();
}

template <typename T>
void grad_input_transposed(const Conv2dGeometry& g, const T* gy, const T* w, T* dx) {
  Conv2dGeometry t = g;
  t.c_in = g.c_out;
  t.h = g.h_out();
  t.w = g.w_out();
  t.c_out = g.c_in;
  t.pad_h = g.dil_h * (g.kh - 1) - g.pad_h;
  t.pad_w = g.dil_w * (g.kw - 1) - g.pad_w;
  const int64_t KK = g.kh * g.kw;
  T* wt = scratch<T>(2, g.c_in * g.c_out * KK);  // the forward kernel uses slots 0 and 1
  parallel_for(0, g.c_in, grain_for(g.c_out * KK), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t k = 0; k < g.c_out; ++k)
        for (int64_t q = 0; q < KK; ++q) wt[(c * g.c_out + k) * KK + (KK - 1 - q)] = w[(k * g.c_in + c) * KK + q];
  });
  conv2d_forward_cpu<T>(t, gy, wt, nullptr, dx);
}

// g of one tile as a [K, cols_n] matrix: (pointer, row stride). Direct plans read it in place;
// otherwise it is gathered into scratch slot 1.
template <typename T>
std::pair<const T*, int64_t> g_tile(const Plan& plan, const Tile& tl, int64_t K, int64_t L, int64_t Wo, int64_t cols_n,
                                   const T* gy) {
  if (plan.direct) return {gy + tl.n0 * K * L + tl.oh0 * Wo, L};
  T* buf = scratch<T>(1, K * cols_n);
  gather_tile(K, L, tl, gy, buf);
  return {buf, cols_n};
}

template <typename T>
void conv2d_grad_input_cpu(const Conv2dGeometry& g, const T* gy, const T* w, T* dx) {
  check_geometry(g);
  if (use_transposed(g)) {
    grad_input_transposed(g, gy, w, dx);
    return;
  }
  const int64_t K = g.c_out, KK = g.kh * g.kw, P = g.c_in * KK, Wo = g.w_out(), L = g.h_out() * Wo;
  const Plan plan = make_plan<T>(g);
  const bool pointwise_direct = plan.direct && g.is_pointwise();
  // col2im accumulates; a pointwise GEMM writes every element of dx exactly once.
  if (!pointwise_direct) fill_parallel(dx, g.n * g.c_in * g.h * g.w, T(0));
  run_tiles(g, plan, [&](const Tile& tl) {
    const int64_t Lt = (tl.oh1 - tl.oh0) * Wo, cols_n = (tl.n1 - tl.n0) * Lt;
    const auto [gt, ldg] = g_tile<T>(plan, tl, K, L, Wo, cols_n, gy);
    if (pointwise_direct) {  // dx_n = Wᵀ · g_n, straight into NCHW
      gemm(true, false, P, Lt, K, T(1), w, P, gt, ldg, T(0), dx + tl.n0 * g.c_in * L + tl.oh0 * Wo, L);
      return;
    }
    T* dcols = scratch<T>(0, P * cols_n);
    gemm(true, false, P, cols_n, K, T(1), w, P, gt, ldg, T(0), dcols, cols_n);
    col2im_tile(g, tl, dcols, dx);
  });
}

template <typename T>
void conv2d_grad_weight_cpu(const Conv2dGeometry& g, const T* x, const T* gy, T* dw) {
  check_geometry(g);
  const int64_t K = g.c_out, KK = g.kh * g.kw, P = g.c_in * KK, Wo = g.w_out(), L = g.h_out() * Wo;
  if (g.n == 0) {
    std::fill(dw, dw + K * P, T(0));
    return;
  }
  const Plan plan = make_plan<T>(g);
  // dw [K, P] = Σ_tiles G_tile · cols_tileᵀ, accumulated in tile order (deterministic). With few
  // output channels the transposed product dwᵀ [P, K] = Σ cols_tile · G_tileᵀ is computed
  // instead and transposed once: OpenBLAS then packs the large cols operand without a
  // transpose, ~30% faster at 64 channels; from 128 channels both run at peak.
  const bool transposed = K < g_dw_transposed_below.load();
  T* dwt = transposed ? scratch<T>(2, P * K) : nullptr;
  bool first = true;
  auto accumulate = [&](const T* cols, int64_t ldc, const T* gt, int64_t ldg, int64_t cols_n) {
    const T beta = first ? T(0) : T(1);
    first = false;
    if (transposed)
      gemm(false, true, P, K, cols_n, T(1), cols, ldc, gt, ldg, beta, dwt, K);
    else
      gemm(false, true, K, P, cols_n, T(1), gt, ldg, cols, ldc, beta, dw, P);
  };
  for_each_tile(g, plan, [&](const Tile& tl) {
    const int64_t Lt = (tl.oh1 - tl.oh0) * Wo, cols_n = (tl.n1 - tl.n0) * Lt;
    const auto [gt, ldg] = g_tile<T>(plan, tl, K, L, Wo, cols_n, gy);
    if (plan.direct && g.is_pointwise()) {  // cols_n = x_n
      accumulate(x + tl.n0 * g.c_in * L + tl.oh0 * Wo, L, gt, ldg, cols_n);
      return;
    }
    T* cols = scratch<T>(0, P * cols_n);
    im2col_tile(g, tl, x, cols);
    accumulate(cols, cols_n, gt, ldg, cols_n);
  });
  if (transposed)
    parallel_for(0, P, grain_for(K), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t k = 0; k < K; ++k) dw[k * P + p] = dwt[p * K + k];
    });
}

template void conv2d_forward_cpu<float>(const Conv2dGeometry&, const float*, const float*, const float*, float*);
template void conv2d_forward_cpu<double>(const Conv2dGeometry&, const double*, const double*, const double*, double*);
template void conv2d_grad_input_cpu<float>(const Conv2dGeometry&, const float*, const float*, float*);
template void conv2d_grad_input_cpu<double>(const Conv2dGeometry&, const double*, const double*, double*);
template void conv2d_grad_weight_cpu<float>(const Conv2dGeometry&, const float*, const float*, float*);
template void conv2d_grad_weight_cpu<double>(const Conv2dGeometry&, const double*, const double*, double*);

}  // namespace atebm::cpu
