#include "at_ebm/data/npy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "at_ebm/data/array_dataset.h"
#include "at_ebm/data/file_bytes.h"
#include "at_ebm/data/zip_archive.h"
#include "engine/error.h"
#include "engine/factories.h"

namespace atebm::data {

namespace {

// A strict reader for the header dict: {'key': value, ...} where a value is a quoted string,
// True / False, or a tuple of non-negative integers. Nothing else is accepted.
class HeaderParser {
 public:
  HeaderParser(const std::string& s, const std::string& name) : s_(s), name_(name) {}

  struct Value {
    std::string str;
    bool is_bool = false, boolean = false, is_tuple = false;
    std::vector<int64_t> tuple;
  };

  std::map<std::string, Value> parse() {
    std::map<std::string, Value> out;
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      ATEBM_CHECK(!out.count(key), "{}: npy header repeats the key '{}'", name_, key);
      out[key] = value();
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      ATEBM_CHECK(peek() == '}', "{}: npy header: expected ',' or '}}' at column {}", name_, pos_);
    }
    ++pos_;
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
    ATEBM_CHECK(pos_ + 1 == s_.size() && s_[pos_] == '\n',
                "{}: npy header must end with spaces and one newline after the dict", name_);
    return out;
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    skip_ws();
    ATEBM_CHECK(peek() == c, "{}: npy header: expected '{}' at column {} of \"{}\"", name_, c, pos_, printable());
    ++pos_;
  }
  std::string quoted() {
    skip_ws();
    const char q = peek();
    ATEBM_CHECK(q == '\'' || q == '"', "{}: npy header: expected a quoted string at column {} of \"{}\"", name_,
                pos_, printable());
    const size_t end = s_.find(q, pos_ + 1);
    ATEBM_CHECK(end != std::string::npos, "{}: npy header: unterminated string", name_);
    std::string v = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return v;
  }
  Value value() {
    skip_ws();
    Value v;
    if (peek() == '\'' || peek() == '"') {
      v.str = quoted();
    } else if (s_.compare(pos_, 4, "True") == 0) {
      v.is_bool = v.boolean = true;
      pos_ += 4;
    } else if (s_.compare(pos_, 5, "False") == 0) {
      v.is_bool = true;
      pos_ += 5;
    } else if (peek() == '(') {
      ++pos_;
      v.is_tuple = true;
      for (;;) {
        skip_ws();
        if (peek() == ')') break;
        ATEBM_CHECK(peek() >= '0' && peek() <= '9', "{}: npy header: expected a dimension at column {} of \"{}\"",
                    name_, pos_, printable());
        int64_t n = 0;
        while (peek() >= '0' && peek() <= '9') {
          ATEBM_CHECK(n < (int64_t{1} << 50), "{}: npy header: dimension too large", name_);
          n = n * 10 + (s_[pos_++] - '0');
        }
        if (peek() == 'L') ++pos_;  // Python 2 long suffix
        v.tuple.push_back(n);
        skip_ws();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        ATEBM_CHECK(peek() == ')', "{}: npy header: expected ',' or ')' in the shape at column {}", name_, pos_);
      }
      ++pos_;
    } else {
      ATEBM_FAIL("{}: npy header: unexpected value at column {} of \"{}\"", name_, pos_, printable());
    }
    return v;
  }
  std::string printable() const {
    std::string p = s_.substr(0, 120);
    for (char& c : p)
      if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) > 126) c = '?';
    return p;
  }

  const std::string& s_;
  const std::string& name_;
  size_t pos_ = 0;
};

bool parse_descr(const std::string& d, NpyArray* a) {
  if (d.size() < 2) return false;
  const char order = d.size() == 3 ? d[0] : '=';
  const std::string code = d.size() == 3 ? d.substr(1) : d;
  if (d.size() == 3 && order != '<' && order != '>' && order != '|' && order != '=') return false;
  a->big_endian = order == '>';
  if (code == "u1") {
    a->type = NpyType::U8;
    a->item_size = 1;
  } else if (code == "f4" && order != '|') {
    a->type = NpyType::F32;
    a->item_size = 4;
  } else if (code == "f8" && order != '|') {
    a->type = NpyType::F64;
    a->item_size = 8;
  } else if (code == "i8" && order != '|') {
    a->type = NpyType::I64;
    a->item_size = 8;
  } else {
    return false;
  }
  return true;
}

template <typename T>
T load_elem(const uint8_t* p, bool big_endian) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (big_endian) std::reverse(b, b + sizeof(T));
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

}  // namespace

NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& name) {
  ATEBM_CHECK(size >= 10 && std::memcmp(data, "\x93NUMPY", 6) == 0, "{}: not a .npy file (missing the \\x93NUMPY magic)",
              name);
  const int major = data[6], minor = data[7];
  ATEBM_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, "{}: unsupported .npy version {}.{}", name,
              major, minor);
  const size_t len_bytes = major == 1 ? 2 : 4;
  ATEBM_CHECK(size >= 8 + len_bytes, "{}: truncated .npy preamble", name);
  size_t hlen = 0;
  for (size_t i = 0; i < len_bytes; ++i) hlen |= static_cast<size_t>(data[8 + i]) << (8 * i);
  const size_t hstart = 8 + len_bytes;
  ATEBM_CHECK(hlen <= size - hstart, "{}: truncated: header length {} runs past the {}-byte file", name, hlen, size);
  const std::string header(reinterpret_cast<const char*>(data + hstart), hlen);
  auto dict = HeaderParser(header, name).parse();

  NpyArray a;
  for (const char* key : {"descr", "fortran_order", "shape"})
    ATEBM_CHECK(dict.count(key), "{}: npy header lacks '{}'", name, key);
  ATEBM_CHECK(dict.size() == 3, "{}: npy header has keys other than descr, fortran_order and shape", name);
  const auto& descr = dict["descr"];
  ATEBM_CHECK(!descr.is_bool && !descr.is_tuple && parse_descr(descr.str, &a),
              "{}: unsupported dtype '{}' (expected uint8 '|u1', float32 '<f4', float64 '<f8' or int64 '<i8')", name,
              descr.str);
  ATEBM_CHECK(dict["fortran_order"].is_bool, "{}: fortran_order must be True or False", name);
  ATEBM_CHECK(!dict["fortran_order"].boolean, "{}: Fortran-ordered arrays are not supported (save with C order)", name);
  ATEBM_CHECK(dict["shape"].is_tuple, "{}: shape must be a tuple", name);
  a.shape = dict["shape"].tuple;
  a.data_offset = hstart + hlen;
  const size_t avail = size - a.data_offset;
  size_t count = 1;
  for (const int64_t d : a.shape) {
    const auto n = static_cast<size_t>(d);
    ATEBM_CHECK(n == 0 || count <= avail / n, "{}: truncated: shape ({}) needs more than the {} data bytes present",
                name, fmt::join(a.shape, ", "), avail);
    count *= n;
  }
  ATEBM_CHECK(count <= avail / a.item_size, "{}: truncated: shape ({}) of {}-byte items needs more than the {} data bytes present",
              name, fmt::join(a.shape, ", "), a.item_size, avail);
  ATEBM_CHECK(count * a.item_size == avail, "{}: shape ({}) of {}-byte items needs {} data bytes, the file has {}", name,
              fmt::join(a.shape, ", "), a.item_size, count * a.item_size, avail);
  return a;
}

std::vector<double> npy_values_f64(const NpyArray& a, const uint8_t* file_data) {
  size_t n = 1;
  for (const int64_t d : a.shape) n *= static_cast<size_t>(d);
  std::vector<double> out(n);
  const uint8_t* src = file_data + a.data_offset;
  for (size_t k = 0; k < n; ++k) {
    switch (a.type) {
      case NpyType::U8: out[k] = src[k]; break;
      case NpyType::F32: out[k] = load_elem<float>(src + 4 * k, a.big_endian); break;
      case NpyType::F64: out[k] = load_elem<double>(src + 8 * k, a.big_endian); break;
      case NpyType::I64: out[k] = static_cast<double>(load_elem<int64_t>(src + 8 * k, a.big_endian)); break;
      default: ATEBM_FAIL("npy_values_f64: unknown npy element type {}", static_cast<int>(a.type));
    }
  }
  return out;
}

NpzFloatArray load_npz_array(const std::string& path, const std::string& key, const std::string& hint) {
  const std::vector<uint8_t> zip = read_file_bytes(path);
  std::vector<std::string> names;
  for (const ZipEntry& e : zip_entries(zip.data(), zip.size(), path)) {
    if (e.name != key + ".npy") {
      names.push_back(e.name);
      continue;
    }
    const std::string where = fmt::format("{}: '{}'", path, key);
    const std::vector<uint8_t> bytes = zip_read(zip.data(), zip.size(), e, path);
    const NpyArray a = parse_npy(bytes.data(), bytes.size(), where);
    ATEBM_CHECK(a.type == NpyType::F64 || a.type == NpyType::F32, "{}: expected a float64 or float32 array", where);
    return {a.shape, npy_values_f64(a, bytes.data())};
  }
  ATEBM_FAIL("{}: no array '{}' (entries: {}){}{}", path, key,
             names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")), hint.empty() ? "" : "; ",
             hint);
}

DatasetPtr npy_dataset(std::vector<uint8_t> bytes, const std::string& name, NpyLayout layout) {
  const NpyArray a = parse_npy(bytes.data(), bytes.size(), name);
  ATEBM_CHECK(a.type != NpyType::I64, "{}: int64 arrays are not images (expected uint8, float32 or float64)", name);
  const auto& s = a.shape;
  ArrayDesc d;
  d.name = name;
  if (s.size() == 3) {
    d.count = s[0];
    d.shape = {1, s[1], s[2]};
    d.layout = PixelLayout::CHW;
  } else if (s.size() == 4) {
    const bool c1 = s[1] == 1 || s[1] == 3, c3 = s[3] == 1 || s[3] == 3;
    NpyLayout l = layout;
    if (l == NpyLayout::Auto) {
      ATEBM_CHECK(c1 || c3, "{}: shape ({}) has neither axis 1 nor axis 3 of size 1 or 3 (channels)", name,
                  fmt::join(s, ", "));
      l = c1 ? NpyLayout::NCHW : NpyLayout::NHWC;
    }
    const bool nchw = l == NpyLayout::NCHW;
    d.count = s[0];
    d.shape = nchw ? ImageShape{s[1], s[2], s[3]} : ImageShape{s[3], s[1], s[2]};
    d.layout = nchw ? PixelLayout::CHW : PixelLayout::HWC;
    ATEBM_CHECK(d.shape.c == 1 || d.shape.c == 3, "{}: {} has {} channels, expected 1 or 3", name,
                nchw ? "NCHW" : "NHWC", d.shape.c);
  } else {
    ATEBM_FAIL("{}: shape ({}) is not an image array (expected (N, H, W), (N, C, H, W) or (N, H, W, C))", name,
               fmt::join(s, ", "));
  }
  ATEBM_CHECK(d.count > 0 && d.shape.numel() > 0, "{}: shape ({}) holds no images", name, fmt::join(s, ", "));
  const size_t per_image = static_cast<size_t>(d.shape.numel());
  if (a.type == NpyType::U8) {
    d.type = PixelType::U8;
    d.stride = per_image;
    d.owner = own_bytes(std::move(bytes), &d.base);
    d.base += a.data_offset;
  } else {
    // Floats are converted once to native float32 and checked: the loader promises [0, 1].
    const size_t n = per_image * static_cast<size_t>(d.count);
    std::vector<uint8_t> f(n * sizeof(float));
    const uint8_t* src = bytes.data() + a.data_offset;
    for (size_t k = 0; k < n; ++k) {
      float v = a.type == NpyType::F32 ? load_elem<float>(src + 4 * k, a.big_endian)
                                       : static_cast<float>(load_elem<double>(src + 8 * k, a.big_endian));
      ATEBM_CHECK(std::isfinite(v) && v >= -1e-4f && v <= 1.0f + 1e-4f,
                  "{}: image {} holds {} (element {}); float images must lie in [0, 1]", name, k / per_image, v,
                  k % per_image);
      v = std::clamp(v, 0.0f, 1.0f);
      std::memcpy(f.data() + 4 * k, &v, 4);
    }
    d.type = PixelType::F32;
    d.stride = per_image * sizeof(float);
    d.owner = own_bytes(std::move(f), &d.base);
  }
  return std::make_shared<ArrayDataset>(std::move(d));
}

DatasetPtr open_npy(const std::string& path, NpyLayout layout) {
  return npy_dataset(read_file_bytes(path), "npy:" + path, layout);
}

DatasetPtr open_npz(const std::string& path, const std::string& key, NpyLayout layout) {
  const std::vector<uint8_t> zip = read_file_bytes(path);
  const auto entries = zip_entries(zip.data(), zip.size(), path);
  std::vector<std::string> keys;
  for (const auto& e : entries) {
    if (e.name == key + ".npy" || e.name == key)
      return npy_dataset(zip_read(zip.data(), zip.size(), e, path), fmt::format("npz:{}:{}", path, key), layout);
    keys.push_back(e.name.size() > 4 && e.name.ends_with(".npy") ? e.name.substr(0, e.name.size() - 4) : e.name);
  }
  ATEBM_FAIL("{}: no array '{}' (arrays: {})", path, key, keys.empty() ? "none" : fmt::format("{}", fmt::join(keys, ", ")));
}

std::vector<uint8_t> npy_bytes(const Tensor& t) {
  const char* descr = nullptr;
  switch (t.dtype()) {
    case DType::Float32: descr = "<f4"; break;
    case DType::Float64: descr = "<f8"; break;
    case DType::Int64: descr = "<i8"; break;
    default: ATEBM_FAIL("npy_bytes: dtype {} is not supported (float32, float64, int64)", dtype_name(t.dtype()));
  }
  const Tensor c = copy_to(t, Device::cpu(), t.dtype());  // contiguous, on the CPU
  std::string shape = "(";
  for (int64_t d = 0; d < c.dim(); ++d) shape += fmt::format("{}, ", c.size(d));
  if (c.dim() == 1) shape.pop_back();  // "(5,)"
  else if (c.dim() > 1) shape.resize(shape.size() - 2);
  shape += ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // numpy pads so that the data starts at a multiple of 64 bytes, ending the header with '\n'.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(static_cast<uint8_t>(header.size() & 0xff));
  out.push_back(static_cast<uint8_t>(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  const auto* p = static_cast<const uint8_t*>(c.raw_data());
  out.insert(out.end(), p, p + c.numel() * static_cast<int64_t>(c.itemsize()));
  return out;
}

namespace {
void write_all(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  ATEBM_CHECK(f.good(), "{}: cannot create", path);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ATEBM_CHECK(f.good(), "{}: write failed", path);
}
}  // namespace

void save_npy(const std::string& path, const Tensor& t) { write_all(path, npy_bytes(t)); }

void save_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files;
  for (const auto& [k, t] : arrays) files.emplace_back(k + ".npy", npy_bytes(t));
  write_all(path, zip_store(files));
}

}  // namespace atebm::data
