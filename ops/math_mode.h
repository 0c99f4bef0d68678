#pragma once
// Process-wide numeric switches of the CUDA backend (plain C++: compiled in every build, so code
// and tests can set them whether or not CUDA is there; without CUDA they change nothing).
//
// allow_tf32 (default: true)
//   Whether float32 matrix products and convolutions on the GPU may run on tensor cores in
//   TF32: the inputs are rounded to a 10-bit mantissa (about 3 decimal digits), products are
//   accumulated in float32. That is 5–10× faster on Ampere/Hopper and what training wants (the
//   default of PyTorch's cuDNN convolutions too); relative errors grow from ~1e-6 to ~1e-3, so
//   tests that compare the GPU with the CPU turn it off first. It reaches
//     - cuBLAS (ops/cuda/gemm.cu): CUBLAS_COMPUTE_32F_FAST_TF32 instead of CUBLAS_COMPUTE_32F;
//     - cuDNN (ops/cuda/conv_cudnn.cu): CUDNN_DEFAULT_MATH (TF32 permitted) instead of
//       CUDNN_FMA_MATH (plain FP32 FMA kernels only);
//     - the implicit-GEMM conv kernel (ops/cuda/conv_implicit_gemm.cu): WMMA TF32 tiles instead
//       of FP32 FMA tiles.
//   float64 never uses TF32. The value is read when an op is issued, so flipping it between ops
//   takes effect at once (cuDNN algorithms are cached per value).
//
// conv_algo (default: ConvAlgo::Cudnn)
//   Which kernel runs conv2d FORWARD on a CUDA tensor: cuDNN, or one of the hand-written
//   implicit-GEMM kernels (for teaching and comparison; the two gradients always run through
//   cuDNN): ImplicitGemm, the teaching kernel (ops/cuda/conv_implicit_gemm.cu), or
//   ImplicitGemmPipelined, the same GEMM with cp.async stages, larger warp tiles and split-K
//   (ops/cuda/conv_implicit_gemm_pipelined.cu; its TF32 path only: without TF32 it runs the
//   teaching kernel's FMA tiles).
//
// cudnn_algo_search (default: CudnnAlgoSearch::Heuristic)
//   How the engine picks cuDNN's algorithm for a conv problem, once per problem and process
//   (ops/cuda/conv_cudnn_cuda.h): Heuristic takes cuDNN's heuristic ranking (no GPU work, the
//   same choice in every run, so the same bits); Measured times every candidate on the first
//   call of a problem (cudnnFind*AlgorithmEx, like PyTorch's torch.backends.cudnn.benchmark)
//   and keeps the fastest. Either way only deterministic algorithms within the precision asked
//   for are taken. Measured can pick differently in two runs when candidates nearly tie, so
//   two runs may differ in the last bits.
//
// All three are atomics: set them from any thread, but a change in the middle of another
// thread's op may or may not apply to that op. MathModeScope sets them for a scope (a training
// run, a benchmark, a test) and restores the previous values when it ends.
#include <string_view>

namespace atebm {

void set_allow_tf32(bool allow);
bool allow_tf32();

enum class ConvAlgo { Cudnn, ImplicitGemm, ImplicitGemmPipelined };
void set_conv_algo(ConvAlgo algo);
ConvAlgo conv_algo();

/// "cudnn", "implicit_gemm", "implicit_gemm_pipelined" (the names configs use) and back; an
/// unknown name throws an Error that lists the known ones.
ConvAlgo conv_algo_from_name(std::string_view name);
const char* conv_algo_name(ConvAlgo algo);

enum class CudnnAlgoSearch { Heuristic, Measured };
void set_cudnn_algo_search(CudnnAlgoSearch search);
CudnnAlgoSearch cudnn_algo_search();

/// "heuristic", "measured" and back; an unknown name throws an Error that lists both.
CudnnAlgoSearch cudnn_algo_search_from_name(std::string_view name);
const char* cudnn_algo_search_name(CudnnAlgoSearch search);

/// The three switches together: what a run was trained with (train.tf32, train.conv_algo,
/// train.cudnn_algo_search), what a command applies. Defaults: the process defaults above.
struct MathMode {
  bool tf32 = true;
  ConvAlgo conv_algo = ConvAlgo::Cudnn;
  CudnnAlgoSearch cudnn_algo_search = CudnnAlgoSearch::Heuristic;
};
/// The current values, and all three set at once.
MathMode math_mode();
void set_math_mode(const MathMode& mode);

class MathModeScope {
 public:
  /// `search` defaults to the current value (kept, and restored: a no-op).
  MathModeScope(bool tf32, ConvAlgo algo, CudnnAlgoSearch search = cudnn_algo_search());
  ~MathModeScope();
  MathModeScope(const MathModeScope&) = delete;
  MathModeScope& operator=(const MathModeScope&) = delete;

 private:
  MathMode saved_;
};

}  // namespace atebm
