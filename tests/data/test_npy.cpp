// .npy / .npz: hand-written headers (as numpy writes them), every layout and dtype, the writer
// round trip, deflated npz entries, and malformed files.
#include <zlib.h>

#include "at_ebm/data/npy.h"
#include "at_ebm/data/spec.h"
#include "at_ebm/data/zip_archive.h"
#include "engine/factories.h"
#include "tests/data/data_test_util.h"

using namespace atebm;
using namespace atebm::data;
using namespace atebm::data::testing;

namespace {

Bytes npy(const std::string& dict, const Bytes& data, int major = 1) {
  std::string h = dict;
  const size_t pre = major == 1 ? 10 : 12;
  while ((pre + h.size() + 1) % 64) h.push_back(' ');
  h.push_back('\n');
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  for (size_t i = 0; i < pre - 8; ++i) b.push_back(static_cast<uint8_t>(h.size() >> (8 * i)));
  b.insert(b.end(), h.begin(), h.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
}

Bytes floats(const std::vector<float>& v, bool big = false) {
  Bytes b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  if (big)
    for (size_t i = 0; i < v.size(); ++i) std::reverse(b.begin() + 4 * i, b.begin() + 4 * i + 4);
  return b;
}

// The bytes of `v` in either byte order (any element type).
template <typename T>
Bytes raw(const std::vector<T>& v, bool big = false) {
  Bytes b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  if (big)
    for (size_t i = 0; i < v.size(); ++i) std::reverse(b.begin() + sizeof(T) * i, b.begin() + sizeof(T) * (i + 1));
  return b;
}

std::vector<double> values_of(const Bytes& b) { return npy_values_f64(parse_npy(b.data(), b.size(), "v"), b.data()); }

DatasetPtr from(const Bytes& b, NpyLayout l = NpyLayout::Auto) { return npy_dataset(b, "t.npy", l); }

}  // namespace

TEST(Npy, Uint8LayoutsAndGrey) {
  // 2 images, 3 channels, 2x2: value (n, c, y, x) = n*100 + c*10 + y*2 + x.
  Bytes nchw, nhwc;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 4; ++p) nchw.push_back(static_cast<uint8_t>(n * 100 + c * 10 + p));
  for (int n = 0; n < 2; ++n)
    for (int p = 0; p < 4; ++p)
      for (int c = 0; c < 3; ++c) nhwc.push_back(static_cast<uint8_t>(n * 100 + c * 10 + p));
  const DatasetPtr a = from(npy(dict("|u1", "(2, 3, 2, 2)"), nchw));
  const DatasetPtr b = from(npy(dict("|u1", "(2, 2, 2, 3)"), nhwc));
  EXPECT_EQ(a->shape(), (ImageShape{3, 2, 2}));
  EXPECT_EQ(b->shape(), (ImageShape{3, 2, 2}));
  EXPECT_EQ(a->get(1).image, b->get(1).image);
  EXPECT_FLOAT_EQ(a->get(1).image[6], (100 + 10 + 2) / 255.0f);
  // (N, H, W) is grey; the layout can be forced.
  EXPECT_EQ(from(npy(dict("|u1", "(3, 2, 4)"), Bytes(24)))->shape(), (ImageShape{1, 2, 4}));
  EXPECT_EQ(from(npy(dict("|u1", "(1, 3, 3, 3)"), Bytes(27)))->shape(), (ImageShape{3, 3, 3}));
  EXPECT_EQ(from(npy(dict("|u1", "(1, 3, 3, 1)"), Bytes(9)), NpyLayout::NHWC)->shape(), (ImageShape{1, 3, 3}));
}

TEST(Npy, FloatsBothByteOrdersAndVersions) {
  const std::vector<float> v = {0.0f, 0.25f, 0.5f, 1.0f};
  for (bool big : {false, true})
    for (int major : {1, 2, 3}) {
      const DatasetPtr ds = from(npy(dict(big ? ">f4" : "<f4", "(1, 1, 2, 2)"), floats(v, big), major));
      EXPECT_EQ(ds->get(0).image, v) << big << major;
    }
  Bytes d(4 * 8);
  const double dv[] = {0.0, 0.5, 1.0, 0.125};
  std::memcpy(d.data(), dv, d.size());
  EXPECT_FLOAT_EQ(from(npy("{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1L, 2L, 2L)}", d))->get(0).image[3],
                  0.125f);
}

TEST(Npy, RejectsMalformedFiles) {
  auto bad = [](const Bytes& b, std::vector<std::string> parts) {
    expect_error([&] { npy_dataset(b, "t.npy"); }, parts);
  };
  const Bytes four = floats({0, 0, 0, 0});
  bad({1, 2, 3}, {"t.npy", "magic"});
  bad(npy(dict("<f4", "(1, 1, 2, 2)"), four, 4), {"version 4.0"});
  bad(npy(dict("<f4", "(1, 1, 2, 2)", true), four), {"Fortran"});
  bad(npy(dict("<i4", "(1, 1, 2, 2)"), Bytes(16)), {"unsupported dtype '<i4'"});
  bad(npy(dict("<i8", "(1, 1, 2, 1)"), Bytes(16)), {"int64 arrays are not images"});
  bad(npy(dict("<f4", "(1, 1, 2, 2)"), Bytes(15)), {"truncated", "15 data bytes"});
  bad(npy(dict("<f4", "(1, 1, 2, 2)"), Bytes(17)), {"needs 16 data bytes", "has 17"});
  bad(npy(dict("<f4", "(1, 5, 2, 2)"), Bytes(80)), {"neither axis 1 nor axis 3"});
  bad(npy(dict("<f4", "(4, 4)"), Bytes(64)), {"not an image array"});
  bad(npy(dict("<f4", "(0, 1, 2, 2)"), {}), {"holds no images"});
  bad(npy(dict("<f4", "(1, 1, 2, 2)"), floats({0, 0.5f, 1.5f, 0})), {"image 0 holds 1.5", "[0, 1]"});
  bad(npy(dict("<f4", "(1, 1, 2, 2)"), floats({0, NAN, 0, 0})), {"nan"});
  bad(npy("{'descr': '<f4', 'shape': (1, 1, 2, 2), }", four), {"lacks 'fortran_order'"});
  bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), 'x': 1}", four), {"unexpected value"});
  bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), 'x': 'y'}", four), {"keys other than"});
  bad(npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2)}", four), {"repeats the key"});
  bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, -2, 2)}", four), {"expected a dimension"});
  bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': [1, 1, 2, 2]}", four), {"unexpected value"});
  bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2)} junk", four), {"end with spaces and one newline"});
  Bytes huge_header = npy(dict("<f4", "(1, 1, 2, 2)"), four);
  huge_header[8] = 0xff;
  huge_header[9] = 0xff;
  bad(huge_header, {"header length 65535"});
}

TEST(Npy, WriterRoundTripAndNpz) {
  TempDir dir;
  Generator g(3);
  const Tensor x = rand({5, 3, 4, 6}, {}, &g);
  save_npy(dir.file("x.npy"), x);
  const DatasetPtr ds = open_dataset("npy:" + dir.file("x.npy"));
  ASSERT_EQ(ds->size(), 5);
  EXPECT_EQ(ds->shape(), (ImageShape{3, 4, 6}));
  const std::vector<float> all = x.to_vector<float>();
  EXPECT_EQ(ds->get(4).image, std::vector<float>(all.end() - 72, all.end()));
  // The header is padded so the data starts at a multiple of 64, as numpy does.
  const Bytes raw = read_bytes(dir.file("x.npy"));
  EXPECT_EQ(parse_npy(raw.data(), raw.size(), "x").data_offset % 64, 0u);

  const Tensor y = rand({2, 1, 3, 3}, {}, &g);
  save_npz(dir.file("xy.npz"), {{"x", x}, {"y", y}});
  const std::vector<float> yv = y.to_vector<float>();
  EXPECT_EQ(open_dataset("npz:" + dir.file("xy.npz") + ":y")->get(1).image, std::vector<float>(yv.begin() + 9, yv.end()));
  expect_error([&] { open_npz(dir.file("xy.npz"), "z"); }, {dir.file("xy.npz"), "no array 'z'", "arrays: x, y"});
}

TEST(Npy, ValuesAsDoublesInEveryDtypeAndByteOrder) {
  const std::vector<float> f = {1.5f, -2.0f, 0.25f, 3e38f};
  const std::vector<double> fd(f.begin(), f.end());
  const std::vector<double> d = {0.1, -1e300, 2.5, -0.0};
  const std::vector<int64_t> i = {-3, int64_t{1} << 40, 0, 7};
  for (bool big : {false, true}) {
    EXPECT_EQ(values_of(npy(dict(big ? ">f4" : "<f4", "(2, 2)"), raw(f, big))), fd) << big;
    EXPECT_EQ(values_of(npy(dict(big ? ">f8" : "<f8", "(4,)"), raw(d, big))), d) << big;
    EXPECT_EQ(values_of(npy(dict(big ? ">i8" : "<i8", "(1, 4)"), raw(i, big))), (std::vector<double>{-3, 1099511627776.0, 0, 7}))
        << big;
  }
  EXPECT_EQ(values_of(npy(dict("|u1", "(3,)"), {0, 128, 255})), (std::vector<double>{0, 128, 255}));
  EXPECT_TRUE(values_of(npy(dict("<f8", "(0, 5)"), {})).empty());
}

TEST(Npy, NpzFloatArrayShapesValuesAndErrors) {
  TempDir dir;
  const Tensor mu = from_vector<double>({0.5, -1.25, 1e-300}, {3}, {.dtype = DType::Float64});
  const Tensor sigma = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  save_npz(dir.file("s.npz"), {{"mu", mu}, {"sigma", sigma}, {"n", zeros({2}, {.dtype = DType::Int64})}});
  const NpzFloatArray m = load_npz_array(dir.file("s.npz"), "mu");
  EXPECT_EQ(m.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(m.values, (std::vector<double>{0.5, -1.25, 1e-300}));
  const NpzFloatArray s = load_npz_array(dir.file("s.npz"), "sigma");
  EXPECT_EQ(s.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(s.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  expect_error([&] { load_npz_array(dir.file("s.npz"), "n"); },
               {dir.file("s.npz"), "'n'", "expected a float64 or float32 array"});
  expect_error([&] { load_npz_array(dir.file("s.npz"), "tau", "such files hold 'mu'"); },
               {dir.file("s.npz"), "no array 'tau'", "entries: mu.npy, sigma.npy, n.npy", "; such files hold 'mu'"});
  expect_error([&] { load_npz_array(dir.file("absent.npz"), "mu"); }, {"absent.npz"});
}

TEST(Npy, DeflatedNpzEntryAndCorruption) {
  // A zip whose entry is deflated (what np.savez_compressed writes), built with zlib here.
  Bytes payload = npy(dict("|u1", "(2, 4, 4)"), Bytes(32, 7));
  Bytes packed(compressBound(static_cast<uLong>(payload.size())) + 64);
  z_stream s{};
  ASSERT_EQ(deflateInit2(&s, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  s.next_in = payload.data();
  s.avail_in = static_cast<uInt>(payload.size());
  s.next_out = packed.data();
  s.avail_out = static_cast<uInt>(packed.size());
  ASSERT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  packed.resize(s.total_out);
  deflateEnd(&s);
  // Start from a stored archive and patch in the deflated entry (method 8, compressed size).
  Bytes zip = zip_store({{"a.npy", payload}});
  const uint32_t crc = static_cast<uint32_t>(crc32(0, payload.data(), static_cast<uInt>(payload.size())));
  Bytes z;
  auto put = [&](uint64_t v, int n) { for (int i = 0; i < n; ++i) z.push_back(static_cast<uint8_t>(v >> (8 * i))); };
  put(0x04034b50, 4); put(20, 2); put(0, 2); put(8, 2); put(0, 4); put(crc, 4); put(packed.size(), 4);
  put(payload.size(), 4); put(5, 2); put(0, 2);
  z.insert(z.end(), {'a', '.', 'n', 'p', 'y'});
  z.insert(z.end(), packed.begin(), packed.end());
  const size_t cd = z.size();
  put(0x02014b50, 4); put(20, 2); put(20, 2); put(0, 2); put(8, 2); put(0, 4); put(crc, 4); put(packed.size(), 4);
  put(payload.size(), 4); put(5, 2); put(0, 2); put(0, 2); put(0, 2); put(0, 2); put(0, 4); put(0, 4);
  z.insert(z.end(), {'a', '.', 'n', 'p', 'y'});
  const size_t cd_size = z.size() - cd;
  put(0x06054b50, 4); put(0, 2); put(0, 2); put(1, 2); put(1, 2); put(cd_size, 4); put(cd, 4); put(0, 2);
  TempDir dir;
  write_bytes(dir.file("c.npz"), z);
  const DatasetPtr ds = open_npz(dir.file("c.npz"), "a");
  EXPECT_EQ(ds->size(), 2);
  EXPECT_FLOAT_EQ(ds->get(1).image[15], 7 / 255.0f);
  // load_npz_array inflates the same entry, then refuses its uint8 dtype.
  expect_error([&] { load_npz_array(dir.file("c.npz"), "a"); },
               {dir.file("c.npz"), "'a'", "expected a float64 or float32 array"});

  Bytes flipped = z;
  flipped[30 + 5 + packed.size() / 2] ^= 0x55;  // corrupt the deflate stream or its CRC
  write_bytes(dir.file("bad.npz"), flipped);
  expect_error([&] { open_npz(dir.file("bad.npz"), "a"); }, {dir.file("bad.npz"), "entry 'a.npy'"});
  Bytes cut(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(z.size() - 10));
  write_bytes(dir.file("cut.npz"), cut);
  expect_error([&] { open_npz(dir.file("cut.npz"), "a"); }, {dir.file("cut.npz"), "not a zip archive"});
  zip[zip.size() - 3] = 0x7F;  // central directory offset (high byte) far past the end
  write_bytes(dir.file("off.npz"), zip);
  expect_error([&] { open_npz(dir.file("off.npz"), "a"); }, {"outside"});
}
