// libFuzzer target: parse_cifar (both record layouts) must accept or reject any byte string with
// an atebm::Error, never crash or read out of bounds; accepted records are read in full.
#include <cstddef>
#include <cstdint>

#include "at_ebm/data/cifar.h"
#include "engine/error.h"

// Where the sums of the bytes read go, so that the reads cannot be optimised away.
volatile unsigned g_sink;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (auto kind : {atebm::data::CifarKind::Cifar10, atebm::data::CifarKind::Cifar100}) {
    try {
      const atebm::data::CifarBatch b = atebm::data::parse_cifar(data, size, kind, "fuzz-input");
      unsigned sum = 0;
      for (int64_t i = 0; i < b.count; ++i) {
        const uint8_t* r = data + static_cast<size_t>(i) * b.record_size;
        sum += r[b.label_offset];
        for (size_t k = 0; k < 3072; ++k) sum += r[b.image_offset + k];
      }
      g_sink = sum;
    } catch (const atebm::Error&) {
    }
  }
  return 0;
}
