#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twin of ops/cpu/norm_cpu.cpp: one thread per element (grid-stride), the channel of flat
// position i being (i / S) mod C, which covers both the [N, C] (S = 1) and [N, C, S] layouts.
#include "engine/cuda/launch.cuh"
#include "ops/cuda/norm_cuda.h"
#include "ops/kernels/norm_math.h"

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

template <typename T>
__global__ void bn_eval_constants_kernel(const T* mean, const T* var, const T* weight, const T* bias, T eps,
                                         T* inv_std, T* scale, T* shift, T* mean_out, int64_t c) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < c; i += int64_t{gridDim.x} * blockDim.x) {
    const auto k = kernels::bn_eval_constants<T>(mean[i], var[i], weight, bias, i, eps);
    inv_std[i] = k.inv_std;
    scale[i] = k.scale;
    shift[i] = k.shift;
    mean_out[i] = mean[i];
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

void bn_eval_constants(const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, double eps, const Tensor& inv_std, const Tensor& scale,
                       const Tensor& shift, const Tensor& mean_out) {
  constexpr const char* op = "batch_norm";
  for (const Tensor* t : {&running_mean, &running_var, &weight, &bias, &inv_std, &scale, &shift, &mean_out}) {
    if (!t->defined()) continue;
    check_cuda_tensor(*t, op);
    ATEBM_CHECK(t->is_contiguous() && t->dtype() == running_mean.dtype() && t->device() == running_mean.device() &&
                    t->numel() == running_mean.numel(),
                "{} (cuda): expected contiguous [{}] {} tensors on {}, got shape {} strides {} dtype {} on {}", op,
                running_mean.numel(), running_mean.dtype(), running_mean.device(), shape_str(t->shape()),
                shape_str(t->strides()), t->dtype(), t->device());
  }
  const int64_t c = running_mean.numel();
  if (c == 0) return;
  DeviceGuard guard(running_mean.device());
  ATEBM_DISPATCH_FLOATING(running_mean.dtype(), op, [&] {
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data<scalar_t>() : nullptr; };
    ATEBM_LAUNCH(grid_for(c), kThreads, 0, current_stream(), bn_eval_constants_kernel<scalar_t>)
        (running_mean.data<scalar_t>(), running_var.data<scalar_t>(), ptr(weight), ptr(bias),
         static_cast<scalar_t>(eps), inv_std.data<scalar_t>(), scale.data<scalar_t>(), shift.data<scalar_t>(),
         mean_out.data<scalar_t>(), c);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace atebm::cuda
