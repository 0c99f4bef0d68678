#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twin of cpu::resample_separable. The two sparse matrices (compressed rows) are uploaded
// as one int64 buffer [rows.ptr, rows.idx, cols.ptr, cols.idx] and one double buffer
// [rows.w, cols.w], both from the caching allocator. Pass 1 (along W) writes a double
// intermediate [planes·H, OW]; pass 2 (along H) reads it. One thread per element of each pass,
// taps summed in the matrices' order, as on the CPU.
#include <vector>

#include "engine/cuda/basic_kernels_cuda.h"
#include "engine/cuda/launch.cuh"
#include "engine/factories.h"
#include "ops/cuda/resize_cuda.h"

namespace atebm::cuda {
namespace {

// A compressed-row matrix on the device: entries (idx[k], w[k]) for k in [ptr[r], ptr[r + 1]).
struct DeviceMatrix {
  const int64_t* ptr;
  const int64_t* idx;
  const double* w;
};

// tmp[r, o] = Σ_k cols.w[k] · x[r, cols.idx[k]] for the rows r of x [rows_total, w].
template <typename T>
__global__ void resample_w_kernel(double* tmp, const T* x, DeviceMatrix cols, int64_t total, int64_t w, int64_t ow) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < total; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t o = t % ow, r = t / ow;
    const T* xr = x + r * w;
    double acc = 0.0;
    for (int64_t k = cols.ptr[o]; k < cols.ptr[o + 1]; ++k) acc += cols.w[k] * static_cast<double>(xr[cols.idx[k]]);
    tmp[t] = acc;
  }
}

// out[p, oy, o] = Σ_k rows.w[k] · tmp[p, rows.idx[k], o] for tmp [planes, h, ow].
template <typename T>
__global__ void resample_h_kernel(T* out, const double* tmp, DeviceMatrix rows, int64_t total, int64_t h, int64_t oh,
                                  int64_t ow) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < total; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t o = t % ow, r = t / ow, oy = r % oh, p = r / oh;
    double acc = 0.0;
    for (int64_t k = rows.ptr[oy]; k < rows.ptr[oy + 1]; ++k) acc += rows.w[k] * tmp[(p * h + rows.idx[k]) * ow + o];
    out[t] = static_cast<T>(acc);
  }
}

void check_matrix(const cpu::ResampleMatrix& m, const char* what) {
  ATEBM_CHECK(static_cast<int64_t>(m.ptr.size()) == m.rows + 1 && m.idx.size() == m.w.size() &&
                  m.ptr.back() == static_cast<int64_t>(m.idx.size()),
              "resample_separable (cuda): malformed {} matrix ({}×{}, {} row pointers, {} indices, {} weights)", what,
              m.rows, m.cols, m.ptr.size(), m.idx.size(), m.w.size());
  for (int64_t c : m.idx)  // the kernels index the data with these: keep them in bounds
    ATEBM_CHECK(c >= 0 && c < m.cols, "resample_separable (cuda): {} matrix entry in column {} of {}", what, c, m.cols);
}

}  // namespace

void resample_separable(const Tensor& out, const Tensor& x, const cpu::ResampleMatrix& rows,
                        const cpu::ResampleMatrix& cols) {
  constexpr const char* op = "resample_separable";
  check_contiguous_out(out, op);
  check_cuda_tensor(x, op);
  check_matrix(rows, "row");
  check_matrix(cols, "column");
  const int64_t h = rows.cols, w = cols.cols, oh = rows.rows, ow = cols.rows;
  ATEBM_CHECK(x.dim() == 4 && x.is_contiguous() && x.size(2) == h && x.size(3) == w && x.dtype() == out.dtype() &&
                  x.device() == out.device() && out.dim() == 4 && out.size(0) == x.size(0) &&
                  out.size(1) == x.size(1) && out.size(2) == oh && out.size(3) == ow,
              "{} (cuda): x {} ({}, strides {}) and out {} ({}) do not fit a {}×{} → {}×{} resample", op,
              shape_str(x.shape()), x.dtype(), shape_str(x.strides()), shape_str(out.shape()), out.dtype(), h, w, oh,
              ow);
  const int64_t planes = x.size(0) * x.size(1);
  if (out.numel() == 0) return;
  DeviceGuard guard(x.device());

  std::vector<int64_t> ints;
  ints.reserve(rows.ptr.size() + rows.idx.size() + cols.ptr.size() + cols.idx.size());
  for (const std::vector<int64_t>* v : {&rows.ptr, &rows.idx, &cols.ptr, &cols.idx})
    ints.insert(ints.end(), v->begin(), v->end());
  std::vector<double> weights(rows.w);
  weights.insert(weights.end(), cols.w.begin(), cols.w.end());
  const Tensor dints = empty({static_cast<int64_t>(ints.size())}, {.dtype = DType::Int64, .device = x.device()});
  const Tensor dweights =
      empty({static_cast<int64_t>(weights.size())}, {.dtype = DType::Float64, .device = x.device()});
  memcpy_h2d(dints.raw_data(), ints.data(), ints.size() * sizeof(int64_t));
  memcpy_h2d(dweights.raw_data(), weights.data(), weights.size() * sizeof(double));
  const int64_t* pi = dints.data<int64_t>();
  const double* pw = dweights.data<double>();
  const int64_t rows_nnz = static_cast<int64_t>(rows.idx.size());
  const DeviceMatrix drows{pi, pi + rows.ptr.size(), pw};
  const int64_t* cols_at = pi + rows.ptr.size() + rows.idx.size();
  const DeviceMatrix dcols{cols_at, cols_at + cols.ptr.size(), pw + rows_nnz};

  const int64_t tmp_n = planes * h * ow, out_n = out.numel();
  const Tensor tmp = empty({tmp_n}, {.dtype = DType::Float64, .device = x.device()});
  ATEBM_DISPATCH_FLOATING(x.dtype(), op, [&] {
    if (tmp_n > 0) {  // h = 0 (an empty input plane, reachable only through the kernel API): no taps
      ATEBM_LAUNCH(grid_for(tmp_n), kThreads, 0, current_stream(), resample_w_kernel<scalar_t>)
          (tmp.data<double>(), x.data<scalar_t>(), dcols, tmp_n, w, ow);
      ATEBM_CUDA_CHECK_LAUNCH();
    }
    ATEBM_LAUNCH(grid_for(out_n), kThreads, 0, current_stream(), resample_h_kernel<scalar_t>)
        (out.data<scalar_t>(), tmp.data<double>(), drows, out_n, h, oh, ow);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace atebm::cuda
