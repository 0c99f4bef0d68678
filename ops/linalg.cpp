#include "ops/linalg.h"

#include "engine/backend.h"
#include "ops/arith.h"
#include "ops/cpu/gemm_cpu.h"
#include "ops/cuda/gemm_cuda.h"
#include "ops/detail.h"
#include "ops/shape_ops.h"

namespace atebm {
namespace {

// How GEMM reads the matrices of a [.., r, c] tensor: in place (row-major, or column-major
// with the transpose flag) or from a contiguous copy when neither layout fits (e.g. expanded
// stride-0 views, or every-other-column slices).
struct GemmOperand {
  Tensor t;            // the tensor read (the input itself, or its contiguous copy)
  bool trans = false;  // stored column-major: GEMM reads it with the transpose flag
  int64_t ld = 0;      // leading dimension of the stored layout
  int64_t batch_stride = 0;
};

GemmOperand gemm_operand(const Tensor& t) {
  const int64_t nd = t.dim();
  const int64_t r = t.shape()[nd - 2], c = t.shape()[nd - 1];
  const int64_t sr = t.strides()[nd - 2], sc = t.strides()[nd - 1];
  GemmOperand op{t, false, 0, nd == 3 ? t.strides()[0] : 0};
  if ((c == 1 || sc == 1) && (r == 1 || sr >= c)) {  // row-major: rows sr apart
    op.ld = r == 1 ? std::max<int64_t>(c, 1) : sr;
    return op;
  }
  if ((r == 1 || sr == 1) && (c == 1 || sc >= r)) {  // column-major: columns sc apart
    op.trans = true;
    op.ld = c == 1 ? std::max<int64_t>(r, 1) : sc;
    return op;
  }
  op.t = copy_to(t, t.device(), t.dtype());
  op.ld = c;
  op.batch_stride = r * c;
  return op;
}

template <typename T>
void matmul_cpu(const Tensor& out, const GemmOperand& a, const GemmOperand& b, int64_t batch, int64_t m, int64_t n,
                int64_t k) {
  const T* pa = a.t.data<T>();
  const T* pb = b.t.data<T>();
  T* pc = out.data<T>();
  for (int64_t i = 0; i < batch; ++i)
    cpu::gemm(a.trans, b.trans, m, n, k, T(1), pa + i * a.batch_stride, a.ld, pb + i * b.batch_stride, b.ld, T(0),
              pc + i * m * n, n);
}

#ifdef ATEBM_WITH_CUDA
// The whole batch in one cuBLAS call: the operands' batch strides are uniform (a 3-D view, or
// its contiguous copy; 0 for a single matrix), and out is contiguous.
template <typename T>
void matmul_cuda(const Tensor& out, const GemmOperand& a, const GemmOperand& b, int64_t batch, int64_t m, int64_t n,
                 int64_t k) {
  cuda::gemm_strided_batched(a.trans, b.trans, m, n, k, T(1), a.t.data<T>(), a.ld, a.batch_stride, b.t.data<T>(), b.ld,
                             b.batch_stride, T(0), out.data<T>(), n, m * n, batch);
}
#endif

Tensor matmul_raw(const Tensor& a, const Tensor& b) {
  const bool batched = a.dim() == 3;
  const int64_t batch = batched ? a.shape()[0] : 1;
  const int64_t m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1], n = b.shape()[b.dim() - 1];
  Tensor out = detail::new_like(a, batched ? Shape{batch, m, n} : Shape{m, n});
  const GemmOperand ga = gemm_operand(a), gb = gemm_operand(b);
  if (a.device().is_cuda()) {
    ATEBM_CUDA_CALL("matmul", a.dtype() == DType::Float32 ? matmul_cuda<float>(out, ga, gb, batch, m, n, k)
                                                          : matmul_cuda<double>(out, ga, gb, batch, m, n, k));
  } else if (a.dtype() == DType::Float32) {
    matmul_cpu<float>(out, ga, gb, batch, m, n, k);
  } else {
    matmul_cpu<double>(out, ga, gb, batch, m, n, k);
  }
  return out;
}

void check_matmul(const Tensor& a, const Tensor& b) {
  detail::check_same("matmul", a, b);
  detail::check_floating("matmul", a);
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  ATEBM_CHECK((a.dim() == 2 || a.dim() == 3) && a.dim() == b.dim(),
              "matmul: expected two 2-D [m, k] × [k, n] or two 3-D [B, m, k] × [B, k, n] tensors, got {} × {}",
              shape_str(sa), shape_str(sb));
  ATEBM_CHECK(a.dim() == 2 || sa[0] == sb[0], "matmul: batch sizes differ in {} × {} ({} vs {}; no broadcasting)",
              shape_str(sa), shape_str(sb), sa[0], sb[0]);
  ATEBM_CHECK(sa[a.dim() - 1] == sb[b.dim() - 2], "matmul: cannot multiply {} by {} (inner dims {} vs {})",
              shape_str(sa), shape_str(sb), sa[a.dim() - 1], sb[b.dim() - 2]);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul(a, b);
  Tensor out = matmul_raw(a, b);
  if (any_requires_grad({a, b})) {
    const bool na = a.requires_grad(), nb = b.requires_grad();
    // Each operand is needed only for the other one's gradient.
    record("matmul", {a, b}, {out},
           [na, nb, a_ = SavedTensor(nb ? a : Tensor()),
            b_ = SavedTensor(na ? b : Tensor())](const Tensors& g) -> Tensors {
             return {na ? matmul(g[0], transpose(b_.unpack(), -1, -2)) : Tensor(),
                     nb ? matmul(transpose(a_.unpack(), -1, -2), g[0]) : Tensor()};
           });
  }
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_defined("linear", x, "input x");
  detail::check_defined("linear", w, "weight w");
  ATEBM_CHECK(x.dim() >= 1 && w.dim() == 2 && x.shape().back() == w.shape()[1],
              "linear: expected x [..., in] and w [out, in] with the same in, got x {} and w {}", shape_str(x.shape()),
              shape_str(w.shape()));
  ATEBM_CHECK(!b.defined() || (b.dim() == 1 && b.shape()[0] == w.shape()[0]),
              "linear: bias must be [out] = [{}] for w {}, got {}", w.shape()[0], shape_str(w.shape()),
              shape_str(b.shape()));
  if (b.defined()) detail::check_same("linear", x, b);
  // Flatten leading dims so the product is one GEMM; transpose(w) is read in place.
  const bool flat = x.dim() == 2;
  const Tensor x2 = flat ? x : reshape(x, {-1, x.shape().back()});
  Tensor y = matmul(x2, transpose(w, 0, 1));
  if (b.defined()) y = add(y, b);
  if (flat) return y;
  Shape out_shape = x.shape();
  out_shape.back() = w.shape()[0];
  return reshape(y, out_shape);
}

}  // namespace atebm
