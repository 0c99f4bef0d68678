// The index arithmetic of every strided kernel, CPU loop and CUDA alike (engine/strided_geometry.h,
// through the CUDA side's engine/cuda/geometry.h), checked on the CPU:
// for random shapes and operand layouts (contiguous, broadcast with stride 0, permuted, narrowed
// views), offsets_of over make_geometry's merged dims must give, for every logical index, the
// same element offset in each operand as unravelling the index over the original shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "common/expect.h"
#include "engine/cuda/geometry.h"
#include "engine/shape.h"

namespace atebm::cuda {
namespace {

constexpr int kOperands = 3;

std::array<int64_t, kOperands> reference_offsets(const Shape& shape, const std::array<Shape, kOperands>& strides,
                                                 int64_t i) {
  std::array<int64_t, kOperands> off{};
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    const int64_t idx = i % shape[d];
    i /= shape[d];
    for (int k = 0; k < kOperands; ++k) off[k] += idx * strides[k][d];
  }
  return off;
}

// Strides of one operand of `shape` in a layout chosen by `kind`.
Shape layout(const Shape& shape, int kind, std::mt19937& rng) {
  const size_t n = shape.size();
  switch (kind) {
    case 0: return contiguous_strides(shape);
    case 1: {  // broadcast: some dims read one element (stride 0), as expand() makes them
      Shape s = contiguous_strides(shape);
      for (size_t d = 0; d < n; ++d)
        if (rng() % 3 == 0) s[d] = 0;
      return s;
    }
    case 2: {  // a permuted contiguous tensor (permute() views)
      std::vector<size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      Shape permuted(n);
      for (size_t d = 0; d < n; ++d) permuted[d] = shape[order[d]];
      const Shape ps = contiguous_strides(permuted);
      Shape s(n);
      for (size_t d = 0; d < n; ++d) s[order[d]] = ps[d];
      return s;
    }
    default: {  // a narrowed view of a larger tensor (slice()): the parent's strides
      Shape parent = shape;
      for (auto& v : parent) v += static_cast<int64_t>(rng() % 3);
      return contiguous_strides(parent);
    }
  }
}

void expect_matches_reference(const Shape& shape, const std::array<Shape, kOperands>& strides) {
  const Geometry<kOperands> g =
      make_geometry<kOperands>(shape, {&strides[0], &strides[1], &strides[2]}, "test");
  const int64_t numel = numel_of(shape);
  for (int64_t i = 0; i < numel; ++i) {
    int64_t off[kOperands];
    offsets_of(g, i, off);
    const auto want = reference_offsets(shape, strides, i);
    for (int k = 0; k < kOperands; ++k)
      ASSERT_EQ(off[k], want[k]) << "shape " << shape_str(shape) << " operand " << k << " strides "
                                 << shape_str(strides[k]) << " index " << i << " (merged to " << g.ndim << " dims)";
  }
}

TEST(Geometry, OffsetsMatchUnravellingForRandomLayouts) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    Shape shape(rng() % 7);  // 0-d to 6-d
    for (auto& v : shape) v = 1 + static_cast<int64_t>(rng() % 4);
    std::array<Shape, kOperands> strides;
    for (auto& s : strides) s = layout(shape, static_cast<int>(rng() % 4), rng);
    expect_matches_reference(shape, strides);
    if (HasFatalFailure()) return;
  }
}

TEST(Geometry, ContiguousOperandsMergeToOneDim) {
  const Shape shape = {2, 3, 1, 4, 5};
  const Shape s = contiguous_strides(shape);
  const Geometry<2> g = make_geometry<2>(shape, {&s, &s}, "test");
  EXPECT_EQ(g.ndim, 1);
  EXPECT_EQ(g.sizes[0], 120);
  EXPECT_EQ(g.strides[0][0], 1);
  // A row broadcast against a matrix keeps two dims: [4, 5] with strides (5, 1) and (0, 1).
  const Shape m = {4, 5}, ms = contiguous_strides(m), row = {0, 1};
  const Geometry<2> b = make_geometry<2>(m, {&ms, &row}, "test");
  EXPECT_EQ(b.ndim, 2);
  // A single element (all dims of size 1) has no dims at all, and offset 0.
  const Shape ones = {1, 1, 1}, os = contiguous_strides(ones);
  const Geometry<1> one = make_geometry<1>(ones, {&os}, "test");
  EXPECT_EQ(one.ndim, 0);
  int64_t off[1] = {-1};
  offsets_of(one, 0, off);
  EXPECT_EQ(off[0], 0);
}

TEST(Geometry, ManyDimsFitWhenMergeableAndFailClearlyOtherwise) {
  const Shape shape(20, 2);  // 2^20 elements over 20 dims
  const Shape contiguous = contiguous_strides(shape);
  EXPECT_EQ(make_geometry<1>(shape, {&contiguous}, "test").ndim, 1);
  // Every other dim broadcast: nothing merges (20 dims > 16).
  Shape broken = contiguous;
  for (size_t d = 0; d < broken.size(); d += 2) broken[d] = 0;
  test::expect_error([&] { make_geometry<2>(shape, {&contiguous, &broken}, "add"); },
                     {"add (cuda): shape", "more than 16 non-mergeable dims"});
}

}  // namespace
}  // namespace atebm::cuda
