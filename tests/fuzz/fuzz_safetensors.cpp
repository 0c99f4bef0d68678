// libFuzzer target: parse_safetensors must turn any byte string into either a file or an
// atebm::Error, and never crash, hang, leak or read out of bounds (ASan/UBSan watch).
// Build and run: see tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>

#include "nn/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const atebm::nn::SafetensorsFile f = atebm::nn::parse_safetensors(data, size, "fuzz-input");
    // Touch what was decoded so that a wrong size or offset shows up as an out-of-bounds read.
    size_t bytes = 0;
    for (const auto& [name, t] : f.tensors) {
      const auto* p = static_cast<const volatile uint8_t*>(t.numel() > 0 ? t.raw_data() : nullptr);
      const size_t n = static_cast<size_t>(t.numel()) * t.itemsize();
      for (size_t i = 0; i < n; ++i) bytes += p[i];
    }
    (void)bytes;
  } catch (const atebm::Error&) {
    // Rejected input: the expected outcome for almost every mutation.
  }
  return 0;
}
