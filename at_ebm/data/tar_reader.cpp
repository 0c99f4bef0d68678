#include "at_ebm/data/tar_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/error.h"

namespace atebm::data {

namespace {

constexpr size_t kBlock = 512;

// gzread reads both gzip and uncompressed files ("transparent" mode), so one stream serves both.
class GzStream {
 public:
  explicit GzStream(const std::string& path) : path_(path), gz_(gzopen(path.c_str(), "rb")) {
    ATEBM_CHECK(gz_ != nullptr, "{}: cannot open ({})", path, std::strerror(errno));
    gzbuffer(gz_, 1 << 18);
  }
  ~GzStream() { gzclose(gz_); }
  GzStream(const GzStream&) = delete;
  GzStream& operator=(const GzStream&) = delete;

  /// Reads up to n bytes; returns how many (fewer only at the end of the stream).
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      const unsigned want = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      const int got = gzread(gz_, static_cast<char*>(dst) + done, want);
      if (got < 0) {
        int code = 0;
        ATEBM_FAIL("{}: corrupt or truncated gzip data ({})", path_, gzerror(gz_, &code));
      }
      if (got == 0) {
        // zlib reports a gzip stream cut short as a clean end of file with Z_BUF_ERROR pending.
        int code = Z_OK;
        const char* why = gzerror(gz_, &code);
        ATEBM_CHECK(code == Z_OK, "{}: corrupt or truncated gzip data ({})", path_, why);
        break;
      }
      done += static_cast<size_t>(got);
    }
    return done;
  }

 private:
  std::string path_;
  gzFile gz_;
};

std::string field_str(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }

// Parses a numeric header field: octal ASCII (spaces/NULs around it) or GNU base-256.
bool parse_number(const unsigned char* p, size_t n, uint64_t* out) {
  if (p[0] & 0x80) {
    uint64_t v = p[0] & 0x7f;
    for (size_t i = 1; i < n; ++i) {
      if (v >> 56) return false;
      v = (v << 8) | p[i];
    }
    *out = v;
    return true;
  }
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == 0)) ++i;
  uint64_t v = 0;
  bool any = false;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 60) return false;
    v = v * 8 + (p[i] - '0');
    any = true;
  }
  for (; i < n; ++i)
    if (p[i] != ' ' && p[i] != 0) return false;
  *out = any ? v : 0;
  return true;
}

// The "path" record of a pax extended header: records are "LEN key=value\n".
std::string pax_path(const std::vector<uint8_t>& data) {
  std::string s(data.begin(), data.end()), path;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t sp = s.find(' ', pos);
    if (sp == std::string::npos) break;
    size_t len = 0;
    for (size_t i = pos; i < sp; ++i) {
      if (s[i] < '0' || s[i] > '9') return path;
      len = len * 10 + static_cast<size_t>(s[i] - '0');
      if (len > s.size()) return path;
    }
    if (len == 0 || pos + len > s.size()) break;
    const std::string rec = s.substr(sp + 1, pos + len - sp - 2);  // without the trailing '\n'
    if (rec.rfind("path=", 0) == 0) path = rec.substr(5);
    pos += len;
  }
  return path;
}

}  // namespace

void read_tar(const std::string& archive, const std::function<bool(const std::string&)>& want,
              const std::function<void(const std::string&, const uint8_t*, size_t)>& on_file) {
  GzStream in(archive);
  unsigned char h[kBlock];
  std::vector<uint8_t> buf;
  std::string long_name;  // from a GNU 'L' or pax 'x' entry, applies to the next entry
  uint64_t offset = 0;
  for (int64_t entry = 0;; ++entry) {
    const size_t got = in.read(h, kBlock);
    ATEBM_CHECK(got == 0 || got == kBlock, "{}: truncated: a partial header at byte {} (entry {})", archive,
                offset, entry);
    if (got == 0) break;  // tolerate archives without the end-of-archive zero blocks
    if (std::all_of(h, h + kBlock, [](unsigned char c) { return c == 0; })) break;

    uint64_t sum_field = 0, size = 0;
    ATEBM_CHECK(parse_number(h + 148, 8, &sum_field), "{}: entry {} at byte {}: not a tar header (bad checksum field)",
                archive, entry, offset);
    uint64_t sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
    ATEBM_CHECK(sum == sum_field, "{}: entry {} at byte {}: header checksum {} does not match the header ({})",
                archive, entry, offset, sum_field, sum);
    ATEBM_CHECK(parse_number(h + 124, 12, &size), "{}: entry {} at byte {}: bad size field", archive, entry, offset);

    std::string path = field_str(reinterpret_cast<const char*>(h), 100);
    if (std::memcmp(h + 257, "ustar\0", 6) == 0) {
      const std::string prefix = field_str(reinterpret_cast<const char*>(h + 345), 155);
      if (!prefix.empty()) path = prefix + "/" + path;
    }
    if (!long_name.empty()) {
      path = long_name;
      long_name.clear();
    }
    while (path.rfind("./", 0) == 0) path = path.substr(2);
    const char type = static_cast<char>(h[156]);
    const bool is_file = type == '0' || type == '\0' || type == '7';
    const bool is_meta = type == 'L' || type == 'x';
    const bool keep = is_meta || (is_file && want(path));

    // Read (or skip) the data in chunks: a corrupt size field then fails at the end of the
    // stream instead of allocating whatever the header claims.
    const uint64_t padded = (size + kBlock - 1) / kBlock * kBlock;
    buf.clear();
    uint64_t left = padded;
    unsigned char chunk[1 << 16];
    while (left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, sizeof chunk));
      const size_t r = in.read(chunk, n);
      ATEBM_CHECK(r == n, "{}: truncated inside entry {} '{}' ({} bytes of data expected)", archive, entry, path, size);
      if (keep) {
        const uint64_t data_left = size - std::min<uint64_t>(size, padded - left);
        buf.insert(buf.end(), chunk, chunk + std::min<uint64_t>(n, data_left));
      }
      left -= n;
    }
    offset += kBlock + padded;

    if (type == 'L') {
      long_name = buf.empty() ? std::string() : field_str(reinterpret_cast<const char*>(buf.data()), buf.size());
    } else if (type == 'x') {
      long_name = pax_path(buf);
    } else if (keep) {
      on_file(path, buf.data(), buf.size());
    }
  }
}

bool is_tar_name(const std::string& path) {
  auto ends = [&](const char* s) {
    const size_t n = std::strlen(s);
    return path.size() >= n && path.compare(path.size() - n, n, s) == 0;
  };
  return ends(".tar") || ends(".tar.gz") || ends(".tgz");
}

}  // namespace atebm::data
