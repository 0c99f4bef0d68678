#pragma once
// Printing tensors, in the layout NumPy and PyTorch users already read:
//
//   tensor([[ 1.0000, -2.5000],
//           [ 3.0000,  4.0000]], shape=[2, 2], dtype=float32, device=cpu, requires_grad=True)
//
// One bracket per dim, columns right-aligned to the widest element, floats with 4 decimals
// (scientific when max |x| >= 1e8 or the smallest nonzero |x| < 1e-4), int64 as integers, bool
// as True/False. Tensors of more than 1000 elements show only 3 items at each edge of every dim,
// with "..." between (NumPy's threshold / edgeitems), and only those items leave the device.
// Any strides, dtype and device print; a tensor with history ends in ", grad_fn=<name>".
//
//   fmt::print("{}\n", t);   std::cout << t;   std::string s = t.str();
#include <fmt/format.h>

#include <ostream>
#include <string>

#include "engine/tensor.h"

namespace atebm {

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace atebm

template <>
struct fmt::formatter<atebm::Tensor> : fmt::formatter<std::string> {
  auto format(const atebm::Tensor& t, format_context& ctx) const {
    return fmt::formatter<std::string>::format(t.str(), ctx);
  }
};
