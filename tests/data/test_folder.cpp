// Image folders and tar archives: PNG/JPEG/BMP written here with stb_image_write, class
// subfolders, the tar reader (plain, gzip, GNU long names), and the error cases; then the real
// CIFAR-10 JPEG archive when present.
#include <filesystem>

#include "at_ebm/data/image_folder.h"
#include "at_ebm/data/spec.h"
#include "at_ebm/data/tar_reader.h"
#include "tests/data/data_test_util.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

using namespace atebm::data;
using namespace atebm::data::testing;

namespace {

// A w×h image with `c` channels, pixel (y, x, ch) = (base + 20y + 9x + 60ch) % 256.
std::vector<uint8_t> pattern(int w, int h, int c, int base) {
  std::vector<uint8_t> p(static_cast<size_t>(w * h * c));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) p[(y * w + x) * c + ch] = static_cast<uint8_t>((base + 20 * y + 9 * x + 60 * ch) % 256);
  return p;
}

void append(void* ctx, void* data, int size) {
  auto* out = static_cast<Bytes*>(ctx);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

Bytes encode(const std::string& ext, int w, int h, int c, int base) {
  const auto px = pattern(w, h, c, base);
  Bytes out;
  if (ext == "png") stbi_write_png_to_func(append, &out, w, h, c, px.data(), w * c);
  else if (ext == "bmp") stbi_write_bmp_to_func(append, &out, w, h, c, px.data());
  else stbi_write_jpg_to_func(append, &out, w, h, c, px.data(), 100);
  return out;
}

}  // namespace

TEST(Folder, ClassSubfoldersAndFormats) {
  TempDir dir;
  write_bytes(dir.file("root/cat/a.png"), encode("png", 5, 4, 3, 0));
  write_bytes(dir.file("root/cat/b.BMP"), encode("bmp", 5, 4, 3, 1));
  write_bytes(dir.file("root/dog/deep/c.jpg"), encode("jpg", 5, 4, 3, 2));
  write_bytes(dir.file("root/dog/notes.txt"), {'h', 'i'});
  const DatasetPtr ds = open_dataset("folder:" + dir.file("root"));
  ASSERT_EQ(ds->size(), 3);
  EXPECT_EQ(ds->shape(), (ImageShape{3, 4, 5}));
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(ds->get(0).label, 0);
  EXPECT_EQ(ds->get(2).label, 1);
  // PNG and BMP are lossless: exact values in CHW order.
  const auto want = pattern(5, 4, 3, 0);
  const Sample s = ds->get(0);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x) ASSERT_FLOAT_EQ(s.image[(c * 4 + y) * 5 + x], want[(y * 5 + x) * 3 + c] / 255.0f);
  const auto want1 = pattern(5, 4, 3, 1);
  EXPECT_FLOAT_EQ(ds->get(1).image[4], want1[4 * 3] / 255.0f);
  // Grey conversion and resizing through spec options.
  const DatasetPtr g = open_dataset("folder:" + dir.file("root") + "@grey@size=8x10");
  EXPECT_EQ(g->shape(), (ImageShape{1, 8, 10}));
  EXPECT_EQ(g->get(2).image.size(), 80u);
}

TEST(Folder, UnlabelledAndErrors) {
  TempDir dir;
  write_bytes(dir.file("flat/1.png"), encode("png", 3, 3, 1, 0));
  write_bytes(dir.file("flat/2.png"), encode("png", 3, 3, 1, 5));
  const DatasetPtr flat = open_image_folder(dir.file("flat"));
  EXPECT_EQ(flat->shape(), (ImageShape{1, 3, 3}));
  EXPECT_FALSE(flat->has_labels());

  std::filesystem::create_directories(dir.file("empty/sub"));
  expect_error([&] { open_image_folder(dir.file("empty")); }, {dir.file("empty"), "no PNG, JPEG or BMP images"});
  expect_error([&] { open_image_folder(dir.file("nothere")); }, {"does not exist"});

  write_bytes(dir.file("mixed/a.png"), encode("png", 3, 3, 1, 0));
  write_bytes(dir.file("mixed/k/b.png"), encode("png", 3, 3, 1, 0));
  expect_error([&] { open_image_folder(dir.file("mixed")); }, {"1 images lie directly in the root and 1 in class subfolders"});

  write_bytes(dir.file("broken/a.png"), encode("png", 3, 3, 3, 0));
  write_bytes(dir.file("broken/b.jpg"), {0xff, 0xd8, 0xff, 0x00, 1, 2, 3});
  const DatasetPtr broken = open_image_folder(dir.file("broken"));
  EXPECT_EQ(broken->size(), 2);
  expect_error([&] { broken->get(1); }, {"image 1", "b.jpg", "cannot decode"});
  // The first image is probed when opening.
  write_bytes(dir.file("broken2/a.png"), {1, 2, 3});
  expect_error([&] { open_image_folder(dir.file("broken2")); }, {"image 0", "a.png", "not a readable"});

  write_bytes(dir.file("sizes/a.png"), encode("png", 4, 4, 3, 0));
  write_bytes(dir.file("sizes/b.png"), encode("png", 6, 2, 3, 0));
  expect_error([&] { open_image_folder(dir.file("sizes"))->get(1); }, {"b.png", "is 6x2, expected 4x4", "@size"});
  const DatasetPtr resized = open_dataset("folder:" + dir.file("sizes") + "@size=4");
  EXPECT_EQ(resized->get(1).image.size(), 48u);
}

TEST(Folder, TarAndTarGz) {
  TempDir dir;
  const std::string long_dir = std::string(120, 'd');
  const Bytes tar = tar_bytes({{"./data/train/b/x.png", encode("png", 2, 2, 3, 0)},
                               {"data/train/a/y.bmp", encode("bmp", 2, 2, 3, 9)},
                               {"data/test/a/z.png", encode("png", 2, 2, 3, 0)},
                               {"data/train/a/" + long_dir + "/w.png", encode("png", 2, 2, 3, 4)},
                               {"data/train/readme", {'x'}}});
  write_bytes(dir.file("set.tar"), tar);
  write_gz(dir.file("set.tar.gz"), tar);
  for (const std::string f : {"set.tar", "set.tar.gz"}) {
    const DatasetPtr ds = open_dataset("folder:" + dir.file(f) + ":data/train");
    ASSERT_EQ(ds->size(), 3) << f;
    EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(ds->get(2).label, 1);  // b/x.png sorts last
    EXPECT_FLOAT_EQ(ds->get(0).image[0], pattern(2, 2, 3, 4)[0] / 255.0f);  // the long-named file sorts first
    EXPECT_FLOAT_EQ(ds->get(1).image[1], pattern(2, 2, 3, 9)[3] / 255.0f);
  }
  // Tar reader errors: a bad checksum, a truncated entry, a truncated gzip stream.
  Bytes bad = tar;
  bad[0] ^= 1;
  write_bytes(dir.file("bad.tar"), bad);
  expect_error([&] { open_image_folder(dir.file("bad.tar")); }, {dir.file("bad.tar"), "entry 0", "checksum"});
  Bytes cut(tar.begin(), tar.begin() + 512 + 100);
  write_bytes(dir.file("cut.tar"), cut);
  expect_error([&] { open_image_folder(dir.file("cut.tar")); }, {dir.file("cut.tar"), "truncated inside entry 0"});
  Bytes gz = read_bytes(dir.file("set.tar.gz"));
  gz.resize(gz.size() - 20);
  write_bytes(dir.file("cut.tar.gz"), gz);
  expect_error([&] { open_image_folder(dir.file("cut.tar.gz")); }, {dir.file("cut.tar.gz"), "gzip"});
  write_bytes(dir.file("notar.zip"), {1, 2});
  expect_error([&] { open_image_folder(dir.file("notar.zip")); }, {"expected a folder or a .tar"});
  expect_error([&] { open_dataset("folder:" + dir.file("set.tar") + ":nope"); }, {"no PNG, JPEG or BMP images"});
}

TEST(Folder, RealCifar10JpegArchive) {
  const std::string tar = shared_data_dir() + "/cifar10-jpeg/cifar10-jpeg.tar.gz";
  if (!std::filesystem::exists(tar)) GTEST_SKIP() << "no CIFAR-10 JPEG archive at " << tar;
  const std::vector<std::string> classes = {"airplane", "automobile", "bird", "cat", "deer",
                                            "dog", "frog", "horse", "ship", "truck"};
  int64_t train = 0, test = 0;
  read_tar(tar, [](const std::string& p) { return p.ends_with(".jpg"); },
           [&](const std::string& p, const uint8_t*, size_t) { (p.rfind("train/", 0) == 0 ? train : test)++; });
  EXPECT_EQ(train, 50000);
  EXPECT_EQ(test, 10000);
  const DatasetPtr ds = open_dataset("folder:" + tar + ":test");
  ASSERT_EQ(ds->size(), 10000);
  EXPECT_EQ(ds->shape(), (ImageShape{3, 32, 32}));
  EXPECT_EQ(ds->class_names(), classes);
  EXPECT_EQ(ds->get(0).label, 0);
  EXPECT_EQ(ds->get(9999).label, 9);
  for (int64_t i : {0, 4321, 9999}) {
    const Sample s = ds->get(i);
    float mean = 0;
    for (float v : s.image) mean += v / 3072.0f;
    EXPECT_GT(mean, 0.02f);
    EXPECT_LT(mean, 0.98f);
  }
  // As p0 for a 28×28 grey model.
  const DatasetPtr p0 = open_dataset("folder:" + tar + ":test", ImageShape{1, 28, 28});
  EXPECT_EQ(p0->shape(), (ImageShape{1, 28, 28}));
  EXPECT_EQ(p0->get(5).image.size(), 784u);
}
