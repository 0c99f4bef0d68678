#include "ops/math_mode.h"

#include <atomic>
#include <string>

#include "engine/error.h"

namespace atebm {
namespace {

std::atomic<bool> g_allow_tf32{true};
std::atomic<ConvAlgo> g_conv_algo{ConvAlgo::Cudnn};
std::atomic<CudnnAlgoSearch> g_cudnn_algo_search{CudnnAlgoSearch::Heuristic};

}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool allow_tf32() { return g_allow_tf32.load(); }

void set_conv_algo(ConvAlgo algo) { g_conv_algo.store(algo); }
ConvAlgo conv_algo() { return g_conv_algo.load(); }

ConvAlgo conv_algo_from_name(std::string_view name) {
  for (ConvAlgo a : {ConvAlgo::Cudnn, ConvAlgo::ImplicitGemm, ConvAlgo::ImplicitGemmPipelined})
    if (name == conv_algo_name(a)) return a;
  ATEBM_FAIL("conv algorithm \"{}\": expected \"cudnn\", \"implicit_gemm\" or \"implicit_gemm_pipelined\"",
             std::string(name));
}

const char* conv_algo_name(ConvAlgo algo) {
  switch (algo) {
    case ConvAlgo::ImplicitGemm:
      return "implicit_gemm";
    case ConvAlgo::ImplicitGemmPipelined:
      return "implicit_gemm_pipelined";
    case ConvAlgo::Cudnn:
      break;
  }
  return "cudnn";
}

void set_cudnn_algo_search(CudnnAlgoSearch search) { g_cudnn_algo_search.store(search); }
CudnnAlgoSearch cudnn_algo_search() { return g_cudnn_algo_search.load(); }

CudnnAlgoSearch cudnn_algo_search_from_name(std::string_view name) {
  for (CudnnAlgoSearch s : {CudnnAlgoSearch::Heuristic, CudnnAlgoSearch::Measured})
    if (name == cudnn_algo_search_name(s)) return s;
  ATEBM_FAIL("cuDNN algorithm search \"{}\": expected \"heuristic\" or \"measured\"", std::string(name));
}

const char* cudnn_algo_search_name(CudnnAlgoSearch search) {
  return search == CudnnAlgoSearch::Measured ? "measured" : "heuristic";
}

MathMode math_mode() { return {allow_tf32(), conv_algo(), cudnn_algo_search()}; }

void set_math_mode(const MathMode& mode) {
  set_allow_tf32(mode.tf32);
  set_conv_algo(mode.conv_algo);
  set_cudnn_algo_search(mode.cudnn_algo_search);
}

MathModeScope::MathModeScope(bool tf32, ConvAlgo algo, CudnnAlgoSearch search) : saved_(math_mode()) {
  set_math_mode({tf32, algo, search});
}

MathModeScope::~MathModeScope() { set_math_mode(saved_); }

}  // namespace atebm
