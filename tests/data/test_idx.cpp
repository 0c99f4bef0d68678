// IDX: small files written here (raw and gzip), every malformed-header case, and the real MNIST
// test split and Fashion-MNIST when present.
#include <filesystem>

#include "at_ebm/data/idx.h"
#include "at_ebm/data/spec.h"
#include "tests/data/data_test_util.h"

using namespace atebm::data;
using namespace atebm::data::testing;

namespace {
Bytes ramp(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7);
  return b;
}
}  // namespace

TEST(Idx, ReadsRawAndGzipWithLabels) {
  TempDir dir;
  const Bytes px = ramp(3 * 2 * 4);
  write_bytes(dir.file("img"), idx_bytes(0x08, {3, 2, 4}, px));
  write_gz(dir.file("img.gz"), idx_bytes(0x08, {3, 2, 4}, px));
  write_gz(dir.file("lab.gz"), idx_bytes(0x08, {3}, {4, 0, 9}));
  for (const std::string img : {"img", "img.gz"}) {
    const DatasetPtr ds = open_idx(dir.file(img), dir.file("lab.gz"));
    ASSERT_EQ(ds->size(), 3);
    EXPECT_EQ(ds->shape(), (ImageShape{1, 2, 4}));
    EXPECT_EQ(ds->num_classes(), 10);
    const Sample s = ds->get(1);
    EXPECT_EQ(s.label, 0);
    for (int k = 0; k < 8; ++k) EXPECT_FLOAT_EQ(s.image[k], px[8 + k] / 255.0f);
  }
  const DatasetPtr unlabeled = open_idx(dir.file("img"));
  EXPECT_FALSE(unlabeled->has_labels());
  EXPECT_EQ(unlabeled->get(2).label, -1);
}

TEST(Idx, ParseRejectsBadHeaders) {
  const std::string n = "buf";
  auto parse = [&](const Bytes& b) { return parse_idx(b.data(), b.size(), n); };
  expect_error([&] { parse({0, 0}); }, {"buf", "shorter than the 4-byte header"});
  expect_error([&] { parse({0x1f, 0x8b, 8, 1, 0, 0, 0, 0}); }, {"buf", "magic"});
  expect_error([&] { parse({0, 0, 0x07, 1, 0, 0, 0, 0}); }, {"buf", "unknown IDX element type 0x07"});
  expect_error([&] { parse({0, 0, 8, 0}); }, {"0 dimensions"});
  expect_error([&] { parse({0, 0, 8, 3, 0, 0, 0, 1}); }, {"truncated IDX header"});
  expect_error([&] { parse(idx_bytes(8, {2, 2, 2}, Bytes(7))); }, {"buf", "truncated", "2 x 2 x 2", "7 data bytes"});
  expect_error([&] { parse(idx_bytes(8, {2, 2, 2}, Bytes(9))); }, {"buf", "8 data bytes", "9 data bytes", "1 extra"});
  expect_error([&] { parse(idx_bytes(0x0C, {2}, Bytes(7))); }, {"truncated"});
  // Dimensions whose product overflows 64 bits must not wrap around to a small number.
  expect_error([&] { parse(idx_bytes(8, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, Bytes(1))); }, {"truncated"});
  const IdxArray ok = parse(idx_bytes(0x0D, {2, 3}, Bytes(24)));
  EXPECT_EQ(ok.elem_size, 4u);
  EXPECT_EQ(ok.dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ok.data_offset, 12u);
}

TEST(Idx, OpenRejectsWrongFiles) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_bytes(8, {2, 2, 2}, Bytes(8)));
  write_bytes(dir.file("lab3"), idx_bytes(8, {3}, {0, 1, 2}));
  write_bytes(dir.file("float"), idx_bytes(0x0D, {1, 1, 1}, Bytes(4)));
  write_bytes(dir.file("twod"), idx_bytes(8, {2, 4}, Bytes(8)));
  write_bytes(dir.file("empty"), idx_bytes(8, {0, 28, 28}, {}));
  expect_error([&] { open_idx(dir.file("img"), dir.file("lab3")); }, {dir.file("lab3"), "3 labels", "2 images"});
  expect_error([&] { open_idx(dir.file("float")); }, {dir.file("float"), "must be uint8"});
  expect_error([&] { open_idx(dir.file("twod")); }, {dir.file("twod"), "3 dimensions"});
  expect_error([&] { open_idx(dir.file("empty")); }, {dir.file("empty"), "zero dimension"});
  expect_error([&] { open_idx(dir.file("missing")); }, {dir.file("missing"), "cannot open"});
  expect_error([&] { open_idx(dir.path().string()); }, {"is a folder"});
  // A gzip stream cut short is an error, not a shorter file.
  write_gz(dir.file("full.gz"), idx_bytes(8, {50, 28, 28}, ramp(50 * 784)));
  Bytes gz = read_bytes(dir.file("full.gz"));
  gz.resize(gz.size() / 2);
  write_bytes(dir.file("cut.gz"), gz);
  expect_error([&] { open_idx(dir.file("cut.gz")); }, {dir.file("cut.gz"), "gzip"});
  const DatasetPtr ds = open_idx(dir.file("img"));
  expect_error([&] { ds->get(2); }, {dir.file("img"), "index 2 out of range [0, 2)"});
  expect_error([&] { ds->get(-1); }, {"index -1"});
}

TEST(Idx, RealMnistTestSplit) {
  const std::string dir = shared_data_dir() + "/mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "no MNIST under " << dir;
  const DatasetPtr ds = open_dataset("mnist:" + dir + ":test");
  ASSERT_EQ(ds->size(), 10000);
  EXPECT_EQ(ds->shape(), (ImageShape{1, 28, 28}));
  EXPECT_EQ(ds->num_classes(), 10);
  // The first test digit of MNIST is a 7, the second a 2.
  EXPECT_EQ(ds->get(0).label, 7);
  EXPECT_EQ(ds->get(1).label, 2);
  const Sample s = ds->get(0);
  float lo = 1, hi = 0;
  for (float v : s.image) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
}

TEST(Idx, FashionMnistFromDebianPackage) {
  if (!std::filesystem::exists(default_fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (" << default_fashion_mnist_dir() << ")";
  const DatasetPtr ds = open_dataset("fashion-mnist:test");
  EXPECT_EQ(ds->size(), 10000);
  EXPECT_EQ(ds->shape(), (ImageShape{1, 28, 28}));
  EXPECT_EQ(ds->num_classes(), 10);
  EXPECT_EQ(ds->get(0).label, 9);  // ankle boot
}
