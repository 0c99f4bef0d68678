#include "ops/cpu/resize_cpu.h"

#include <algorithm>
#include <cmath>

#include "engine/parallel.h"

namespace atebm::cpu {
namespace {

// PyTorch's area_pixel_compute_scale without an explicit scale factor.
double axis_scale(int64_t in, int64_t out, bool align_corners) {
  if (align_corners) return out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  return static_cast<double>(in) / static_cast<double>(out);
}

void plain_row(ResampleMatrix& m, int64_t dst, double scale, bool align_corners) {
  double src = align_corners ? scale * static_cast<double>(dst) : scale * (static_cast<double>(dst) + 0.5) - 0.5;
  src = std::max(src, 0.0);
  const int64_t i0 = std::min(static_cast<int64_t>(src), m.cols - 1);
  const double lambda = std::min(src - static_cast<double>(i0), 1.0);
  if (i0 + 1 < m.cols && lambda > 0.0) {
    m.idx.insert(m.idx.end(), {i0, i0 + 1});
    m.w.insert(m.w.end(), {1.0 - lambda, lambda});
  } else {  // on the last pixel (or exactly on a sample): all weight on i0
    m.idx.push_back(i0);
    m.w.push_back(1.0);
  }
}

void antialias_row(ResampleMatrix& m, int64_t dst, double scale) {
  // Triangle filter of half-width `support` around the sample centre, evaluated at pixel
  // centres and stretched by 1/scale when shrinking (so it averages all covered pixels).
  const double support = scale >= 1.0 ? scale : 1.0;
  const double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  const double center = scale * (static_cast<double>(dst) + 0.5);
  const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
  const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), m.cols);
  const size_t first = m.w.size();
  double total = 0.0;
  for (int64_t j = lo; j < hi; ++j) {
    const double wj = std::max(0.0, 1.0 - std::abs((static_cast<double>(j) - center + 0.5) * inv));
    if (wj == 0.0) continue;
    m.idx.push_back(j);
    m.w.push_back(wj);
    total += wj;
  }
  if (total > 0.0)
    for (size_t k = first; k < m.w.size(); ++k) m.w[k] /= total;
}

// Parallel grain in rows, for about 32k multiply-adds per chunk.
int64_t grain_for(int64_t row_work) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(row_work, 1)); }

}  // namespace

ResampleMatrix ResampleMatrix::transposed() const {
  ResampleMatrix t;
  t.rows = cols;
  t.cols = rows;
  t.ptr.assign(static_cast<size_t>(cols + 1), 0);
  for (int64_t c : idx) ++t.ptr[c + 1];
  for (int64_t c = 0; c < cols; ++c) t.ptr[c + 1] += t.ptr[c];
  t.idx.resize(idx.size());
  t.w.resize(w.size());
  std::vector<int64_t> fill(t.ptr.begin(), t.ptr.end() - 1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = ptr[r]; k < ptr[r + 1]; ++k) {
      const int64_t at = fill[idx[k]]++;
      t.idx[at] = r;
      t.w[at] = w[k];
    }
  return t;
}

ResampleMatrix bilinear_matrix(int64_t in, int64_t out, bool align_corners, bool antialias) {
  ResampleMatrix m;
  m.rows = out;
  m.cols = in;
  m.ptr.reserve(static_cast<size_t>(out + 1));
  m.ptr.push_back(0);
  const double scale = axis_scale(in, out, align_corners);
  for (int64_t dst = 0; dst < out; ++dst) {
    if (antialias)
      antialias_row(m, dst, scale);
    else
      plain_row(m, dst, scale, align_corners);
    m.ptr.push_back(static_cast<int64_t>(m.idx.size()));
  }
  return m;
}

void resample_separable(const Tensor& out, const Tensor& x, const ResampleMatrix& rows, const ResampleMatrix& cols) {
  const int64_t planes = x.size(0) * x.size(1);
  const int64_t h = rows.cols, w = cols.cols, oh = rows.rows, ow = cols.rows;
  ATEBM_DISPATCH_FLOATING(x.dtype(), "resample_separable", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    // Pass 1, along W: tmp[p, ih, :] = cols · x[p, ih, :]  (kept in double).
    std::vector<double> tmp(static_cast<size_t>(planes * h * ow));
    parallel_for(0, planes * h, grain_for(static_cast<int64_t>(cols.idx.size())), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const scalar_t* xr = px + r * w;
        double* tr = tmp.data() + r * ow;
        for (int64_t o = 0; o < ow; ++o) {
          double acc = 0.0;
          for (int64_t k = cols.ptr[o]; k < cols.ptr[o + 1]; ++k)
            acc += cols.w[k] * static_cast<double>(xr[cols.idx[k]]);
          tr[o] = acc;
        }
      }
    });
    // Pass 2, along H: out[p, oy, :] = Σ_k rows.w[k] · tmp[p, rows.idx[k], :]  (rows of ow, vectorised).
    const int64_t taps_per_row = std::max<int64_t>(1, static_cast<int64_t>(rows.idx.size()) / std::max<int64_t>(oh, 1));
    parallel_for(0, planes * oh, grain_for(ow * taps_per_row), [&](int64_t b, int64_t e) {
      std::vector<double> acc(static_cast<size_t>(ow));
      for (int64_t r = b; r < e; ++r) {
        const int64_t p = r / oh, oy = r % oh;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t k = rows.ptr[oy]; k < rows.ptr[oy + 1]; ++k) {
          const double wk = rows.w[k];
          const double* tr = tmp.data() + (p * h + rows.idx[k]) * ow;
          for (int64_t o = 0; o < ow; ++o) acc[o] += wk * tr[o];
        }
        scalar_t* orow = po + r * ow;
        for (int64_t o = 0; o < ow; ++o) orow[o] = static_cast<scalar_t>(acc[o]);
      }
    });
  });
}

}  // namespace atebm::cpu
