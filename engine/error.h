#pragma once
// One exception type for every library error. Messages name the op, the values involved and
// what was expected, e.g. "add: cannot broadcast shapes [2, 3] and [4] (dim -1: 3 vs 4)".
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace atebm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace atebm

// ATEBM_CHECK(cond, "fmt string", args...) throws atebm::Error with the formatted message.
#define ATEBM_CHECK(cond, ...)                                   \
  do {                                                           \
    if (!(cond)) throw ::atebm::Error(::fmt::format(__VA_ARGS__)); \
  } while (0)

#define ATEBM_FAIL(...) throw ::atebm::Error(::fmt::format(__VA_ARGS__))
