#pragma once
// The channels-last implicit-GEMM conv kernel (ops/cuda/conv_implicit_gemm_nhwc.cu), for the
// pipelined kernel's host code to dispatch to (PipelinedTile::Nhwc64, Nhwc128).
// Include from .cu files only, after engine/cuda/cuda_check.h.
#include <cstdint>

#include "ops/cuda/conv_implicit_gemm_shape.cuh"

namespace atebm::cuda::igemm {

/// Why the channels-last kernel with a 128 × bn tile (bn = 64 or 128), in TF32 or (split) in
/// 3xTF32, cannot run s on `device`, or null when it can.
const char* nhwc_unsupported(const ConvShape& s, int bn, bool split, int device);

/// Its reduction steps (kh·kw·ceil(C / 32): 32 channels of one tap each).
int nhwc_steps(const ConvShape& s);

/// How many parts it splits the reduction into (1: none), for a grid of `tiles` output tiles,
/// `steps` of its steps and a GPU with `sms` multiprocessors.
int nhwc_split_count(int64_t tiles, int64_t steps, int sms);

/// y = conv(x, w) + b (b may be null) on the current stream of `device` (current), in TF32 or
/// (split) in 3xTF32 (float32 accuracy), the reduction split in `splits` parts. Allocates the
/// channels-last copies of x and w (and the split workspace) from the caching allocator.
/// Requires nhwc_unsupported(s, bn, split, device) == null.
void conv2d_forward_nhwc(const ConvShape& s, int bn, bool split, int splits, int device, const float* x,
                         const float* w, const float* b, float* y);

}  // namespace atebm::cuda::igemm
