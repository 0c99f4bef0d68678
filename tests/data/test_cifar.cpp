// CIFAR-10/100 binary batches written here: layout (label byte(s), R/G/B planes), the split
// files, and the error cases.
#include "at_ebm/data/cifar.h"
#include "tests/data/data_test_util.h"

using namespace atebm::data;
using namespace atebm::data::testing;

namespace {
// Record i: label i % classes; pixel (c, y, x) = (c * 50 + y + x + i) % 256.
Bytes cifar_batch(int64_t n, bool c100) {
  Bytes b;
  for (int64_t i = 0; i < n; ++i) {
    if (c100) b.push_back(static_cast<uint8_t>(i % 20));
    b.push_back(static_cast<uint8_t>(i % (c100 ? 100 : 10)));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) b.push_back(static_cast<uint8_t>((c * 50 + y + x + i) % 256));
  }
  return b;
}
}  // namespace

TEST(Cifar, ParseChecksRecords) {
  const Bytes b = cifar_batch(3, false);
  const CifarBatch p = parse_cifar(b.data(), b.size(), CifarKind::Cifar10, "b");
  EXPECT_EQ(p.count, 3);
  EXPECT_EQ(p.record_size, 3073u);
  const Bytes b100 = cifar_batch(2, true);
  EXPECT_EQ(parse_cifar(b100.data(), b100.size(), CifarKind::Cifar100, "b").record_size, 3074u);

  expect_error([&] { parse_cifar(b.data(), 0, CifarKind::Cifar10, "f"); }, {"f", "empty"});
  expect_error([&] { parse_cifar(b.data(), b.size() - 1, CifarKind::Cifar10, "f"); },
               {"f", "not a whole number", "2 records and 3072 bytes left over"});
  Bytes bad = b;
  bad[3073] = 10;
  expect_error([&] { parse_cifar(bad.data(), bad.size(), CifarKind::Cifar10, "f"); }, {"f", "record 1", "label 10"});
  Bytes bad100 = b100;
  bad100[1] = 100;
  expect_error([&] { parse_cifar(bad100.data(), bad100.size(), CifarKind::Cifar100, "f"); }, {"record 0", "fine label 100"});
  // A CIFAR-10 file read as CIFAR-100 does not divide into records.
  expect_error([&] { parse_cifar(b.data(), b.size(), CifarKind::Cifar100, "f"); }, {"not a whole number"});
}

TEST(Cifar, OpensTestSplitsWithPlanarLayout) {
  TempDir dir;
  write_bytes(dir.file("cifar-10-batches-bin/test_batch.bin"), cifar_batch(10000, false));
  write_bytes(dir.file("c100/test.bin"), cifar_batch(10000, true));
  const DatasetPtr ds = open_cifar(dir.path().string(), CifarKind::Cifar10, false);  // finds the subfolder
  ASSERT_EQ(ds->size(), 10000);
  EXPECT_EQ(ds->shape(), (ImageShape{3, 32, 32}));
  EXPECT_EQ(ds->num_classes(), 10);
  const Sample s = ds->get(123);
  EXPECT_EQ(s.label, 3);
  for (int c = 0; c < 3; ++c)
    for (int y : {0, 5, 31})
      for (int x : {0, 17, 31})
        EXPECT_FLOAT_EQ(s.image[(c * 32 + y) * 32 + x], ((c * 50 + y + x + 123) % 256) / 255.0f);
  const DatasetPtr d100 = open_cifar(dir.file("c100"), CifarKind::Cifar100, false);
  EXPECT_EQ(d100->num_classes(), 100);
  EXPECT_EQ(d100->get(123).label, 23);

  // Wrong record counts and missing files name the file.
  write_bytes(dir.file("short/test_batch.bin"), cifar_batch(10, false));
  expect_error([&] { open_cifar(dir.file("short"), CifarKind::Cifar10, false); },
               {dir.file("short/test_batch.bin"), "holds 10 records, expected 10000"});
  expect_error([&] { open_cifar(dir.file("short"), CifarKind::Cifar10, true); }, {"data_batch_1.bin", "missing"});
}
