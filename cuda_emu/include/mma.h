#pragma once
// cuda_emu's WMMA (nvcuda::wmma): warp-level matrix multiply-accumulate on the CPU.
//
// On a GPU a fragment is spread over the 32 lanes of a warp in an unspecified layout, and code
// may only touch its elements element-wise (x[i] for i < num_elements). Here every lane holds the
// whole tile, row-major: the same results for any code that keeps to that rule. mma_sync computes
// the product once per warp (the first lane; the others check that their operands are the same
// and take its result). Each collective (load, store, mma, fill) is a warp
// barrier, so a warp that diverges around one faults as on a GPU it would hang or misbehave.
// TF32 inputs are truncated to TF32 inside mma_sync, as the tensor cores ignore the low 13 bits;
// code that wants rounding calls __float_to_tf32 first (cvt.rna).
#include <cstddef>
#include <cstring>

#include "cuda_runtime.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
template <class Use, int M, int N, int K>
struct Extent;
template <int M, int N, int K>
struct Extent<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct Extent<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct Extent<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};
template <class T>
struct Storage {
  using type = T;
};
template <>
struct Storage<precision::tf32> {
  using type = float;
};
inline float truncate_tf32(float v) { return std::bit_cast<float>(std::bit_cast<uint32_t>(v) & 0xffffe000u); }
}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  using element_type = typename detail::Storage<T>::type;
  static constexpr int rows = detail::Extent<Use, M, N, K>::rows, cols = detail::Extent<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  element_type x[num_elements];  // row-major: element (r, c) at x[r * cols + c]
};

inline float __float_to_tf32(float v) { return cuda_emu::round_to_tf32(v); }

template <class Use, int M, int N, int K, class T, class Layout, class V>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const V& v) {
  __syncwarp();
  for (auto& e : f.x) e = static_cast<typename fragment<Use, M, N, K, T, Layout>::element_type>(v);
}

// Matrix a/b: the layout is the fragment's; ldm in elements.
template <class Use, int M, int N, int K, class T, class Layout, class P>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const P* p, unsigned ldm) {
  static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>,
                "matrix_a/matrix_b fragments need a layout; accumulators take one at the call");
  __syncwarp();
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] = std::is_same_v<Layout, row_major> ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
}

template <int M, int N, int K, class T, class P>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const P* p, unsigned ldm, layout_t layout) {
  __syncwarp();
  using F = fragment<accumulator, M, N, K, T>;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] = layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
}

template <int M, int N, int K, class T, class P>
void store_matrix_sync(P* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout) {
  __syncwarp();
  using F = fragment<accumulator, M, N, K, T>;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c) {
      P& dst = layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
      dst = f.x[r * F::cols + c];
    }
}

// d = a · b + c, accumulated in the accumulator's type in increasing k.
template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c) {
  __syncwarp();
  // Every lane holds the same a, b, c: one lane computes, the others take its result.
  unsigned char inputs[sizeof(a) + sizeof(b) + sizeof(c)];
  std::memcpy(inputs, &a, sizeof(a));
  std::memcpy(inputs + sizeof(a), &b, sizeof(b));
  std::memcpy(inputs + sizeof(a) + sizeof(b), &c, sizeof(c));
  if (cuda_emu::warp_result_lookup(inputs, sizeof(inputs), &d, sizeof(d))) return;
  auto in = [](auto v, auto tag) {
    if constexpr (std::is_same_v<decltype(tag), precision::tf32>) return detail::truncate_tf32(v);
    else return v;
  };
  fragment<accumulator, M, N, K, TC> out;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      TC acc = c.x[i * N + j];
      for (int k = 0; k < K; ++k) acc += static_cast<TC>(in(a.x[i * K + k], TA{})) * static_cast<TC>(in(b.x[k * N + j], TB{}));
      out.x[i * N + j] = acc;
    }
  d = out;
  cuda_emu::warp_result_store(inputs, sizeof(inputs), &d, sizeof(d));
}

}  // namespace nvcuda::wmma
