// safetensors checkpoints: bit-exact round trips, the exact bytes the format prescribes, a
// validation error for every kind of corruption, atomic saves, and load_into's checked copy.
// No Python is involved: the fixtures are bytes written by hand from the format's description.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/factories.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"

using namespace atebm;
using namespace atebm::nn;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

// A fresh folder per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / fmt::format("atebm_st_{}_{}", ::getpid(), info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  fs::path dir_;
};

Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// The bytes of a tensor in row-major order (any strides).
Bytes bytes_of(const Tensor& t) {
  const Tensor c = t.dtype() == DType::BFloat16 ? t : copy_to(t, Device::cpu(), t.dtype());
  const auto* p = static_cast<const uint8_t*>(c.raw_data());
  return Bytes(p, p + c.numel() * c.itemsize());
}

// A file made of a header (used as given, no padding) and a data section.
Bytes make_file(const std::string& header, const Bytes& data) {
  const uint64_t n = header.size();
  Bytes out(8 + header.size() + data.size());
  std::memcpy(out.data(), &n, 8);
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<long>(header.size()));
  return out;
}

SafetensorsFile parse(const Bytes& b) { return parse_safetensors(b.data(), b.size(), "fixture.safetensors"); }

// Parsing `b` must throw atebm::Error naming the file and containing `expected`.
void expect_rejected(const Bytes& b, const std::string& expected) {
  try {
    parse(b);
    ADD_FAILURE() << "accepted a corrupt file; expected an error containing '" << expected << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("fixture.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find(expected), std::string::npos) << "expected '" << expected << "' in: " << msg;
  }
}

const Tensor* find(const SafetensorsFile& f, const std::string& name) {
  for (const auto& [n, t] : f.tensors)
    if (n == name) return &t;
  return nullptr;
}

// Two float32 values and an int64: a small valid file to corrupt.
const Bytes kEightBytes = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0};  // 1.0f, -2.0f

}  // namespace

// ---- round trips -------------------------------------------------------------------------------

TEST_F(SafetensorsTest, RoundTripIsBitExactForEveryDtypeAndShape) {
  Generator gen(1234);
  const Tensor base = randn({3, 4}, {}, &gen);
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"conv.weight", randn({2, 3, 3, 3}, {}, &gen)},
      {"fc.bias", randn({5}, {.dtype = DType::Float64}, &gen)},
      {"bn.num_batches_tracked", scalar_tensor(7, {.dtype = DType::Int64})},
      {"mask", from_vector<bool>({true, false, false, true, true}, {5}, {.dtype = DType::Bool})},
      {"scalar", scalar_tensor(-0.0)},
      {"empty", empty({0, 3})},
      {"empty_i64", empty({2, 0}, {.dtype = DType::Int64})},
      {"transposed", make_view(base, {4, 3}, {1, 4}, 0)},     // non-contiguous
      {"narrowed", make_view(base, {2, 2}, {4, 1}, 5)},       // offset into the storage
      {"expanded", make_view(base, {3, 4}, {0, 1}, 0)},       // stride 0
      {"special", from_vector<double>({INFINITY, -INFINITY, NAN, 1e-310}, {4}, {.dtype = DType::Float64})},
  };
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"config", R"({"arch": "resnet50", "k": 3})"}};
  save_safetensors(path("m.safetensors"), tensors, meta);
  const SafetensorsFile f = load_safetensors(path("m.safetensors"));

  EXPECT_EQ(f.metadata, meta);
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (size_t i = 1; i < f.tensors.size(); ++i) {  // data order: element size descending, then name
    const auto& [pn, pt] = f.tensors[i - 1];
    const auto& [n, t] = f.tensors[i];
    EXPECT_TRUE(pt.itemsize() > t.itemsize() || (pt.itemsize() == t.itemsize() && pn < n)) << pn << " before " << n;
  }
  for (const auto& [name, t] : tensors) {
    const Tensor* got = find(f, name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->shape(), t.shape()) << name;
    EXPECT_EQ(got->dtype(), t.dtype()) << name;
    if (t.numel() > 0) {  // the engine's is_contiguous() says false for a fresh [2, 0]
      EXPECT_TRUE(got->is_contiguous()) << name;
    }
    EXPECT_TRUE(got->device().is_cpu()) << name;
    EXPECT_EQ(bytes_of(*got), bytes_of(t)) << name;
  }
  EXPECT_EQ(find(f, "bn.num_batches_tracked")->dim(), 0);
  EXPECT_EQ(find(f, "bn.num_batches_tracked")->item(), 7.0);
  EXPECT_EQ(find(f, "mask")->to_vector<bool>(), (std::vector<bool>{true, false, false, true, true}));
  EXPECT_EQ(files(), std::vector<std::string>{"m.safetensors"}) << "no temporary left behind";
}

TEST_F(SafetensorsTest, EmptyStateDictAndBFloat16SurviveARoundTrip) {
  save_safetensors(path("none.safetensors"), {});
  const SafetensorsFile none = load_safetensors(path("none.safetensors"));
  EXPECT_TRUE(none.tensors.empty());
  EXPECT_TRUE(none.metadata.empty());

  // bfloat16 has no kernels, but a file holding it loads and saves back unchanged.
  const Bytes bf = make_file(R"({"h":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}})", {0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40});
  const SafetensorsFile f = parse(bf);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].second.dtype(), DType::BFloat16);
  save_safetensors(path("bf.safetensors"), f.tensors);
  EXPECT_EQ(bytes_of(load_safetensors(path("bf.safetensors")).tensors[0].second), (Bytes{0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40}));
}

// ---- the bytes on disk -------------------------------------------------------------------------

TEST_F(SafetensorsTest, WritesExactlyTheBytesTheFormatPrescribes) {
  save_safetensors(path("w.safetensors"), {{"w", from_vector<float>({1.0f, -2.0f}, {2})}}, {{"format", "pt"}});
  const Bytes b = read_bytes(path("w.safetensors"));
  const std::string json = R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_EQ(json.size(), 85u);
  // 8-byte little-endian length, then the JSON padded with 3 spaces to 88 (8 + 88 is a multiple
  // of 8, so the data section is aligned), then 1.0f and -2.0f in little-endian IEEE 754.
  const Bytes prefix = {88, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(b.size(), 8u + 88u + 8u);
  EXPECT_EQ(Bytes(b.begin(), b.begin() + 8), prefix);
  EXPECT_EQ(std::string(b.begin() + 8, b.begin() + 96), json + "   ");
  EXPECT_EQ(Bytes(b.begin() + 96, b.end()), kEightBytes);
}

// Header keys by name; data by element size (largest first) then name, so that each tensor is
// aligned to its element size however the names sort (as the reference writer lays it out).
TEST_F(SafetensorsTest, DataSectionIsAlignedAndContiguous) {
  save_safetensors(path("o.safetensors"), {{"b", from_vector<float>({3.0f}, {1})},
                                           {"a", from_vector<bool>({true, false, true}, {3}, {.dtype = DType::Bool})},
                                           {"c", from_vector<double>({1.0}, {1}, {.dtype = DType::Float64})},
                                           {"d", from_vector<float>({4.0f}, {1})}});
  const Bytes b = read_bytes(path("o.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  const std::string header(b.begin() + 8, b.begin() + 8 + static_cast<long>(n));
  EXPECT_EQ(header,
            R"({"a":{"dtype":"BOOL","shape":[3],"data_offsets":[16,19]},)"
            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
            R"("c":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
            R"("d":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}     )");
  EXPECT_EQ(header.find("__metadata__"), std::string::npos) << "no metadata, no key";
  ASSERT_EQ(b.size(), 8 + n + 19);
  const Bytes data(b.begin() + 8 + static_cast<long>(n), b.end());
  const Bytes expected = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f,  // 1.0
                          0, 0, 0x40, 0x40,              // 3.0f
                          0, 0, 0x80, 0x40,              // 4.0f
                          1, 0, 1};
  EXPECT_EQ(data, expected);
}

// A file as another writer may produce it: fields in another order, whitespace, a data section
// not in name order, padding, and a 0-dim int64.
TEST_F(SafetensorsTest, ReadsAHandWrittenFile) {
  const std::string header =
      "{ \"b\": {\"data_offsets\": [0, 8], \"shape\": [], \"dtype\": \"I64\"},\n"
      "  \"a\": {\"dtype\": \"F32\", \"shape\": [2, 1], \"data_offsets\": [8, 16]},\n"
      "  \"__metadata__\": {\"format\": \"pt\"} }      ";
  Bytes data = {42, 0, 0, 0, 0, 0, 0, 0};
  data.insert(data.end(), kEightBytes.begin(), kEightBytes.end());
  const SafetensorsFile f = parse(make_file(header, data));
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].first, "b") << "listed in data order";
  EXPECT_EQ(f.tensors[0].second.dtype(), DType::Int64);
  EXPECT_EQ(f.tensors[0].second.dim(), 0);
  EXPECT_EQ(f.tensors[0].second.item(), 42.0);
  EXPECT_EQ(f.tensors[1].second.shape(), (Shape{2, 1}));
  EXPECT_EQ(f.tensors[1].second.to_vector<float>(), (std::vector<float>{1.0f, -2.0f}));
}

// ---- validation --------------------------------------------------------------------------------

TEST(SafetensorsValidation, TruncatedAnywhere) {
  const Bytes good = make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kEightBytes);
  ASSERT_NO_THROW(parse(good));
  for (size_t cut : {size_t{0}, size_t{3}, size_t{7}})
    expect_rejected(Bytes(good.begin(), good.begin() + static_cast<long>(cut)), "shorter than the 8-byte");
  for (size_t cut : {size_t{8}, size_t{20}, good.size() - 9})
    expect_rejected(Bytes(good.begin(), good.begin() + static_cast<long>(cut)), "larger than the");
  for (size_t cut : {good.size() - 8, good.size() - 5, good.size() - 1})
    expect_rejected(Bytes(good.begin(), good.begin() + static_cast<long>(cut)), "out of range");
}

TEST(SafetensorsValidation, HeaderLength) {
  Bytes b = make_file(R"({})", {});
  ASSERT_NO_THROW(parse(b));
  b[0] = 200;  // 200 > the 2 bytes that follow
  expect_rejected(b, "header length 200 is larger than the 2 bytes");
  b[0] = 0, b[5] = 1;  // 2^40
  expect_rejected(b, "is absurd");
  std::fill(b.begin(), b.begin() + 8, 0xff);  // 2^64 - 1
  expect_rejected(b, "is absurd");
}

TEST(SafetensorsValidation, HeaderMustBeAJsonObject) {
  expect_rejected(make_file(R"({"w": {"dtype": "F32",)", {}), "not valid JSON");
  expect_rejected(make_file("", {}), "not valid JSON");
  expect_rejected(make_file(std::string("{}\0", 3), {}), "NUL byte");
  expect_rejected(make_file(std::string("{}\0junk", 7), {}), "NUL byte");
  expect_rejected(make_file("\xff\xfe{}", {}), "not valid JSON");
  expect_rejected(make_file("\xef\xbb\xbf{}", {}), "byte-order mark");
  expect_rejected(make_file("[1, 2]", {}), "not a JSON object");
  expect_rejected(make_file(R"("hello")", {}), "not a JSON object");
  expect_rejected(make_file(R"({"w": [1]})", {}), "entry is not an object");
  expect_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [0]}})", {}), "missing field 'data_offsets'");
  expect_rejected(make_file(R"({"w": {"shape": [0], "data_offsets": [0, 0]}})", {}), "missing field 'dtype'");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", {}),
                  "key 'a' appears twice");
  expect_rejected(make_file(std::string(20, '[') + std::string(20, ']'), {}), "nests deeper");
  std::string long_array = R"({"w":{"dtype":"F32","shape":[)";
  for (int i = 0; i < 100; ++i) long_array += "1,";
  long_array += R"(1],"data_offsets":[0,4]}})";
  expect_rejected(make_file(long_array, {0, 0, 0, 0}), "array longer than 64");
}

TEST(SafetensorsValidation, Dtype) {
  expect_rejected(make_file(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", {0, 0}), "unknown dtype 'F16'");
  expect_rejected(make_file(R"({"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", {0, 0, 0, 0}), "unknown dtype 'f32'");
  expect_rejected(make_file(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", {0, 0, 0, 0}), "dtype is not a string");
}

TEST(SafetensorsValidation, Shape) {
  const auto with_shape = [](const std::string& shape) {
    return make_file(R"({"w":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,4]}})", {0, 0, 0, 0});
  };
  ASSERT_NO_THROW(parse(with_shape("[1, 1]")));
  expect_rejected(with_shape("[-1]"), "not an array of non-negative integers");
  expect_rejected(with_shape("[1.0]"), "not an array of non-negative integers");
  expect_rejected(with_shape(R"(["1"])"), "not an array of non-negative integers");
  expect_rejected(with_shape("[18446744073709551615]"), "not an array of non-negative integers");
  expect_rejected(with_shape("[99999999999999999999999]"), "not an array of non-negative integers");
  expect_rejected(with_shape("4"), "shape is not an array");
  expect_rejected(with_shape("[4294967296, 4294967296]"), "element count of shape");
  expect_rejected(with_shape("[4611686018427387904, 4]"), "element count of shape");
  expect_rejected(with_shape("[4611686018427387904]"), "byte size of shape");  // 2^62 floats
  expect_rejected(with_shape("[0, 4611686018427387904, 4611686018427387904]"), "overflows");
}

TEST(SafetensorsValidation, DataOffsets) {
  const auto with_offsets = [](const std::string& offsets, const Bytes& data) {
    return make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)" + offsets + "}}", data);
  };
  ASSERT_NO_THROW(parse(with_offsets("[0, 8]", kEightBytes)));
  expect_rejected(with_offsets("[0]", kEightBytes), "not two non-negative integers");
  expect_rejected(with_offsets("[0, 8, 8]", kEightBytes), "not two non-negative integers");
  expect_rejected(with_offsets(R"(["0", 8])", kEightBytes), "not two non-negative integers");
  expect_rejected(with_offsets("[-8, 0]", kEightBytes), "not two non-negative integers");
  expect_rejected(with_offsets("{}", kEightBytes), "not two non-negative integers");
  expect_rejected(with_offsets("[8, 0]", kEightBytes), "begin > end");
  expect_rejected(with_offsets("[0, 4]", kEightBytes), "span 4 bytes but F32 shape [2] needs 8");
  expect_rejected(with_offsets("[0, 12]", kEightBytes), "span 12 bytes");
  expect_rejected(with_offsets("[8, 16]", kEightBytes), "out of range of the 8-byte data section");
  expect_rejected(with_offsets("[18446744073709551600, 18446744073709551608]", kEightBytes), "not two non-negative");
  expect_rejected(with_offsets("[9223372036854775800, 9223372036854775807]", kEightBytes), "span");
}

TEST(SafetensorsValidation, RangesMustTileTheDataSection) {
  const auto two = [](const std::string& a, const std::string& b, size_t data) {
    return make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + a +
                         R"(},"b":{"dtype":"F32","shape":[2],"data_offsets":)" + b + "}}",
                     Bytes(data, 0));
  };
  ASSERT_NO_THROW(parse(two("[0, 8]", "[8, 16]", 16)));
  ASSERT_NO_THROW(parse(two("[8, 16]", "[0, 8]", 16)));
  expect_rejected(two("[0, 8]", "[4, 12]", 12), "overlap");
  expect_rejected(two("[0, 8]", "[0, 8]", 8), "overlap");
  expect_rejected(two("[0, 8]", "[12, 20]", 20), "bytes [8, 12) are not covered by any tensor (a hole)");
  expect_rejected(two("[4, 12]", "[12, 20]", 20), "bytes [0, 4) are not covered");
  expect_rejected(two("[0, 8]", "[8, 16]", 17), "bytes [16, 17) are not covered by any tensor (trailing bytes)");
  expect_rejected(make_file("{}", {1, 2, 3}), "trailing bytes");
  // A zero-size tensor inside another's range overlaps it; at a boundary it is fine.
  const std::string empty_at = R"(,"e":{"dtype":"F32","shape":[0],"data_offsets":)";
  ASSERT_NO_THROW(parse(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})" + empty_at + "[8,8]}}", kEightBytes)));
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})" + empty_at + "[4,4]}}", kEightBytes), "overlap");
}

TEST(SafetensorsValidation, MetadataAndBoolValues) {
  const Bytes one_byte = {1};
  const std::string m = R"(,"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})";
  ASSERT_NO_THROW(parse(make_file(R"({"__metadata__":{"a":"b"})" + m, one_byte)));
  ASSERT_NO_THROW(parse(make_file(R"({"__metadata__":null)" + m, one_byte)));
  expect_rejected(make_file(R"({"__metadata__":{"a":1})" + m, one_byte), "__metadata__ value of key 'a' is not a string");
  expect_rejected(make_file(R"({"__metadata__":{"a":null})" + m, one_byte), "__metadata__ value of key 'a'");
  expect_rejected(make_file(R"({"__metadata__":["a"])" + m, one_byte), "__metadata__ must be an object");
  expect_rejected(make_file(R"({"__metadata__":{"a":"b"})" + m, {2}), "bool element 0 holds byte 2");
}

// ---- files and atomic saves --------------------------------------------------------------------

TEST_F(SafetensorsTest, LoadReportsMissingAndNonRegularFiles) {
  EXPECT_THROW(load_safetensors(path("absent.safetensors")), Error);
  fs::create_directories(path("folder"));
  try {
    load_safetensors(path("folder"));
    ADD_FAILURE() << "loaded a folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  std::ofstream(path("short.safetensors")) << "abc";
  try {
    load_safetensors(path("short.safetensors"));
    ADD_FAILURE() << "loaded a 3-byte file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path("short.safetensors")), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsTest, SaveReplacesAnExistingFile) {
  save_safetensors(path("c.safetensors"), {{"x", ones({3})}});
  save_safetensors(path("c.safetensors"), {{"y", zeros({2}, {.dtype = DType::Float64})}});
  const SafetensorsFile f = load_safetensors(path("c.safetensors"));
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].first, "y");
  EXPECT_EQ(files(), std::vector<std::string>{"c.safetensors"});
}

TEST_F(SafetensorsTest, FailedSaveLeavesTheOldFileAndNoTemporary) {
  save_safetensors(path("c.safetensors"), {{"x", ones({3})}}, {{"step", "1"}});
  const Bytes before = read_bytes(path("c.safetensors"));

  // An undefined tensor fails after the temporary file was created.
  EXPECT_THROW(save_safetensors(path("c.safetensors"), {{"a", ones({2})}, {"b", Tensor()}}), Error);
  EXPECT_EQ(read_bytes(path("c.safetensors")), before);
  EXPECT_EQ(files(), std::vector<std::string>{"c.safetensors"});

  // Names that cannot be written.
  EXPECT_THROW(save_safetensors(path("c.safetensors"), {{"a", ones({2})}, {"a", ones({2})}}), Error);
  EXPECT_THROW(save_safetensors(path("c.safetensors"), {{"__metadata__", ones({2})}}), Error);
  EXPECT_THROW(save_safetensors(path("c.safetensors"), {{"\xff", ones({2})}}), Error);  // not UTF-8
  EXPECT_EQ(read_bytes(path("c.safetensors")), before);
  EXPECT_EQ(files(), std::vector<std::string>{"c.safetensors"});

  // A missing folder: nothing to create the temporary in.
  EXPECT_THROW(save_safetensors(path("no/such/folder/c.safetensors"), {{"a", ones({2})}}), Error);
}

// A real I/O error half-way through the data: the file-size limit makes write() fail (EFBIG)
// after the first megabyte of a 4 MiB tensor.
TEST_F(SafetensorsTest, WriteErrorMidFileLeavesTheOldFileAndNoTemporary) {
  save_safetensors(path("c.safetensors"), {{"x", ones({3})}});
  const Bytes before = read_bytes(path("c.safetensors"));
  const Tensor big = ones({1 << 20});

  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  if (old.rlim_max != RLIM_INFINITY && old.rlim_max < (1u << 20)) GTEST_SKIP() << "file-size hard limit too low";
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of a signal
  rlimit low = old;
  low.rlim_cur = 1 << 20;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &low), 0);
  std::string message;
  try {
    save_safetensors(path("c.safetensors"), {{"big", big}});
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_NE(message.find("cannot write"), std::string::npos) << "message: " << message;
  EXPECT_EQ(read_bytes(path("c.safetensors")), before);
  EXPECT_EQ(files(), std::vector<std::string>{"c.safetensors"});
}

// Writes a few valid files as a libFuzzer seed corpus when ATEBM_FUZZ_SEED_DIR names a folder
// (see tests/fuzz/README.md); skipped otherwise.
TEST(SafetensorsSeeds, WritesFuzzSeeds) {
  const char* dir = std::getenv("ATEBM_FUZZ_SEED_DIR");
  if (dir == nullptr) GTEST_SKIP() << "set ATEBM_FUZZ_SEED_DIR to write the seed corpus";
  fs::create_directories(dir);
  const std::string d = dir;
  save_safetensors(d + "/empty.safetensors", {});
  save_safetensors(d + "/one.safetensors", {{"w", from_vector<float>({1.0f, -2.0f}, {2})}}, {{"format", "pt"}});
  save_safetensors(d + "/mixed.safetensors",
                   {{"a", ones({2, 2}, {.dtype = DType::Float64})},
                    {"n", scalar_tensor(3, {.dtype = DType::Int64})},
                    {"m", from_vector<bool>({true, false}, {2}, {.dtype = DType::Bool})},
                    {"e", empty({0})}},
                   {{"k", "v"}, {"arch", "mlp"}});
  const Bytes bf = make_file(R"({"h":{"dtype":"BF16","shape":[1,1],"data_offsets":[0,2]}})", {0x80, 0x3f});
  std::ofstream(d + "/bf16.safetensors", std::ios::binary).write(reinterpret_cast<const char*>(bf.data()),
                                                                 static_cast<long>(bf.size()));
}

// ---- load_into ---------------------------------------------------------------------------------

TEST(LoadInto, CopiesByNameIntoTheExistingTensors) {
  const Tensor w = zeros({2, 2}), n = zeros({}, {.dtype = DType::Int64});
  const Tensor w_storage_before = w;
  load_into({{"n", scalar_tensor(5, {.dtype = DType::Int64})}, {"w", from_vector<float>({1, 2, 3, 4}, {2, 2})}},
            {{"w", w}, {"n", n}});
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(n.item(), 5.0);
  EXPECT_TRUE(w.is_same(w_storage_before));

  // Not strict: missing and unexpected names are ignored, the rest is copied.
  load_into({{"w", full({2, 2}, 9.0)}, {"extra", ones({1})}}, {{"w", w}, {"n", n}}, /*strict=*/false);
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>(4, 9.0f));
  EXPECT_EQ(n.item(), 5.0);
}

TEST(LoadInto, ListsEveryProblemAndModifiesNothing) {
  const Tensor a = zeros({2, 3}), b = zeros({4}), c = zeros({}, {.dtype = DType::Int64}), d = zeros({2}, {.dtype = DType::Float64});
  const StateDict dst = {{"a", a}, {"b", b}, {"c", c}, {"d", d}};
  const StateDict src = {{"a", ones({3, 2})},
                         {"b", ones({4}, {.dtype = DType::Float64})},
                         {"d", ones({2}, {.dtype = DType::Float64})},
                         {"e", ones({1})}};
  std::string msg;
  try {
    load_into(src, dst);
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("4 problem(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'a': shape [3, 2] in the source, [2, 3] in the destination"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'b': dtype float64 in the source, float32 in the destination"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing key 'c'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected key 'e'"), std::string::npos) << msg;
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{0, 0})) << "valid entries are not copied either";
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>(6, 0.0f));

  // Shape and dtype problems count even when not strict.
  EXPECT_THROW(load_into(src, dst, /*strict=*/false), Error);
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{0, 0}));
  // Duplicate source names are ambiguous.
  EXPECT_THROW(load_into({{"d", ones({2}, {.dtype = DType::Float64})}, {"d", ones({2}, {.dtype = DType::Float64})}},
                         {{"d", d}}),
               Error);
}

TEST_F(SafetensorsTest, CheckpointRoundTripThroughLoadInto) {
  Generator gen(7);
  const StateDict model = {{"w", randn({3, 3}, {}, &gen)}, {"b", randn({3}, {.dtype = DType::Float64}, &gen)}};
  save_safetensors(path("ckpt.safetensors"), model);
  const StateDict fresh = {{"w", zeros({3, 3})}, {"b", zeros({3}, {.dtype = DType::Float64})}};
  load_into(load_safetensors(path("ckpt.safetensors")).tensors, fresh);
  for (size_t i = 0; i < model.size(); ++i) EXPECT_EQ(bytes_of(fresh[i].second), bytes_of(model[i].second));
}
