// libFuzzer target for .npy and .npz: an input starting with "PK" goes through the zip reader
// (every entry inflated and parsed as .npy), any other through the .npy parser and the image
// dataset built on it (every image decoded). Any outcome but a value or an atebm::Error — a
// crash, an out-of-bounds read, a leak — is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "at_ebm/data/npy.h"
#include "at_ebm/data/zip_archive.h"
#include "engine/error.h"

namespace {
void as_images(std::vector<uint8_t> bytes) {
  const atebm::data::DatasetPtr ds = atebm::data::npy_dataset(std::move(bytes), "fuzz-input");
  std::vector<float> img(static_cast<size_t>(ds->shape().numel()));
  for (int64_t i = 0; i < ds->size() && i < 64; ++i) ds->get_into(i, img.data());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
      for (const auto& e : atebm::data::zip_entries(data, size, "fuzz-input")) {
        try {
          as_images(atebm::data::zip_read(data, size, e, "fuzz-input"));
        } catch (const atebm::Error&) {
        }
      }
    } else {
      atebm::data::parse_npy(data, size, "fuzz-input");
      as_images(std::vector<uint8_t>(data, data + size));
    }
  } catch (const atebm::Error&) {
  }
  return 0;
}
