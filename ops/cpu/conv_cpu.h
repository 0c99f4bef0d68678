#pragma once
// The CPU kernels of the conv trio (tier 1: raw pointers, no autograd), lowered to GEMM.
//
// Shape contract (all arrays contiguous, one float dtype T):
//   x  [N, C, H, W]      input (NCHW)          w  [K, C, kh, kw]   weight (OIHW), K = c_out
//   y  [N, K, Ho, Wo]    output                b  [K] or null      bias
//   Ho = floor((H + 2·pad_h − dil_h·(kh − 1) − 1) / stride_h) + 1, likewise Wo.
//
//   conv2d_forward:     y  = conv(x, w) + b
//   conv2d_grad_input:  dx = ∂<y, g>/∂x   (g has y's shape; dx has x's shape, zero where no
//                                          output reads the input, e.g. rows a stride skips)
//   conv2d_grad_weight: dw = ∂<y, g>/∂w   (dw has w's shape)
//
// Lowering. Let P = C·kh·kw (one weight row) and L = Ho·Wo (outputs per sample). The columns
// matrix of a sample is cols[P, L] with cols[(c, i, j), (oh, ow)] = x[c, oh·s − p + i·d, ...]
// (0 in the padding). Then, per sample n:
//   y_n [K, L] = W[K, P] · cols_n
//   dx_n       = col2im(Wᵀ · g_n)              (stride > 1, or few input channels)
//              = conv(g_n, w flipped, swapped)  (stride 1: a forward conv of g, no col2im)
//   dw [K, P] += g_n[K, L] · cols_nᵀ           (or dwᵀ += cols_n · g_nᵀ with few output channels)
// The (n, l) output positions are processed in TILES holding about ConvTuning::tile_bytes of
// columns: several whole samples when a sample's GEMM is small (one large GEMM instead of many
// with 16 columns, e.g. 512 channels at 4×4, through a gather / scatter between NCHW and
// [C, n·L]), or one sample — or a block of its output rows, so memory does not grow with the
// image size either — when it is large (GEMMs then read and write the NCHW tensors in place).
// Buffers are reused across calls (thread-local, grown on demand, never shrunk). 1×1, stride-1,
// pad-0 convolutions with large L have cols_n = x_n and go straight to GEMM without any im2col.
//
// Parallelism (2-core target): one pool, OpenMP's (ops/cpu/gemm_cpu.h; OpenBLAS's own threads
// measured 6–12× slower here). Per call, the faster of two schemes: with several whole samples
// per thread, forward and grad-input run a parallel_for over samples, each thread doing im2col /
// col2im and a single-threaded GEMM for its samples (5–15% faster at 64–128 channels); else
// every pass (im2col, col2im, gather, scatter) is a parallel_for and every GEMM is split over
// the threads by cpu::gemm. Results are deterministic and do not depend on the thread count:
// dw accumulates the tiles' GEMMs in tile order, and no GEMM is split along its reduction dim.
#include <cstdint>

namespace atebm::cpu {

struct Conv2dGeometry {
  int64_t n = 0, c_in = 0, h = 0, w = 0;  // input [n, c_in, h, w]
  int64_t c_out = 0, kh = 0, kw = 0;      // weight [c_out, c_in / groups, kh, kw]
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dil_h = 1, dil_w = 1;
  int64_t groups = 1;  // only 1 is implemented; kept so grouped convs have a place to go

  int64_t h_out() const { return (h + 2 * pad_h - dil_h * (kh - 1) - 1) / stride_h + 1; }
  int64_t w_out() const { return (w + 2 * pad_w - dil_w * (kw - 1) - 1) / stride_w + 1; }
  /// 1×1, stride 1, pad 0: the input already is the columns matrix.
  bool is_pointwise() const { return kh == 1 && kw == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0; }
};

/// Tiling knobs (process-wide). The defaults were tuned with bench/ops/bench_conv.cpp; tests
/// shrink them to drive every tiling path with tiny tensors.
struct ConvTuning {
  int64_t tile_bytes = 8 << 20;          // target size of one tile's columns buffer
  int64_t direct_min_cols = 256;         // a sample gets its own GEMMs on NCHW in place when it
  int64_t direct_min_macs = 1 << 24;     // has >= direct_min_cols outputs (Ho·Wo) and its GEMM
                                         // >= direct_min_macs multiply-adds (K·P·L), or when
                                         // K·P <= 1024 (first layers: batching cannot help);
                                         // others are batched several samples per GEMM
  int64_t samples_per_thread = 4;        // direct forward / grad-input run a parallel_for over
                                         // samples when the batch has >= this many per thread
  int64_t transposed_min_channels = 16;  // stride-1 grad-input with at least this many input
                                         // channels runs as a forward conv of g (conv_cpu.cpp)
  int64_t dw_transposed_below = 128;     // grad-weight with fewer output channels computes dwᵀ
                                         // and transposes it (conv_cpu.cpp)
};
ConvTuning conv_tuning();
void set_conv_tuning(const ConvTuning& t);

template <typename T>
void conv2d_forward_cpu(const Conv2dGeometry& geo, const T* x, const T* w, const T* b, T* y);
template <typename T>
void conv2d_grad_input_cpu(const Conv2dGeometry& geo, const T* g, const T* w, T* dx);
template <typename T>
void conv2d_grad_weight_cpu(const Conv2dGeometry& geo, const T* x, const T* g, T* dw);

}  // namespace atebm::cpu
