#pragma once
// Small strict text parsers shared by the spec and augmentation grammars: a number must be the
// whole field ("28x" is an error, not 28) and errors name the context they were parsing.
#include <cstdint>
#include <string>
#include <vector>

namespace atebm::data {

/// Splits on `sep`, keeping empty fields ("a::b" → {"a", "", "b"}).
std::vector<std::string> split(const std::string& s, char sep);
/// A decimal integer in [lo, hi]; throws atebm::Error "CONTEXT: expected an integer in [lo, hi], got "s"".
int64_t parse_int(const std::string& s, const std::string& context, int64_t lo, int64_t hi);
/// A finite floating-point number.
double parse_double(const std::string& s, const std::string& context);

}  // namespace atebm::data
