// Tiny Images: a synthetic tiny_images.bin whose bytes encode their own (record, c, x, y), to
// pin down the column-major layout, plus the exclusion list and the error cases.
#include "at_ebm/data/spec.h"
#include "at_ebm/data/tiny_images.h"
#include "tests/data/data_test_util.h"

using namespace atebm::data;
using namespace atebm::data::testing;

namespace {
// Byte at offset c*1024 + x*32 + y of record r (the Matlab layout) holds (r*40 + c*7 + x*3 + y) % 256.
uint8_t tiny_value(int r, int c, int x, int y) { return static_cast<uint8_t>((r * 40 + c * 7 + x * 3 + y) % 256); }
Bytes tiny_file(int records) {
  Bytes b;
  for (int r = 0; r < records; ++r)
    for (int c = 0; c < 3; ++c)
      for (int x = 0; x < 32; ++x)
        for (int y = 0; y < 32; ++y) b.push_back(tiny_value(r, c, x, y));
  return b;
}
void write_text(const std::string& path, const std::string& s) { write_bytes(path, Bytes(s.begin(), s.end())); }
}  // namespace

TEST(TinyImages, ColumnMajorChannelPlanes) {
  TempDir dir;
  write_bytes(dir.file("tiny.bin"), tiny_file(4));
  const DatasetPtr ds = open_tiny_images(dir.file("tiny.bin"));
  ASSERT_EQ(ds->size(), 4);
  EXPECT_EQ(ds->shape(), (ImageShape{3, 32, 32}));
  EXPECT_FALSE(ds->has_labels());
  const Sample s = ds->get(2);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; y += 3)
      for (int x = 0; x < 32; x += 5)
        ASSERT_FLOAT_EQ(s.image[(c * 32 + y) * 32 + x], tiny_value(2, c, x, y) / 255.0f) << c << " " << y << " " << x;
}

TEST(TinyImages, ExclusionListIsOneBased) {
  TempDir dir;
  write_bytes(dir.file("tiny.bin"), tiny_file(6));
  write_text(dir.file("ex.txt"), "5\n2\n\n");  // drops records 1 and 4 (0-based)
  const DatasetPtr ds = open_dataset("tinyimages:" + dir.file("tiny.bin") + ":exclude=" + dir.file("ex.txt"));
  ASSERT_EQ(ds->size(), 4);
  const int kept[] = {0, 2, 3, 5};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(ds->get(i).image[0], tiny_value(kept[i], 0, 0, 0) / 255.0f) << i;

  write_text(dir.file("bad1.txt"), "1\n7\n");
  expect_error([&] { open_tiny_images(dir.file("tiny.bin"), dir.file("bad1.txt")); },
               {dir.file("bad1.txt"), "line 2", "[1, 6]", "\"7\""});
  write_text(dir.file("bad2.txt"), "0\n");
  expect_error([&] { open_tiny_images(dir.file("tiny.bin"), dir.file("bad2.txt")); }, {"line 1", "counted from 1"});
  write_text(dir.file("bad3.txt"), "3 3\n");
  expect_error([&] { open_tiny_images(dir.file("tiny.bin"), dir.file("bad3.txt")); }, {"3 is listed twice"});
  write_text(dir.file("bad4.txt"), "2x\n");
  expect_error([&] { open_tiny_images(dir.file("tiny.bin"), dir.file("bad4.txt")); }, {"\"2x\""});
  write_text(dir.file("all.txt"), "1 2 3 4 5 6");
  expect_error([&] { open_tiny_images(dir.file("tiny.bin"), dir.file("all.txt")); }, {"every record is excluded"});
}

TEST(TinyImages, RejectsBadSizes) {
  TempDir dir;
  Bytes b = tiny_file(2);
  b.pop_back();
  write_bytes(dir.file("cut.bin"), b);
  write_bytes(dir.file("empty.bin"), {});
  expect_error([&] { open_tiny_images(dir.file("cut.bin")); }, {dir.file("cut.bin"), "not a whole number", "3071 bytes left"});
  expect_error([&] { open_tiny_images(dir.file("empty.bin")); }, {dir.file("empty.bin"), "empty"});
  expect_error([&] { open_tiny_images(dir.file("nope.bin")); }, {dir.file("nope.bin"), "cannot open"});
}
