// libFuzzer target: parse_idx must turn any byte string into either a validated header or an
// atebm::Error, and never crash or read out of bounds (ASan/UBSan watch). Every data byte the
// header promises is read, so a wrong size check shows up as an out-of-bounds read.
#include <cstddef>
#include <cstdint>

#include "at_ebm/data/idx.h"
#include "engine/error.h"

// Where the sums of the bytes read go, so that the reads cannot be optimised away.
volatile unsigned g_sink;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const atebm::data::IdxArray a = atebm::data::parse_idx(data, size, "fuzz-input");
    size_t n = a.elem_size;
    for (int64_t d : a.dims) n *= static_cast<size_t>(d);
    const uint8_t* p = data + a.data_offset;
    unsigned sum = 0;
    for (size_t i = 0; i < n; ++i) sum += p[i];
    g_sink = sum;
  } catch (const atebm::Error&) {
  }
  return 0;
}
