#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace atebm {

AtomicFile::AtomicFile(std::string path, std::string who) : path_(std::move(path)), who_(std::move(who)) {
  static std::atomic<uint64_t> counter{0};
  tmp_ = fmt::format("{}.tmp.{}.{}", path_, ::getpid(), counter.fetch_add(1));
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_errno("cannot create temporary file", tmp_);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::fail_errno(const std::string& what, const std::string& path) const {
  const int err = errno;
  ATEBM_FAIL("{}: {} '{}': {}", who_, what, path, std::strerror(err));
}

void AtomicFile::write(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd_, c, std::min<size_t>(n, size_t{1} << 30));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail_errno("cannot write", tmp_);
    c += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) fail_errno("cannot sync", tmp_);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail_errno("cannot close", tmp_);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail_errno("cannot rename the temporary file over", path_);
  committed_ = true;
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) fail_errno("saved, but cannot open the folder to sync it", dir);
  // Some file systems cannot sync a folder (EINVAL); the rename is then as durable as they allow.
  const bool ok = ::fsync(dfd) == 0 || errno == EINVAL;
  ::close(dfd);
  if (!ok) fail_errno("saved, but cannot sync the folder", dir);
}

void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& who) {
  AtomicFile f(path, who);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

}  // namespace atebm
