#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. Output block = philox(key, counter) is a pure function, so a stream
// is fully described by (seed, offset) and element i of any draw can be computed on its own —
// by a CPU loop or a CUDA thread — with identical bits. This header is shared by both.
//
// Stream definition used by every random factory (CPU and CUDA alike), for a draw of n values
// starting at generator offset `off` (in 128-bit blocks) with key = seed:
//   float32 uniform  : value i = top 24 bits of word (i % 4) of block off + i/4, times 2^-24
//   float64 uniform  : value i uses words 2(i%2), 2(i%2)+1 of block off + i/2 → 53 bits, × 2^-53
//   float32 normal   : Box–Muller on uniform pairs (words 0,1) and (2,3) of block off + i/4,
//                      value i%4 = {r0 cos θ0, r0 sin θ0, r1 cos θ1, r1 sin θ1}
//   float64 normal   : one Box–Muller pair per block off + i/2 (53-bit uniforms), {r cos θ, r sin θ}
// and the generator's offset then advances by the number of blocks used.
#include <cstdint>

#include "engine/host_device.h"

namespace atebm::philox {

struct Block {
  uint32_t w[4];
};

ATEBM_HD void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

/// 10 rounds of Philox4x32 on counter (c) with key (k).
ATEBM_HD Block philox4x32_10(uint64_t counter, uint64_t key, uint64_t stream = 0) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = static_cast<uint32_t>(stream), c3 = static_cast<uint32_t>(stream >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c0, hi0, lo0);
    mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Block{{c0, c1, c2, c3}};
}

ATEBM_HD float u24(uint32_t w) { return static_cast<float>(w >> 8) * (1.0f / 16777216.0f); }
ATEBM_HD double u53(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);  // 53 bits
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

}  // namespace atebm::philox
