#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twin of ops/cpu/norm_cpu.cpp: one thread per element (grid-stride), the channel of flat
// position i being (i / S) mod C, which covers both the [N, C] (S = 1) and [N, C, S] layouts.
#include "engine/cuda/launch.cuh"
#include "ops/cuda/norm_cuda.h"

namespace atebm::cuda {
namespace {

template <typename T>
__global__ void channel_affine_kernel(T* out, const T* x, const T* scale, const T* shift, int64_t n, int64_t c,
                                      int64_t s) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ch = (i / s) % c;
    out[i] = x[i] * scale[ch] + shift[ch];
  }
}

}  // namespace

void channel_affine(const Tensor& out, const Tensor& x, const Tensor& scale, const Tensor& shift) {
  constexpr const char* op = "batch_norm";
  check_contiguous_out(out, op);
  for (const Tensor* t : {&x, &scale, &shift}) {
    check_cuda_tensor(*t, op);
    ATEBM_CHECK(t->is_contiguous() && t->dtype() == x.dtype() && t->device() == x.device(),
                "{} (cuda): expected contiguous {} tensors on {}, got shape {} strides {} dtype {} on {}", op,
                x.dtype(), x.device(), shape_str(t->shape()), shape_str(t->strides()), t->dtype(), t->device());
  }
  const int64_t n = x.numel();
  if (n == 0) return;
  const int64_t c = x.size(1), s = n / (x.size(0) * c);
  DeviceGuard guard(x.device());
  ATEBM_DISPATCH_FLOATING(x.dtype(), op, [&] {
    ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), channel_affine_kernel<scalar_t>)
        (out.data<scalar_t>(), x.data<scalar_t>(), scale.data<scalar_t>(), shift.data<scalar_t>(), n, c, s);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace atebm::cuda
