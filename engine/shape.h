#pragma once
// Shapes and strides are vectors of int64 (elements, not bytes). Helpers for the rules every
// op shares: element counts, contiguous strides, NumPy broadcasting and dim wrapping.
#include <cstdint>
#include <string>
#include <vector>

namespace atebm {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
/// "[2, 3, 4]"
/// Whether `from` broadcasts (NumPy rules) to exactly `to`, without throwing: for checks whose
/// error should name the operand ("mask of shape [2, 1] does not broadcast to ...").
bool broadcasts_to(const Shape& from, const Shape& to);
std::string shape_str(const Shape& shape);
/// Broadcast two shapes (NumPy rules); throws naming `op` and both shapes when impossible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
/// Maps dim in [-ndim, ndim) to [0, ndim); throws naming `op` otherwise.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace atebm
