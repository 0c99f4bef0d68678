#pragma once
// How both backends' sum kernels see their input (host code, shared by ops/cpu/reduce_cpu.cpp
// and ops/cuda/reduce.cu, so the CPU tests check the layout the GPU kernels get): x as a
// contiguous [outer, r, inner] block, with r the product of the reduced dims.
//   - If the reduced dims (ignoring size-1 dims) form one run, x (made contiguous) is already
//     [kept before, reduced, kept after]: no permutation, no copy when x is contiguous.
//   - Otherwise kept dims are moved first and reduced dims last, into a fresh contiguous copy:
//     [outer, r, 1]. The op sum() (ops/reduce.cpp) never asks for that: it sums such dims one
//     run at a time; the copy serves direct callers of the backends' reduce_sum.
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace atebm::kernels {

struct SumLayout {
  Tensor xc;  // contiguous, on x's device and in x's dtype
  int64_t outer = 1, r = 1, inner = 1;
};

/// reduce[d]: whether dim d of x is summed over (one flag per dim).
SumLayout sum_layout(const Tensor& x, const std::vector<bool>& reduce);

}  // namespace atebm::kernels
