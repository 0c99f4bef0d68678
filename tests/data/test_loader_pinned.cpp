// LoaderOptions::pin_memory: a clear error where pinned memory cannot exist (a CPU-only build or
// no visible GPU); with a GPU, batches in pinned memory holding exactly what an unpinned loader
// gives, resumable from its state, and uploading unchanged.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "common/gpu_test.h"
#include "at_ebm/data/loader.h"
#include "engine/device.h"
#include "engine/factories.h"
#include "engine/pinned.h"
#include "tests/data/data_test_util.h"

using namespace atebm;
using namespace atebm::data;
using atebm::data::testing::expect_error;

namespace {

// Image i: a ramp whose level encodes i; label i % 5.
class RampDataset : public Dataset {
 public:
  explicit RampDataset(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  ImageShape shape() const override { return {3, 5, 5}; }
  int64_t num_classes() const override { return 5; }
  std::string name() const override { return "ramp-set"; }
  int64_t get_into(int64_t i, float* out) const override {
    check_index(i);
    for (int64_t k = 0; k < 75; ++k) out[k] = static_cast<float>((i * 75 + k) % 499) / 499.0f;
    return i % 5;
  }

 private:
  int64_t n_;
};

LoaderOptions options(bool pinned) {
  return {.batch_size = 6, .seed = 77, .augment = parse_augment("crop=1,flip"), .num_workers = 2, .prefetch = 3,
          .pin_memory = pinned};
}

}  // namespace

TEST(LoaderPinned, NeedsTheCudaBackendAndAGpu) {
  auto ds = std::make_shared<RampDataset>(20);
  if (pinned_memory_available()) GTEST_SKIP() << "a GPU is visible: pinned loaders work (tested below)";
  const std::string why = cuda_built() ? "no CUDA device is visible" : "this build has no CUDA backend";
  expect_error([&] { Loader l(ds, options(true)); },
               {"Loader(ramp-set): pin_memory needs the CUDA backend and a visible GPU", why});
  Loader plain(ds, options(false));  // the default stays usable everywhere
  EXPECT_FALSE(is_pinned(plain.next().images));
}

namespace {

// A plain loader against one with pin_memory = `pinned` and otherwise the same options: the same
// batches (7 of them: 3 per epoch, so two epoch changes), uploading unchanged when pinned, and a
// loader of the second kind restored from the plain one's state continues identically. Run
// unpinned on the CPU in every build, it proves the sequence the pinned run relies on.
void expect_same_batches(bool pinned) {
  auto ds = std::make_shared<RampDataset>(20);
  Loader plain(ds, options(false));
  Loader other(ds, options(pinned));
  for (int i = 0; i < 7; ++i) {
    const Batch a = plain.next(), b = other.next();
    EXPECT_FALSE(is_pinned(a.images));
    EXPECT_EQ(is_pinned(b.images), pinned) << "batch " << i;
    EXPECT_EQ(is_pinned(b.labels), pinned) << "batch " << i;
    EXPECT_EQ(a.images.to_vector<float>(), b.images.to_vector<float>()) << "batch " << i;
    EXPECT_EQ(a.labels.to_vector<int64_t>(), b.labels.to_vector<int64_t>()) << "batch " << i;
    EXPECT_EQ(std::make_tuple(a.epoch, a.position, a.last_in_epoch), std::make_tuple(b.epoch, b.position, b.last_in_epoch));
    EXPECT_EQ(b.epoch, i / 3) << "batch " << i;
    if (pinned) {
      // The upload (asynchronous from pinned memory) delivers the same values.
      const Tensor g = copy_to(b.images, Device::cuda(), DType::Float32);
      EXPECT_EQ(g.to_vector<float>(), a.images.to_vector<float>()) << "batch " << i;
    }
  }
  // Resume-exact across the option: restored from the plain loader's state.
  Loader resumed(ds, options(pinned));
  resumed.load_state(plain.state());
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(plain.next().images.to_vector<float>(), resumed.next().images.to_vector<float>()) << "batch " << i;
}

}  // namespace

TEST(LoaderPinned, GivesTheSameBatchesInPinnedMemory) {
  ATEBM_SKIP_WITHOUT_GPU();  // pinned memory needs the CUDA backend and a visible GPU
  expect_same_batches(true);
}

TEST(LoaderPinned, SequenceOfThePinnedTestHoldsUnpinned) { expect_same_batches(false); }
