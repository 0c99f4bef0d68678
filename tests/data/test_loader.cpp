// The loader: exact resume from a saved state, the same batches whatever the thread count,
// shuffling that visits every index once per epoch, drop_last, and error propagation.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <set>

#include "at_ebm/data/loader.h"
#include "at_ebm/data/spec.h"
#include "at_ebm/data/synthetic.h"
#include "tests/data/data_test_util.h"

using namespace atebm;
using namespace atebm::data;
using atebm::data::testing::expect_error;

namespace {

// Image i holds a ramp whose level encodes i (so augmentation changes it visibly); label = i.
class IndexDataset : public Dataset {
 public:
  IndexDataset(int64_t n, int64_t fail_at = -1) : n_(n), fail_at_(fail_at) {}
  int64_t size() const override { return n_; }
  ImageShape shape() const override { return {2, 6, 6}; }
  int64_t num_classes() const override { return n_; }
  std::string name() const override { return "index-set"; }
  int64_t get_into(int64_t i, float* out) const override {
    check_index(i);
    if (i == fail_at_) throw atebm::Error(fmt::format("index-set: image {} is broken", i));
    for (int64_t k = 0; k < 72; ++k) out[k] = static_cast<float>((i * 72 + k) % 997) / 997.0f;
    return i;
  }

 private:
  int64_t n_, fail_at_;
};

std::vector<std::vector<float>> take(Loader& l, int n, std::vector<int64_t>* labels = nullptr) {
  std::vector<std::vector<float>> out;
  for (int i = 0; i < n; ++i) {
    const Batch b = l.next();
    out.push_back(b.images.to_vector<float>());
    if (labels) {
      const auto lab = b.labels.to_vector<int64_t>();
      labels->insert(labels->end(), lab.begin(), lab.end());
    }
  }
  return out;
}

LoaderOptions opts(int workers) {
  LoaderOptions o;
  o.batch_size = 8;
  o.seed = 1234;
  o.augment = parse_augment("crop=2,flip");
  o.num_workers = workers;
  o.prefetch = 3;
  return o;
}

}  // namespace

TEST(Loader, ResumesWithBitIdenticalBatches) {
  auto ds = std::make_shared<IndexDataset>(30);  // 3 batches per epoch: 7 batches cross 2 epochs
  Loader a(ds, opts(2));
  const auto first3 = take(a, 3);
  const LoaderState saved = a.state();
  EXPECT_EQ(saved, (LoaderState{1234, 1, 0}));
  const auto tensors = a.state_tensors("p0.");
  const auto next4 = take(a, 4);

  // A new loader (another seed in its options, other thread count) restored from the tensors.
  LoaderOptions o = opts(3);
  o.seed = 999;
  Loader b(ds, o);
  take(b, 2);  // prefetched work from the old position must be discarded
  b.load_state_tensors(tensors, "p0.");
  EXPECT_EQ(b.state(), saved);
  const auto resumed = take(b, 4);
  ASSERT_EQ(resumed.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(resumed[i], next4[i]) << "batch " << 3 + i;

  // Mid-epoch too, through the plain struct.
  Loader c(ds, opts(0));
  take(c, 1);
  const LoaderState mid = c.state();
  EXPECT_EQ(mid.position, 8);
  const auto c_rest = take(c, 3);
  Loader d(ds, opts(1));
  d.load_state(mid);
  EXPECT_EQ(take(d, 3), c_rest);
}

TEST(Loader, SameBatchesWhateverTheThreads) {
  auto ds = std::make_shared<IndexDataset>(50);
  Loader l0(ds, opts(0)), l1(ds, opts(1)), l4(ds, opts(4));
  const auto a = take(l0, 14), b = take(l1, 14), c = take(l4, 14);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
}

TEST(Loader, ShufflesEveryIndexOncePerEpoch) {
  auto ds = std::make_shared<IndexDataset>(37);
  LoaderOptions o = opts(2);
  o.drop_last = false;
  Loader l(ds, o);
  EXPECT_EQ(l.batches_per_epoch(), 5);
  std::vector<int64_t> labels;
  std::vector<int64_t> sizes;
  for (int e = 0; e < 2; ++e) {
    std::vector<int64_t> epoch_labels;
    for (int b = 0; b < 5; ++b) {
      const Batch batch = l.next();
      EXPECT_EQ(batch.epoch, e);
      EXPECT_EQ(batch.last_in_epoch, b == 4);
      sizes.push_back(batch.images.size(0));
      const auto lab = batch.labels.to_vector<int64_t>();
      epoch_labels.insert(epoch_labels.end(), lab.begin(), lab.end());
    }
    EXPECT_EQ(std::set<int64_t>(epoch_labels.begin(), epoch_labels.end()).size(), 37u);
    EXPECT_EQ(epoch_labels.size(), 37u);
    EXPECT_EQ(epoch_labels, l.epoch_order(e));
    labels.insert(labels.end(), epoch_labels.begin(), epoch_labels.end());
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{8, 8, 8, 8, 5, 8, 8, 8, 8, 5}));
  EXPECT_NE(std::vector<int64_t>(labels.begin(), labels.begin() + 37), std::vector<int64_t>(labels.begin() + 37, labels.end()));

  // drop_last: 4 full batches, the same first 32 of each epoch's permutation.
  Loader d(ds, opts(1));
  EXPECT_EQ(d.batches_per_epoch(), 4);
  std::vector<int64_t> dl;
  take(d, 4, &dl);
  EXPECT_EQ(dl, std::vector<int64_t>(labels.begin(), labels.begin() + 32));
  EXPECT_EQ(d.state().epoch, 1);

  // Without shuffling: in order, and without augmentation the images are the dataset's own.
  LoaderOptions plain;
  plain.batch_size = 10;
  plain.shuffle = false;
  plain.num_workers = 1;
  Loader p(ds, plain);
  const Batch b = p.next();
  EXPECT_EQ(b.labels.to_vector<int64_t>()[3], 3);
  const std::vector<float> px = b.images.to_vector<float>();
  EXPECT_EQ(std::vector<float>(px.begin() + 72, px.begin() + 144), ds->get(1).image);
  EXPECT_EQ(b.images.shape(), (Shape{10, 2, 6, 6}));
}

TEST(Loader, ReportsErrorsAndBadOptions) {
  auto bad = std::make_shared<IndexDataset>(20, 5);
  LoaderOptions o = opts(2);
  o.shuffle = false;
  Loader l(bad, o);
  expect_error([&] { l.next(); }, {"index-set: image 5 is broken"});
  expect_error([&] { l.next(); }, {"image 5"});  // stays at the failing batch
  o.num_workers = 0;  // the same on the calling thread
  Loader s(bad, o);
  expect_error([&] { s.next(); }, {"image 5 is broken"});
  expect_error([&] { s.next(); }, {"image 5 is broken"});

  auto ds = std::make_shared<IndexDataset>(5);
  expect_error([&] { Loader x(ds, opts(1)); }, {"index-set", "5 images are fewer than one batch of 8"});
  LoaderOptions z = opts(1);
  z.batch_size = 0;
  expect_error([&] { Loader x(ds, z); }, {"batch_size must be >= 1"});
  auto ds20 = std::make_shared<IndexDataset>(20);
  Loader m(ds20, opts(1));
  expect_error([&] { m.load_state({1, 0, 3}); }, {"position 3", "not a batch boundary"});
  expect_error([&] { m.load_state({1, 0, 16}); }, {"position 16"});  // drop_last: only 2 batches
  expect_error([&] { m.load_state_tensors({}, "x."); }, {"state tensor 'x.epoch' is missing"});
}

TEST(Loader, CyclesARealDataset) {
  const std::string dir = atebm::data::testing::shared_data_dir() + "/mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "no MNIST under " << dir;
  LoaderOptions o;
  o.batch_size = 400;
  o.augment = parse_augment("crop=2,flip");
  Loader l(open_dataset("mnist:" + dir + ":test@first=1000"), o);
  for (int i = 0; i < 5; ++i) {
    const Batch b = l.next();
    EXPECT_EQ(b.images.shape(), (Shape{400, 1, 28, 28}));
    EXPECT_EQ(b.epoch, i / 2);  // 2 full batches per epoch (drop_last)
  }
}

// Data parallelism: the shards of a global batch are disjoint, together form exactly the batch
// (same samples, same augmentation) an unsharded loader returns, and share its state.
TEST(Loader, ShardsTogetherFormTheUnshardedBatch) {
  auto ds = std::make_shared<IndexDataset>(30);
  Loader whole(ds, opts(2));
  LoaderOptions o0 = opts(1), o1 = opts(0);  // the thread count never changes a batch
  o0.shard_count = o1.shard_count = 2;
  o1.shard_index = 1;
  Loader s0(ds, o0), s1(ds, o1);
  for (int i = 0; i < 7; ++i) {  // across an epoch boundary
    const Batch w = whole.next(), a = s0.next(), b = s1.next();
    ASSERT_EQ(a.images.shape(), (Shape{4, 2, 6, 6}));
    std::vector<float> joined = a.images.to_vector<float>();
    const std::vector<float> second = b.images.to_vector<float>();
    joined.insert(joined.end(), second.begin(), second.end());
    EXPECT_EQ(joined, w.images.to_vector<float>()) << "batch " << i;
    std::vector<int64_t> labels = a.labels.to_vector<int64_t>();
    const std::vector<int64_t> lb = b.labels.to_vector<int64_t>();
    labels.insert(labels.end(), lb.begin(), lb.end());
    EXPECT_EQ(labels, w.labels.to_vector<int64_t>()) << "batch " << i;
    EXPECT_EQ(a.position, w.position);
    EXPECT_EQ(s0.state(), whole.state());
    EXPECT_EQ(s1.state(), whole.state());
  }
}

TEST(Loader, RejectsShardsThatDoNotDivideTheBatch) {
  auto ds = std::make_shared<IndexDataset>(30);
  LoaderOptions o = opts(0);
  o.shard_count = 3;  // 8 rows do not split in 3
  expect_error([&] { Loader l(ds, o); }, {"batch_size (8) divisible by shard_count (3)"});
  o.shard_count = 2;
  o.shard_index = 2;
  expect_error([&] { Loader l(ds, o); }, {"shard_index 2 is outside [0, shard_count = 2)"});
  o.shard_index = 0;
  o.drop_last = false;
  expect_error([&] { Loader l(ds, o); }, {"sharding needs drop_last"});
}
