#include "at_ebm/data/file_bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/error.h"

namespace atebm::data {

bool is_gzip_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  ATEBM_CHECK(f.good(), "{}: cannot open ({})", path, std::strerror(errno));
  unsigned char magic[2] = {0, 0};
  f.read(reinterpret_cast<char*>(magic), 2);
  return f.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

namespace {

std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  ATEBM_CHECK(f.good(), "{}: cannot open ({})", path, std::strerror(errno));
  const std::streamoff n = f.tellg();
  ATEBM_CHECK(n >= 0, "{}: cannot determine the file size", path);
  std::vector<uint8_t> out(static_cast<size_t>(n));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(out.data()), n);
  ATEBM_CHECK(f.gcount() == n, "{}: read {} of {} bytes", path, f.gcount(), n);
  return out;
}

std::vector<uint8_t> read_gz(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  ATEBM_CHECK(gz != nullptr, "{}: cannot open ({})", path, std::strerror(errno));
  gzbuffer(gz, 1 << 17);
  std::vector<uint8_t> out;
  size_t used = 0;
  for (;;) {
    if (out.size() - used < (1u << 20)) out.resize(std::max<size_t>(out.size() * 2, used + (1u << 20)));
    const int got = gzread(gz, out.data() + used, static_cast<unsigned>(std::min<size_t>(out.size() - used, 1u << 30)));
    if (got < 0) {
      int code = 0;
      const std::string why = gzerror(gz, &code);
      gzclose(gz);
      ATEBM_FAIL("{}: corrupt or truncated gzip data after {} bytes ({})", path, used, why);
    }
    if (got == 0) break;
    used += static_cast<size_t>(got);
  }
  // zlib reports a gzip stream cut short as a clean end of file with Z_BUF_ERROR pending, which
  // gzclose returns.
  const int rc = gzclose(gz);
  ATEBM_CHECK(rc == Z_OK, "{}: corrupt or truncated gzip data (zlib error {} at close)", path, rc);
  out.resize(used);
  out.shrink_to_fit();
  return out;
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  ATEBM_CHECK(!std::filesystem::is_directory(path), "{}: is a folder, expected a file", path);
  return is_gzip_file(path) ? read_gz(path) : read_raw(path);
}

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ATEBM_CHECK(fd >= 0, "{}: cannot open ({})", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    ATEBM_FAIL("{}: not a regular file", path);
  }
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->size_ = static_cast<size_t>(st.st_size);
  if (m->size_ > 0) {
    void* p = mmap(nullptr, m->size_, PROT_READ, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    ATEBM_CHECK(p != MAP_FAILED, "{}: mmap of {} bytes failed ({})", path, m->size_, std::strerror(err));
    // Loaders read records in random order.
    madvise(p, m->size_, MADV_RANDOM);
    m->data_ = static_cast<const uint8_t*>(p);
  } else {
    ::close(fd);
  }
  return m;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

std::string first_existing(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(c, ec)) return c;
  }
  return "";
}

}  // namespace atebm::data
