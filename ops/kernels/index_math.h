#pragma once
// The offset arithmetic of the indexing kernels, written once for both backends: the loops of
// ops/cpu/index_cpu.cpp and the kernels of ops/cuda/index.cu call these same functions, so the
// CPU tests run the index code the GPU runs (how a flat position splits into coordinates, where
// an element's index value sits, which data element it pairs with, the range rule). What stays
// in the backends is how the elements are walked: rows with memcpy or a vectorised inner loop
// over threads (CPU), one thread per element, column or destination (CUDA).
//
// All four ops are one picture. The data tensor is viewed [outer, n, inner] around `dim`, the
// operand (index_select's and gather's out, index_add's and scatter_add's src) [outer, m, inner].
// Operand element (a, j, b) pairs with data element (a, r, b), r = the index value of (a, j, b):
//   index_select, gather      out(a, j, b)  =  x(a, r, b)
//   index_add, scatter_add    out(a, r, b) += src(a, j, b)
// The index value of (a, j, b) sits at idx[a·ia + j·ij + b·ib]: a 1-D index of m values shared
// by every column (index_select, index_add: ia = ib = 0, ij = 1), or one value per operand
// element (gather, scatter_add: the index has the operand's shape).
//
// Rules every backend keeps:
//   * range: r is valid when 0 ≤ r < n (in_range); it is checked before any kernel runs, and the
//     error names the lowest flat index position holding a bad value;
//   * accumulation (index_add, scatter_add): out starts at zero and each destination receives
//     its sources in increasing j, added one at a time in the data's dtype T (no atomics, no
//     wider accumulator): out = ((0 + s_j0) + s_j1) + ..., so the backends agree bit for bit.
//
// Plain C++ that also compiles under nvcc (ATEBM_HD: engine/host_device.h); the view builders at
// the end are host-only. All integer arithmetic is int64.
#include <cstdint>

#include "engine/host_device.h"
#include "engine/shape.h"

namespace atebm::kernels::index {

// The data/operand views and the index layout (see the file comment).
struct AlongDim {
  int64_t outer, n, m, inner;
  int64_t ia, ij, ib;
};

// Coordinates (a, j, b) of an element of an [outer, rows, inner] tensor (j is the row along dim).
struct Position {
  int64_t a, j, b;
};

// Flat position t of an [outer, rows, inner] tensor as (a, j, b).
ATEBM_HD Position position_of(int64_t t, int64_t rows, int64_t inner) {
  const int64_t q = t / inner;
  return {q / rows, q % rows, t % inner};
}

// Row q = a·m + j of the operand (an [outer, m] grid of rows of inner elements) as (a, j, 0).
ATEBM_HD Position row_position(const AlongDim& v, int64_t q) { return {q / v.m, q % v.m, 0}; }

// Flat offset of operand element p in [outer, m, inner].
ATEBM_HD int64_t operand_offset(const AlongDim& v, Position p) { return (p.a * v.m + p.j) * v.inner + p.b; }

// Flat offset in idx of the index value of operand element p.
ATEBM_HD int64_t index_offset(const AlongDim& v, Position p) { return p.a * v.ia + p.j * v.ij + p.b * v.ib; }

// Flat offset of data element (a, r, b) in [outer, n, inner].
ATEBM_HD int64_t data_offset(const AlongDim& v, int64_t a, int64_t r, int64_t b) { return (a * v.n + r) * v.inner + b; }

// Flat offset of the data element that operand element p pairs with: (a, idx(p), b).
ATEBM_HD int64_t paired_offset(const AlongDim& v, const int64_t* idx, Position p) {
  return data_offset(v, p.a, idx[index_offset(v, p)], p.b);
}

// The range rule: an index value r addresses one of n rows.
ATEBM_HD bool in_range(int64_t r, int64_t n) { return r >= 0 && r < n; }

// ---- views (host) -------------------------------------------------------------------------------
// A shape as [outer, n, inner] around dim; a 0-dim shape is one element, [1, 1, 1].
struct Around {
  int64_t outer = 1, n = 1, inner = 1;
};

inline Around around(const Shape& shape, int64_t dim) {
  Around a;
  if (shape.empty()) return a;
  for (int64_t d = 0; d < dim; ++d) a.outer *= shape[d];
  a.n = shape[dim];
  for (size_t d = static_cast<size_t>(dim) + 1; d < shape.size(); ++d) a.inner *= shape[d];
  return a;
}

// index_select, index_add: data of shape `data`, a 1-D index of k values shared by every column.
inline AlongDim shared_index_view(const Shape& data, int64_t dim, int64_t k) {
  const Around d = around(data, dim);
  return {.outer = d.outer, .n = d.n, .m = k, .inner = d.inner, .ia = 0, .ij = 1, .ib = 0};
}

// gather, scatter_add: data of shape `data`, the index of shape `index` (the operand's shape,
// equal to data's outside dim), so the index value of (a, j, b) sits at the operand's offset.
inline AlongDim per_element_view(const Shape& data, const Shape& index, int64_t dim) {
  const Around d = around(data, dim);
  const int64_t m = around(index, dim).n;
  return {.outer = d.outer, .n = d.n, .m = m, .inner = d.inner, .ia = m * d.inner, .ij = d.inner, .ib = 1};
}

}  // namespace atebm::kernels::index
