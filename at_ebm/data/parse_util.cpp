#include "at_ebm/data/parse_util.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "engine/error.h"

namespace atebm::data {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

int64_t parse_int(const std::string& s, const std::string& context, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  ATEBM_CHECK(!s.empty() && ec == std::errc() && ptr == s.data() + s.size() && v >= lo && v <= hi,
              "{}: expected an integer in [{}, {}], got \"{}\"", context, lo, hi, s);
  return v;
}

double parse_double(const std::string& s, const std::string& context) {
  char* end = nullptr;
  const double v = s.empty() ? 0.0 : std::strtod(s.c_str(), &end);
  ATEBM_CHECK(!s.empty() && end == s.c_str() + s.size() && std::isfinite(v), "{}: expected a number, got \"{}\"",
              context, s);
  return v;
}

}  // namespace atebm::data
