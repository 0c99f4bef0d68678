#include "ops/cpu/norm_cpu.h"

#include <algorithm>

#include "engine/parallel.h"
#include "ops/kernels/norm_math.h"

namespace atebm::cpu {

void channel_affine(const Tensor& out, const Tensor& x, const Tensor& scale, const Tensor& shift) {
  const int64_t n = x.size(0), c = x.size(1);
  const int64_t s = (n * c) == 0 ? 0 : x.numel() / (n * c);
  ATEBM_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t* pa = scale.data<scalar_t>();
    const scalar_t* pb = shift.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    if (s == 1) {  // [N, C]: rows of C, the parameters line up with the row
      parallel_for(0, n, std::max<int64_t>(1, 32768 / std::max<int64_t>(c, 1)), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const scalar_t* xr = px + i * c;
          scalar_t* orow = po + i * c;
          for (int64_t j = 0; j < c; ++j) orow[j] = xr[j] * pa[j] + pb[j];
        }
      });
      return;
    }
    // [N, C, S]: one (n, c) plane per row with a constant scale and shift.
    parallel_for(0, n * c, std::max<int64_t>(1, 32768 / std::max<int64_t>(s, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const scalar_t a = pa[r % c], sh = pb[r % c];
        const scalar_t* xr = px + r * s;
        scalar_t* orow = po + r * s;
        for (int64_t k = 0; k < s; ++k) orow[k] = xr[k] * a + sh;
      }
    });
  });
}

void bn_eval_constants(const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, double eps, const Tensor& inv_std, const Tensor& scale,
                       const Tensor& shift, const Tensor& mean_out) {
  ATEBM_DISPATCH_FLOATING(running_mean.dtype(), "batch_norm", [&] {
    const scalar_t* pw = weight.defined() ? weight.data<scalar_t>() : nullptr;
    const scalar_t* pb = bias.defined() ? bias.data<scalar_t>() : nullptr;
    const scalar_t* pm = running_mean.data<scalar_t>();
    const scalar_t* pv = running_var.data<scalar_t>();
    for (int64_t c = 0; c < running_mean.numel(); ++c) {
      const auto k = kernels::bn_eval_constants<scalar_t>(pm[c], pv[c], pw, pb, c, static_cast<scalar_t>(eps));
      inv_std.data<scalar_t>()[c] = k.inv_std;
      scale.data<scalar_t>()[c] = k.scale;
      shift.data<scalar_t>()[c] = k.shift;
      mean_out.data<scalar_t>()[c] = pm[c];
    }
  });
}

}  // namespace atebm::cpu
