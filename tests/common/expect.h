#pragma once
// Checks every test layer uses: an error with a message that says what it should, and tensors
// that agree with a reference relative to the reference's scale.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/tensor.h"

namespace atebm::test {

/// Expects `f` to throw atebm::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected an atebm::Error containing '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

/// max |a − b| over the elements, in double; a NaN difference counts as infinite (so a NaN result
/// never passes a tolerance), and a size mismatch fails the test.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0.0;
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
    const double d = std::abs(x[i] - y[i]);
    if (std::isnan(d)) return std::numeric_limits<double>::infinity();
    m = std::max(m, d);
  }
  return m;
}

/// max|ours − ref| ≤ rtol · max|ref|: the error is measured against the reference's scale, so
/// small entries next to large ones do not fail on round-off. An all-zero reference must be met
/// exactly (dR1/d(bias) of a piecewise-linear network is exactly 0, for example).
inline void expect_close(const Tensor& ours, const Tensor& ref, double rtol, const std::string& what) {
  ASSERT_EQ(ours.shape(), ref.shape()) << what;
  const auto a = ours.to_vector<double>(), b = ref.to_vector<double>();
  double scale = 0, err = 0;
  size_t worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(b[i]));
    if (!(std::abs(a[i] - b[i]) <= err)) err = std::abs(a[i] - b[i]), worst = i;  // NaN counts as worst
  }
  EXPECT_LE(err, rtol * scale) << what << ": max error " << err << " at element " << worst << " (ours "
                               << (a.empty() ? 0.0 : a[worst]) << ", reference " << (b.empty() ? 0.0 : b[worst])
                               << "), scale " << scale;
}

}  // namespace atebm::test
