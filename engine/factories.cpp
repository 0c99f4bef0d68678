#include "engine/factories.h"

#include <cmath>
#include <cstring>

#include "engine/backend.h"
#include "engine/cpu/basic_kernels.h"
#include "engine/philox.h"
#include "engine/pinned.h"
#ifdef ATEBM_WITH_CUDA
#include "engine/cuda/basic_kernels_cuda.h"
#include "engine/cuda/pinned_allocator.h"
#endif

namespace atebm {
namespace {

Tensor finish(Tensor t, const TensorOptions& opt) {
  if (opt.requires_grad) t.set_requires_grad(true);
  return t;
}

Generator& gen_or_default(Generator* g) { return g != nullptr ? *g : default_generator(); }

// Philox blocks a draw of n values of `dtype` consumes (see engine/philox.h).
uint64_t blocks_for(int64_t n, DType dtype) {
  const int64_t per = dtype == DType::Float32 ? 4 : 2;
  return static_cast<uint64_t>((n + per - 1) / per);
}

TensorOptions no_grad(TensorOptions o) {
  o.requires_grad = false;
  return o;
}

// nbytes on opt.device, from the pinned host allocator when opt.pinned.
std::shared_ptr<Storage> make_storage(size_t nbytes, const TensorOptions& opt) {
  if (!opt.pinned) return std::make_shared<Storage>(nbytes, opt.device);
  ATEBM_CHECK(opt.device.is_cpu(), "empty: pinned memory is host memory; ask for a CPU tensor, not one on {}",
              opt.device);
  check_pinned_memory_available("empty(pinned = true)");
#ifdef ATEBM_WITH_CUDA
  return std::make_shared<Storage>(nbytes, opt.device, &cuda::pinned_allocator());
#else
  throw_no_cuda("empty(pinned = true)");  // not reached: the check above already threw
#endif
}

#ifdef ATEBM_WITH_CUDA
// The contiguous host tensor of `dtype` an upload of `src` copies from: src itself when it is one
// (no staging copy), else a converted copy, pinned when src is so that the upload stays a DMA.
Tensor upload_source(const Tensor& src, DType dtype) {
  if (src.is_contiguous() && src.dtype() == dtype) return src;
  Tensor s = empty(src.shape(), {.dtype = dtype, .pinned = is_pinned(src)});
  cpu::copy(s, src);
  return s;
}
#endif

}  // namespace

Tensor empty(const Shape& shape, TensorOptions opt) {
  for (int64_t s : shape) ATEBM_CHECK(s >= 0, "empty: negative size in shape {}", shape_str(shape));
  ATEBM_CHECK(opt.dtype != DType::BFloat16, "empty: dtype bfloat16 is reserved and has no kernels yet");
  const int64_t n = numel_of(shape);
  ATEBM_CHECK(n <= (int64_t{1} << 40), "empty: shape {} has {} elements, more than the 2^40 supported", shape_str(shape), n);
#ifdef ATEBM_WITH_CUDA
  if (opt.device.is_cuda()) cuda::init();
#else
  if (opt.device.is_cuda()) throw_no_cuda("empty");
#endif
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = make_storage(static_cast<size_t>(n) * dtype_size(opt.dtype), opt);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = opt.dtype;
  return finish(Tensor(std::move(impl)), opt);
}

void fill_into(const Tensor& dst, double value) {
  if (dst.device().is_cpu()) {
    wait_for_pinned_copies(dst);  // an upload from dst may still be reading it (engine/pinned.h)
    cpu::fill(dst, value);
  } else {
    ATEBM_CUDA_CALL("fill", cuda::fill(dst, value));
  }
  dst.storage()->bump_version();
}

Tensor full(const Shape& shape, double value, TensorOptions opt) {
  Tensor t = empty(shape, no_grad(opt));
  fill_into(t, value);
  return finish(t, opt);
}
Tensor zeros(const Shape& shape, TensorOptions opt) { return full(shape, 0.0, opt); }
Tensor ones(const Shape& shape, TensorOptions opt) { return full(shape, 1.0, opt); }

Tensor arange(double start, double end, double step, TensorOptions opt) {
  ATEBM_CHECK(step != 0.0, "arange: step must be non-zero");
  const double span = (end - start) / step;
  const auto n = static_cast<int64_t>(span > 0 ? std::ceil(span) : 0);
  Tensor t = empty({n}, no_grad(opt));
  if (t.device().is_cpu()) {
    cpu::arange(t, start, step);
  } else {
    ATEBM_CUDA_CALL("arange", cuda::arange(t, start, step));
  }
  return finish(t, opt);
}
Tensor arange(double end, TensorOptions opt) { return arange(0.0, end, 1.0, opt); }

Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions opt, Generator* gen) {
  ATEBM_CHECK(is_floating(opt.dtype), "uniform/rand: expected a float dtype, got {}", opt.dtype);
  Tensor t = empty(shape, no_grad(opt));
  const uint64_t off = gen_or_default(gen).take(blocks_for(t.numel(), opt.dtype));
  const uint64_t seed = gen_or_default(gen).seed();
  if (t.device().is_cpu()) {
    cpu::uniform(t, seed, off, lo, hi);
  } else {
    ATEBM_CUDA_CALL("uniform", cuda::uniform(t, seed, off, lo, hi));
  }
  return finish(t, opt);
}

Tensor normal(const Shape& shape, double mean, double std, TensorOptions opt, Generator* gen) {
  ATEBM_CHECK(is_floating(opt.dtype), "normal/randn: expected a float dtype, got {}", opt.dtype);
  Tensor t = empty(shape, no_grad(opt));
  const uint64_t off = gen_or_default(gen).take(blocks_for(t.numel(), opt.dtype));
  const uint64_t seed = gen_or_default(gen).seed();
  if (t.device().is_cpu()) {
    cpu::normal(t, seed, off, mean, std);
  } else {
    ATEBM_CUDA_CALL("normal", cuda::normal(t, seed, off, mean, std));
  }
  return finish(t, opt);
}

Tensor rand(const Shape& shape, TensorOptions opt, Generator* gen) { return uniform(shape, 0.0, 1.0, opt, gen); }
Tensor randn(const Shape& shape, TensorOptions opt, Generator* gen) { return normal(shape, 0.0, 1.0, opt, gen); }

Tensor randperm(int64_t n, Generator* gen) {
  ATEBM_CHECK(n >= 0, "randperm: expected n >= 0, got {}", n);
  Generator& g = gen_or_default(gen);
  Tensor t = empty({n}, {.dtype = DType::Int64});
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  // One Philox block per swap: j uniform in [0, i] from 64 random bits (bias < 2^-40 for n < 2^24).
  const uint64_t base = g.take(static_cast<uint64_t>(n));
  for (int64_t i = n - 1; i > 0; --i) {
    const philox::Block r = philox::philox4x32_10(base + static_cast<uint64_t>(i), g.seed());
    const uint64_t bits = (static_cast<uint64_t>(r.w[0]) << 32) | r.w[1];
    const auto j = static_cast<int64_t>(bits % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return t;
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor full_like(const Tensor& t, double v) { return full(t.shape(), v, {.dtype = t.dtype(), .device = t.device()}); }
Tensor rand_like(const Tensor& t, Generator* gen) { return rand(t.shape(), {.dtype = t.dtype(), .device = t.device()}, gen); }
Tensor randn_like(const Tensor& t, Generator* gen) { return randn(t.shape(), {.dtype = t.dtype(), .device = t.device()}, gen); }

template <typename T>
Tensor from_vector(const std::vector<T>& data, const Shape& shape, TensorOptions opt) {
  ATEBM_CHECK(static_cast<int64_t>(data.size()) == numel_of(shape),
              "from_vector: {} values cannot fill shape {} ({} elements)", data.size(), shape_str(shape),
              numel_of(shape));
  Tensor host = empty(shape, {.dtype = dtype_of<T>::value});
  if constexpr (std::is_same_v<T, bool>) {
    bool* p = host.data<bool>();
    for (size_t i = 0; i < data.size(); ++i) p[i] = data[i];
  } else {
    if (!data.empty()) std::memcpy(host.raw_data(), data.data(), data.size() * sizeof(T));
  }
  Tensor out = empty(shape, no_grad(opt));  // honours opt.pinned, unlike copy_to
  copy_into(out, host);
  return finish(out, opt);
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, TensorOptions);

Tensor from_vector(const std::vector<double>& data, TensorOptions opt) {
  return from_vector<double>(data, {static_cast<int64_t>(data.size())}, opt);
}

Tensor scalar_tensor(double value, TensorOptions opt) { return full({}, value, opt); }

void copy_into(const Tensor& dst, const Tensor& src) {
  ATEBM_CHECK(dst.shape() == src.shape(), "copy: destination shape {} differs from source shape {}",
              shape_str(dst.shape()), shape_str(src.shape()));
  wait_for_pinned_copies(dst);  // an upload from dst may still be reading it (engine/pinned.h)
  if (dst.device().is_cpu() && src.device().is_cpu()) {
    cpu::copy(dst, src);
  } else if (dst.device() == src.device()) {
    ATEBM_CUDA_CALL("copy", cuda::copy(dst, src));
  } else {
#ifdef ATEBM_WITH_CUDA
    // Cross-device: go through a contiguous tensor of dst's dtype on the source side. An upload
    // from pinned memory returns before the copy has run (see memcpy_h2d).
    if (src.device().is_cpu()) {
      const Tensor s = upload_source(src, dst.dtype());
      if (dst.is_contiguous()) {
        cuda::memcpy_h2d(dst.raw_data(), s.raw_data(), s.numel() * s.itemsize());
      } else {
        Tensor tmp = empty(dst.shape(), {.dtype = dst.dtype(), .device = dst.device()});
        cuda::memcpy_h2d(tmp.raw_data(), s.raw_data(), s.numel() * s.itemsize());
        cuda::copy(dst, tmp);
      }
    } else {
      Tensor s = src;
      if (!s.is_contiguous() || s.dtype() != dst.dtype()) {
        s = empty(src.shape(), {.dtype = dst.dtype(), .device = src.device()});
        cuda::copy(s, src);
      }
      if (dst.is_contiguous()) {
        cuda::memcpy_d2h(dst.raw_data(), s.raw_data(), s.numel() * s.itemsize());
      } else {
        Tensor tmp = empty(dst.shape(), {.dtype = dst.dtype()});
        cuda::memcpy_d2h(tmp.raw_data(), s.raw_data(), s.numel() * s.itemsize());
        cpu::copy(dst, tmp);
      }
    }
#else
    throw_no_cuda("copy");
#endif
  }
  dst.storage()->bump_version();
}

Tensor copy_to(const Tensor& t, Device device, DType dtype) {
  Tensor out = empty(t.shape(), {.dtype = dtype, .device = device});
  copy_into(out, t);
  return out;
}

Tensor contiguous_raw(const Tensor& t) { return t.is_contiguous() ? t : copy_to(t, t.device(), t.dtype()); }

}  // namespace atebm
