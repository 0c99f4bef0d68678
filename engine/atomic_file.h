#pragma once
// Files that appear whole or not at all: the bytes go to a temporary file beside the target
// (PATH.tmp.PID.N), which is synced and renamed over PATH on commit(); the folder is synced
// after the rename. Destroyed without commit(), the temporary removes itself, so a crash or an
// error at any point leaves the previous file intact and no debris behind. Checkpoints, model
// files, PNGs and JSON written by the tools all go through here.
#include <cstddef>
#include <string>
#include <string_view>

namespace atebm {

class AtomicFile {
 public:
  /// `who` prefixes error messages ("save_safetensors", "write_png", ...).
  AtomicFile(std::string path, std::string who);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  /// Data reaches the disk before the rename, and the rename before commit() returns.
  void commit();

 private:
  [[noreturn]] void fail_errno(const std::string& what, const std::string& path) const;
  std::string path_, tmp_, who_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Writes `bytes` to `path` atomically (see AtomicFile).
void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& who);

}  // namespace atebm
