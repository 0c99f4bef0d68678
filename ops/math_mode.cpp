#include "ops/math_mode.h"

#include <atomic>

namespace atebm {
namespace {

std::atomic<bool> g_allow_tf32{true};
std::atomic<ConvAlgo> g_conv_algo{ConvAlgo::Cudnn};

}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool allow_tf32() { return g_allow_tf32.load(); }

void set_conv_algo(ConvAlgo algo) { g_conv_algo.store(algo); }
ConvAlgo conv_algo() { return g_conv_algo.load(); }

}  // namespace atebm
