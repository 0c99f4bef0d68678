#include "at_ebm/data/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "engine/error.h"

namespace atebm::data {

namespace {

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void put(std::vector<uint8_t>& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEocdSig = 0x06054b50,
                   kZip64EocdSig = 0x06064b50, kZip64LocSig = 0x07064b50;

}  // namespace

std::vector<ZipEntry> zip_entries(const uint8_t* data, size_t size, const std::string& name) {
  ATEBM_CHECK(size >= 22, "{}: not a zip archive ({} bytes is shorter than its end record)", name, size);
  // The end record sits in the last 22 + 65535 bytes (its comment may be up to 65535 bytes).
  size_t eocd = std::numeric_limits<size_t>::max();
  for (size_t p = size - 22 + 1; p-- > (size > 22 + 65535 ? size - 22 - 65535 : 0);) {
    if (le(data + p, 4) == kEocdSig && p + 22 + le(data + p + 20, 2) == size) {
      eocd = p;
      break;
    }
  }
  ATEBM_CHECK(eocd != std::numeric_limits<size_t>::max(), "{}: not a zip archive (no end-of-central-directory record)",
              name);
  const uint8_t* e = data + eocd;
  ATEBM_CHECK(le(e + 4, 2) == 0 && le(e + 6, 2) == 0, "{}: multi-disk zip archives are not supported", name);
  uint64_t count = le(e + 10, 2), cd_size = le(e + 12, 4), cd_off = le(e + 16, 4);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {
    ATEBM_CHECK(eocd >= 20 && le(data + eocd - 20, 4) == kZip64LocSig, "{}: zip64 archive without its locator", name);
    const uint64_t z = le(data + eocd - 20 + 8, 8);
    ATEBM_CHECK(z <= size && size - z >= 56 && le(data + z, 4) == kZip64EocdSig,
                "{}: zip64 end record offset {} is invalid", name, z);
    count = le(data + z + 32, 8);
    cd_size = le(data + z + 40, 8);
    cd_off = le(data + z + 48, 8);
  }
  ATEBM_CHECK(cd_off <= size && cd_size <= size - cd_off,
              "{}: central directory (offset {}, {} bytes) lies outside the {}-byte file", name, cd_off, cd_size, size);
  ATEBM_CHECK(count <= cd_size / 46, "{}: {} entries cannot fit a {}-byte central directory", name, count, cd_size);
  std::vector<ZipEntry> out;
  size_t p = cd_off;
  const size_t end = cd_off + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    ATEBM_CHECK(end - p >= 46 && le(data + p, 4) == kCentralSig, "{}: central directory entry {} is corrupt", name, i);
    const uint8_t* c = data + p;
    const size_t nlen = le(c + 28, 2), xlen = le(c + 30, 2), clen = le(c + 32, 2);
    ATEBM_CHECK(end - p - 46 >= nlen + xlen + clen, "{}: central directory entry {} overruns the directory", name, i);
    ZipEntry z;
    const uint16_t flags = static_cast<uint16_t>(le(c + 8, 2));
    z.method = static_cast<uint16_t>(le(c + 10, 2));
    z.crc = static_cast<uint32_t>(le(c + 16, 4));
    z.compressed_size = le(c + 20, 4);
    z.size = le(c + 24, 4);
    z.local_offset = le(c + 42, 4);
    z.name.assign(reinterpret_cast<const char*>(c + 46), nlen);
    ATEBM_CHECK(!(flags & 1), "{}: entry '{}' is encrypted", name, z.name);
    // Zip64 extra field (id 1): the 64-bit values of the fields set to 0xFFFFFFFF, in order.
    for (size_t x = 46 + nlen; x + 4 <= 46 + nlen + xlen;) {
      const uint64_t id = le(c + x, 2), len = le(c + x + 2, 2);
      ATEBM_CHECK(x + 4 + len <= 46 + nlen + xlen, "{}: entry '{}' has a corrupt extra field", name, z.name);
      if (id == 1) {
        size_t q = x + 4;
        for (uint64_t* f : {&z.size, &z.compressed_size, &z.local_offset}) {
          if (*f != 0xFFFFFFFF) continue;
          ATEBM_CHECK(q + 8 <= x + 4 + len, "{}: entry '{}' has a short zip64 field", name, z.name);
          *f = le(c + q, 8);
          q += 8;
        }
      }
      x += 4 + len;
    }
    out.push_back(std::move(z));
    p += 46 + nlen + xlen + clen;
  }
  return out;
}

std::vector<uint8_t> zip_read(const uint8_t* data, size_t size, const ZipEntry& z, const std::string& name) {
  const std::string where = fmt::format("{}: entry '{}'", name, z.name);
  ATEBM_CHECK(z.local_offset <= size && size - z.local_offset >= 30 && le(data + z.local_offset, 4) == kLocalSig,
              "{}: local header at offset {} is missing", where, z.local_offset);
  const uint8_t* l = data + z.local_offset;
  const uint64_t start = z.local_offset + 30 + le(l + 26, 2) + le(l + 28, 2);
  ATEBM_CHECK(start <= size && z.compressed_size <= size - start,
              "{}: truncated ({} compressed bytes at offset {}, file has {})", where, z.compressed_size, start, size);
  const uint8_t* src = data + start;
  std::vector<uint8_t> out;
  if (z.method == 0) {
    ATEBM_CHECK(z.size == z.compressed_size, "{}: stored entry with sizes {} and {}", where, z.size, z.compressed_size);
    out.assign(src, src + z.size);
  } else if (z.method == 8) {
    // Deflate expands at most ~1032:1; a larger claim is a corrupt header, not a real entry.
    ATEBM_CHECK(z.size <= z.compressed_size * 1100 + 1024, "{}: claims {} bytes from {} compressed", where, z.size,
                z.compressed_size);
    out.resize(z.size);
    z_stream s{};
    ATEBM_CHECK(inflateInit2(&s, -MAX_WBITS) == Z_OK, "{}: zlib inflateInit2 failed", where);
    uint64_t in_done = 0, out_done = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
      const uInt in_chunk = static_cast<uInt>(std::min<uint64_t>(z.compressed_size - in_done, 1u << 30));
      const uInt out_chunk = static_cast<uInt>(std::min<uint64_t>(z.size - out_done, 1u << 30));
      s.next_in = const_cast<Bytef*>(src + in_done);
      s.avail_in = in_chunk;
      s.next_out = out.data() + out_done;
      s.avail_out = out_chunk;
      rc = inflate(&s, Z_NO_FLUSH);
      in_done += in_chunk - s.avail_in;
      out_done += out_chunk - s.avail_out;
      if (rc == Z_OK && in_chunk == s.avail_in && out_chunk == s.avail_out) rc = Z_BUF_ERROR;  // no progress
    }
    inflateEnd(&s);
    ATEBM_CHECK(rc == Z_STREAM_END && out_done == z.size, "{}: corrupt deflate data ({} of {} bytes inflated, zlib {})",
                where, out_done, z.size, rc);
  } else {
    ATEBM_FAIL("{}: compression method {} is not supported (expected 0 stored or 8 deflate)", where, z.method);
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t done = 0; done < out.size();) {
    const uInt n = static_cast<uInt>(std::min<uint64_t>(out.size() - done, 1u << 30));
    crc = crc32(crc, out.data() + done, n);
    done += n;
  }
  ATEBM_CHECK(crc == z.crc, "{}: CRC-32 mismatch ({:08x}, expected {:08x})", where, crc, z.crc);
  return out;
}

std::vector<uint8_t> zip_store(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& files) {
  std::vector<uint8_t> out, cd;
  for (const auto& [fname, bytes] : files) {
    const uint32_t crc = static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), bytes.data(), static_cast<uInt>(bytes.size())));
    const uint64_t off = out.size();
    ATEBM_CHECK(off + bytes.size() < 0xFFFFFFFFull, "zip_store: archive over 4 GiB is not supported");
    put(out, kLocalSig, 4);
    put(out, 20, 2);  // version needed
    put(out, 0, 2);   // flags
    put(out, 0, 2);   // method: stored
    put(out, 0, 4);   // time, date
    put(out, crc, 4);
    put(out, bytes.size(), 4);
    put(out, bytes.size(), 4);
    put(out, fname.size(), 2);
    put(out, 0, 2);
    out.insert(out.end(), fname.begin(), fname.end());
    out.insert(out.end(), bytes.begin(), bytes.end());

    put(cd, kCentralSig, 4);
    put(cd, 20, 2);  // version made by
    put(cd, 20, 2);
    put(cd, 0, 2);
    put(cd, 0, 2);
    put(cd, 0, 4);
    put(cd, crc, 4);
    put(cd, bytes.size(), 4);
    put(cd, bytes.size(), 4);
    put(cd, fname.size(), 2);
    put(cd, 0, 2);   // extra
    put(cd, 0, 2);   // comment
    put(cd, 0, 2);   // disk
    put(cd, 0, 2);   // internal attributes
    put(cd, 0, 4);   // external attributes
    put(cd, off, 4);
    cd.insert(cd.end(), fname.begin(), fname.end());
  }
  const uint64_t cd_off = out.size();
  out.insert(out.end(), cd.begin(), cd.end());
  put(out, kEocdSig, 4);
  put(out, 0, 2);
  put(out, 0, 2);
  put(out, files.size(), 2);
  put(out, files.size(), 2);
  put(out, cd.size(), 4);
  put(out, cd_off, 4);
  put(out, 0, 2);
  return out;
}

}  // namespace atebm::data
