#include "nn/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "engine/atomic_file.h"
#include "engine/factories.h"

namespace atebm::nn {

// The format stores little-endian bytes and this code copies raw memory in and out.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

// The reference implementation refuses headers above 100 MB; a larger length is a corrupt
// prefix, and refusing it early bounds what the JSON parser can be asked to allocate.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests three levels deep (root → tensor entry → shape). The limits below stop
// hostile headers from making the JSON tree far larger than the bytes it came from.
constexpr int kMaxJsonDepth = 8;
constexpr size_t kMaxArrayLength = 64;  // also the largest rank accepted

struct DTypeCode {
  std::string_view code;
  DType dtype;
};
constexpr DTypeCode kDTypeCodes[] = {{"F32", DType::Float32},
                                     {"F64", DType::Float64},
                                     {"I64", DType::Int64},
                                     {"BOOL", DType::Bool},
                                     {"BF16", DType::BFloat16}};

std::string_view code_of(DType t) {
  for (const auto& c : kDTypeCodes)
    if (c.dtype == t) return c.code;
  ATEBM_FAIL("safetensors: dtype {} has no safetensors code", t);
}

std::optional<DType> dtype_of_code(std::string_view code) {
  for (const auto& c : kDTypeCodes)
    if (c.code == code) return c.dtype;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

// One tensor as the header describes it, validated on its own (ranges not yet cross-checked).
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& file) : data_(data), size_(size), file_(file) {}

  SafetensorsFile parse() {
    if (size_ < 8) fail("the file is {} bytes, shorter than the 8-byte header length prefix", size_);
    uint64_t n = 0;
    std::memcpy(&n, data_, 8);
    if (n > kMaxHeaderBytes) fail("header length {} is absurd (more than {} bytes)", n, kMaxHeaderBytes);
    if (n > size_ - 8) fail("header length {} is larger than the {} bytes after the length prefix (truncated file?)", n, size_ - 8);
    const nlohmann::json header = parse_json(data_ + 8, static_cast<size_t>(n));
    data_section_ = data_ + 8 + n;
    data_size_ = size_ - 8 - n;

    SafetensorsFile out;
    std::vector<Entry> entries;
    for (const auto& [key, value] : header.items()) {
      if (key == "__metadata__") {
        out.metadata = parse_metadata(value);
      } else {
        entries.push_back(parse_entry(key, value));
      }
    }
    check_tiling(entries);
    for (const Entry& e : entries) out.tensors.emplace_back(e.name, make_tensor(e));
    return out;
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(fmt::format("safetensors '{}': {}", file_, fmt::format(f, std::forward<Args>(args)...)));
  }

  nlohmann::json parse_json(const uint8_t* p, size_t n) const {
    using json = nlohmann::json;
    // The callback sees every event with its nesting depth: it enforces the size limits and
    // catches repeated tensor names, which the JSON library would silently merge (last wins).
    std::unordered_set<std::string> names;
    // Open containers, innermost last: how many elements each array has so far (-1: an object).
    std::vector<int64_t> open;
    auto guard = [&](int depth, json::parse_event_t ev, json& parsed) {
      switch (ev) {
        case json::parse_event_t::object_start:
        case json::parse_event_t::array_start:
          if (depth >= kMaxJsonDepth) fail("header nests deeper than {} levels", kMaxJsonDepth);
          open.push_back(ev == json::parse_event_t::array_start ? 0 : -1);
          return true;
        case json::parse_event_t::key:
          if (depth == 1 && !names.insert(parsed.get<std::string>()).second)
            fail("key '{}' appears twice in the header", parsed.get<std::string>());
          return true;
        case json::parse_event_t::object_end:
        case json::parse_event_t::array_end:
          open.pop_back();
          break;
        case json::parse_event_t::value:
          break;
      }
      // A value or a closed container completes one element of the container around it.
      if (!open.empty() && open.back() >= 0 && ++open.back() > static_cast<int64_t>(kMaxArrayLength))
        fail("header has an array longer than {} elements", kMaxArrayLength);
      return true;
    };
    // The JSON library stops at a NUL byte (C-string habit) and skips a byte-order mark; both
    // would let bytes the reference reader rejects through, so they are refused here.
    if (std::memchr(p, 0, n) != nullptr) fail("the header is not valid JSON: it contains a NUL byte");
    if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
      fail("the header is not valid JSON: it starts with a byte-order mark");
    try {
      json j = json::parse(p, p + n, guard);
      if (!j.is_object()) fail("the header is not a JSON object (got {})", j.type_name());
      return j;
    } catch (const json::exception& e) {
      fail("the header is not valid JSON: {}", e.what());
    }
  }

  std::map<std::string, std::string> parse_metadata(const nlohmann::json& v) const {
    std::map<std::string, std::string> out;
    if (v.is_null()) return out;
    if (!v.is_object()) fail("__metadata__ must be an object of strings, got {}", v.type_name());
    for (const auto& [k, s] : v.items()) {
      if (!s.is_string()) fail("__metadata__ value of key '{}' is not a string (got {})", k, s.type_name());
      out.emplace(k, s.get<std::string>());
    }
    return out;
  }

  // A JSON integer in [0, 2^63) (the JSON library stores large ones as unsigned).
  std::optional<int64_t> non_negative(const nlohmann::json& v) const {
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      return static_cast<int64_t>(u);
    }
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<int64_t>();
    return std::nullopt;
  }

  Entry parse_entry(const std::string& name, const nlohmann::json& v) const {
    if (!v.is_object()) fail("tensor '{}': entry is not an object (got {})", name, v.type_name());
    // Fields the format may add later are ignored; the three below are required.
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) fail("tensor '{}': missing field '{}'", name, field);

    Entry e{.name = name};
    const auto& dt = v.at("dtype");
    if (!dt.is_string()) fail("tensor '{}': dtype is not a string (got {})", name, dt.type_name());
    const auto parsed = dtype_of_code(dt.get<std::string>());
    if (!parsed) fail("tensor '{}': unknown dtype '{}' (supported: F32, F64, I64, BOOL, BF16)", name, dt.get<std::string>());
    e.dtype = *parsed;

    const auto& shape = v.at("shape");
    if (!shape.is_array()) fail("tensor '{}': shape is not an array (got {})", name, shape.type_name());
    if (shape.size() > kMaxArrayLength) fail("tensor '{}': shape has {} dims, more than {}", name, shape.size(), kMaxArrayLength);
    // The product skips zeros: strides are products of the dims, so [0, 2^40, 2^40] must be
    // refused although it holds no element.
    int64_t nonzero_product = 1;
    bool has_zero = false;
    for (const auto& d : shape) {
      const auto s = non_negative(d);
      if (!s) fail("tensor '{}': shape {} is not an array of non-negative integers", name, shape.dump());
      e.shape.push_back(*s);
      has_zero |= *s == 0;
      if (__builtin_mul_overflow(nonzero_product, std::max<int64_t>(*s, 1), &nonzero_product))
        fail("tensor '{}': element count of shape {} overflows", name, shape.dump());
    }
    const int64_t numel = has_zero ? 0 : nonzero_product;
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(numel), dtype_size(e.dtype), &nbytes))
      fail("tensor '{}': byte size of shape {} overflows", name, shape.dump());

    const auto& off = v.at("data_offsets");
    std::optional<int64_t> b, en;
    if (off.is_array() && off.size() == 2) b = non_negative(off[0]), en = non_negative(off[1]);
    if (!b || !en) fail("tensor '{}': data_offsets {} is not two non-negative integers", name, off.dump());
    e.begin = static_cast<uint64_t>(*b);
    e.end = static_cast<uint64_t>(*en);
    if (e.begin > e.end) fail("tensor '{}': data_offsets [{}, {}] has begin > end", name, e.begin, e.end);
    if (e.end - e.begin != nbytes)
      fail("tensor '{}': data_offsets [{}, {}] span {} bytes but {} shape {} needs {}", name, e.begin, e.end,
           e.end - e.begin, dt.get<std::string>(), shape_str(e.shape), nbytes);
    if (e.end > data_size_)
      fail("tensor '{}': data_offsets [{}, {}] are out of range of the {}-byte data section", name, e.begin, e.end,
           data_size_);
    return e;
  }

  // The tensors must tile the data section exactly: no overlaps and no uncovered bytes (the
  // format forbids holes, which could hide data that a reader would silently ignore).
  void check_tiling(std::vector<Entry>& entries) const {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
    uint64_t covered = 0;
    const Entry* prev = nullptr;
    for (const Entry& e : entries) {
      if (e.begin < covered)
        fail("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap in the data section", prev->name, prev->begin, prev->end,
             e.name, e.begin, e.end);
      if (e.begin > covered) fail("data section bytes [{}, {}) are not covered by any tensor (a hole)", covered, e.begin);
      covered = e.end;
      prev = &e;
    }
    if (covered != data_size_)
      fail("data section bytes [{}, {}) are not covered by any tensor (trailing bytes)", covered, data_size_);
  }

  Tensor make_tensor(const Entry& e) const {
    const uint8_t* src = data_section_ + e.begin;
    const size_t nbytes = static_cast<size_t>(e.end - e.begin);
    // Any byte but 0 or 1 would be an invalid C++ bool once the tensor is read.
    if (e.dtype == DType::Bool)
      for (size_t i = 0; i < nbytes; ++i)
        if (src[i] > 1) fail("tensor '{}': bool element {} holds byte {}, not 0 or 1", e.name, i, src[i]);
    // Built by hand rather than with empty() because bfloat16 has no kernels but may be stored.
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(nbytes, Device::cpu());
    impl->shape = e.shape;
    impl->strides = contiguous_strides(e.shape);
    impl->dtype = e.dtype;
    if (nbytes > 0) std::memcpy(impl->storage->data(), src, nbytes);
    return Tensor(std::move(impl));
  }

  const uint8_t* data_;
  size_t size_;
  const std::string& file_;
  const uint8_t* data_section_ = nullptr;
  uint64_t data_size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

using Named = std::pair<std::string, Tensor>;

// Data-section order: element size descending, then name, as the reference writer does. The
// data section starts 8-byte aligned, so every tensor then starts at a multiple of its element
// size, which readers that view the bytes in place (torch.frombuffer, mmap) need.
std::vector<const Named*> data_order(const std::string& path, std::vector<const Named*> by_name) {
  for (const Named* nt : by_name) {
    ATEBM_CHECK(nt->second.defined(), "save_safetensors '{}': tensor '{}' is undefined", path, nt->first);
    ATEBM_CHECK(nt->first != "__metadata__", "save_safetensors '{}': '__metadata__' is reserved and cannot name a tensor",
                path);
  }
  std::stable_sort(by_name.begin(), by_name.end(),
                   [](const Named* a, const Named* b) { return a->second.itemsize() > b->second.itemsize(); });
  return by_name;
}

// The JSON header: metadata first, then the tensors by name; padded with spaces so that the data
// section starts 8-byte aligned.
std::string build_header(const std::string& path, const std::vector<const Named*>& layout,
                         const std::map<std::string, std::string>& metadata) {
  std::map<std::string, nlohmann::ordered_json> entries;
  uint64_t offset = 0;
  for (const Named* nt : layout) {
    const Tensor& t = nt->second;
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.itemsize();
    entries[nt->first] = {{"dtype", code_of(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  for (auto& [name, e] : entries) h[name] = std::move(e);
  std::string s;
  try {
    s = h.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name or metadata that is not UTF-8
    ATEBM_FAIL("save_safetensors '{}': cannot encode the header: {}", path, e.what());
  }
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

void write_tensor(AtomicFile& f, const std::string& name, const Tensor& t) {
  const size_t nbytes = static_cast<size_t>(t.numel()) * t.itemsize();
  if (nbytes == 0) return;
  if (t.device().is_cpu() && t.is_contiguous()) {
    f.write(t.raw_data(), nbytes);
    return;
  }
  ATEBM_CHECK(t.dtype() != DType::BFloat16, "save_safetensors: tensor '{}': bfloat16 must be contiguous on the CPU "
              "(there is no bfloat16 copy kernel yet)", name);
  const Tensor c = copy_to(t, Device::cpu(), t.dtype());  // one tensor at a time bounds extra memory
  f.write(c.raw_data(), nbytes);
}

}  // namespace

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name_for_errors) {
  return Reader(data, size, name_for_errors).parse();
}

SafetensorsFile load_safetensors(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ATEBM_CHECK(fd >= 0, "safetensors '{}': cannot open: {}", path, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  ATEBM_CHECK(::fstat(fd, &st) == 0, "safetensors '{}': cannot stat: {}", path, std::strerror(errno));
  ATEBM_CHECK(S_ISREG(st.st_mode), "safetensors '{}': not a regular file", path);
  // Read into memory rather than mmap: a file truncated by someone else while mapped would
  // kill the process with SIGBUS instead of raising an error.
  std::vector<uint8_t> buf(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0 && errno == EINTR) continue;
    ATEBM_CHECK(r >= 0, "safetensors '{}': read failed: {}", path, std::strerror(errno));
    ATEBM_CHECK(r > 0, "safetensors '{}': the file shrank while being read", path);
    got += static_cast<size_t>(r);
  }
  return parse_safetensors(buf.data(), buf.size(), path);
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<const Named*> sorted;
  for (const auto& nt : tensors) sorted.push_back(&nt);
  std::sort(sorted.begin(), sorted.end(), [](const Named* a, const Named* b) { return a->first < b->first; });
  for (size_t i = 1; i < sorted.size(); ++i)
    ATEBM_CHECK(sorted[i]->first != sorted[i - 1]->first, "save_safetensors '{}': tensor name '{}' appears twice", path,
                sorted[i]->first);

  // Everything that can fail from here on happens while only the temporary exists.
  AtomicFile f(path, "save_safetensors");
  const std::vector<const Named*> layout = data_order(path, std::move(sorted));
  const std::string header = build_header(path, layout, metadata);
  const uint64_t n = header.size();
  f.write(&n, 8);
  f.write(header.data(), header.size());
  for (const Named* nt : layout) write_tensor(f, nt->first, nt->second);
  f.commit();
}

}  // namespace atebm::nn
