#pragma once
// A streaming reader for tar archives, plain or gzip-compressed (.tar, .tar.gz, .tgz), so an
// image folder can be used straight from its archive without extracting it to disk.
//
// Format: a sequence of 512-byte headers, each followed by the entry's data padded to a multiple
// of 512 bytes; the archive ends with two zero blocks. Header fields used (offsets in bytes):
//   0   name[100]      NUL-terminated unless full
//   124 size[12]       octal ASCII, or base-256 big-endian when the first byte has bit 7 set
//   148 chksum[8]      octal sum of all 512 header bytes with this field counted as spaces
//   156 typeflag       '0' or NUL: file, '5': folder, 'L': GNU long name for the next entry,
//                      'x': pax header whose "path=" record names the next entry, 'g': global pax
//   257 magic[6]       "ustar\0" (POSIX) or "ustar " (GNU)
//   345 prefix[155]    POSIX only: path = prefix + "/" + name
// Everything else (links, devices, permissions, times) is ignored.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace atebm::data {

/// Calls `on_file(path, data, size)` for every regular file of the archive whose path `want`
/// accepts, in archive order (paths without a leading "./"). The data pointer is valid only during
/// the call. Throws atebm::Error naming the archive, the entry and what is wrong for a corrupt
/// header (bad checksum, bad size field), a truncated entry or a corrupt gzip stream.
void read_tar(const std::string& archive, const std::function<bool(const std::string& path)>& want,
              const std::function<void(const std::string& path, const uint8_t* data, size_t size)>& on_file);

/// True when the name ends in .tar, .tar.gz or .tgz.
bool is_tar_name(const std::string& path);

}  // namespace atebm::data
