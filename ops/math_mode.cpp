#include "ops/math_mode.h"

#include <atomic>
#include <string>

#include "engine/error.h"

namespace atebm {
namespace {

std::atomic<bool> g_allow_tf32{true};
std::atomic<ConvAlgo> g_conv_algo{ConvAlgo::Cudnn};

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

MathModeScope::MathModeScope(bool tf32, ConvAlgo algo) : tf32_(allow_tf32()), algo_(conv_algo()) {
  set_allow_tf32(tf32);
  set_conv_algo(algo);
}

MathModeScope::~MathModeScope() {
  set_allow_tf32(tf32_);
  set_conv_algo(algo_);
}

}  // namespace atebm
