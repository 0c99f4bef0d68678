#include "nn/optim/lr_schedule.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <numbers>
#include <vector>

#include "engine/error.h"

namespace atebm::nn {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits on `sep`; with `before_letter`, only where the next non-space character is a letter (so the
// exponent of "1e+4" is not mistaken for "+warmup").
std::vector<std::string_view> split(std::string_view s, char sep, bool before_letter = false) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != sep) continue;
    if (before_letter) {
      size_t j = i + 1;
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j >= s.size() || !std::isalpha(static_cast<unsigned char>(s[j]))) continue;
    }
    out.push_back(trim(s.substr(start, i - start)));
    start = i + 1;
  }
  out.push_back(trim(s.substr(start)));
  return out;
}

// Errors name the whole spec, the part and the field.
class Parser {
 public:
  explicit Parser(std::string_view spec) : spec_(spec) {}

  [[noreturn]] void fail(const std::string& msg) const { ATEBM_FAIL("lr schedule \"{}\": {}", spec_, msg); }

  double number(std::string_view part, std::string_view field, std::string_view text) const {
    double v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v))
      fail(fmt::format("field '{}' of {}: \"{}\" is not a number", field, part, text));
    return v;
  }

  int64_t count(std::string_view part, std::string_view field, std::string_view text, int64_t min) const {
    const double v = number(part, field, text);
    if (v != std::floor(v) || v < double(min) || v > 9e18)
      fail(fmt::format("field '{}' of {}: \"{}\" must be a whole number >= {}", field, part, text, min));
    return static_cast<int64_t>(v);
  }

 private:
  std::string spec_;
};

const char* kind_name(LrSchedule::Kind k) {
  switch (k) {
    case LrSchedule::Kind::Constant: return "constant";
    case LrSchedule::Kind::Step: return "step";
    case LrSchedule::Kind::Cosine: return "cosine";
  }
  return "?";
}

}  // namespace

LrSchedule LrSchedule::parse(std::string_view spec, double base_lr) {
  const Parser P(spec);
  if (!std::isfinite(base_lr) || base_lr < 0) P.fail(fmt::format("base learning rate must be >= 0, got {}", base_lr));
  LrSchedule s;
  s.base_lr = base_lr;
  const std::vector<std::string_view> parts = split(spec, '+', /*before_letter=*/true);

  // The main schedule: kind[:key=value,...]
  const std::string_view main = parts[0];
  const size_t colon = main.find(':');
  const std::string_view kind = trim(main.substr(0, colon));
  const std::string_view fields = colon == std::string_view::npos ? std::string_view() : trim(main.substr(colon + 1));
  if (kind == "constant") {
    s.kind = Kind::Constant;
  } else if (kind == "step") {
    s.kind = Kind::Step;
  } else if (kind == "cosine") {
    s.kind = Kind::Cosine;
  } else {
    P.fail(fmt::format("unknown schedule \"{}\" (expected constant, step or cosine, optionally followed by "
                       "+warmup:<iterations>)",
                       kind));
  }
  bool have_every = false, have_total = false;
  if (colon != std::string_view::npos) {
    if (fields.empty()) P.fail(fmt::format("{}: nothing after ':'", kind));
    for (const std::string_view kv : split(fields, ',')) {
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos) P.fail(fmt::format("{}: expected key=value, got \"{}\"", kind, kv));
      const std::string_view key = trim(kv.substr(0, eq)), val = trim(kv.substr(eq + 1));
      if (s.kind == Kind::Step && key == "every") {
        s.every = P.count(kind, key, val, 1);
        have_every = true;
      } else if (s.kind == Kind::Step && key == "gamma") {
        s.gamma = P.number(kind, key, val);
        if (s.gamma <= 0) P.fail(fmt::format("field 'gamma' of step: must be > 0, got {}", val));
      } else if (s.kind == Kind::Cosine && key == "T") {
        s.total = P.count(kind, key, val, 1);
        have_total = true;
      } else if (s.kind == Kind::Cosine && key == "min") {
        s.min_lr = P.number(kind, key, val);
        if (s.min_lr < 0) P.fail(fmt::format("field 'min' of cosine: must be >= 0, got {}", val));
      } else {
        const char* known = s.kind == Kind::Step ? "every, gamma" : s.kind == Kind::Cosine ? "T, min" : "none";
        P.fail(fmt::format("{} has no field '{}' (fields: {})", kind, key, known));
      }
    }
  }
  if (s.kind == Kind::Step && !have_every) P.fail("step needs every=<iterations>");
  if (s.kind == Kind::Cosine && !have_total) P.fail("cosine needs T=<iterations>");

  // Modifiers: +warmup:W
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    const size_t c = part.find(':');
    const std::string_view name = trim(part.substr(0, c));
    if (name != "warmup") P.fail(fmt::format("unknown modifier \"{}\" (expected +warmup:<iterations>)", part));
    if (c == std::string_view::npos) P.fail("warmup needs a length: +warmup:<iterations>");
    s.warmup = P.count("warmup", "iterations", trim(part.substr(c + 1)), 0);
  }
  return s;
}

double LrSchedule::lr_at(int64_t iter) const {
  ATEBM_CHECK(iter >= 0, "LrSchedule::lr_at: iteration must be >= 0, got {}", iter);
  ATEBM_CHECK(kind != Kind::Step || every >= 1, "LrSchedule: step needs every >= 1, got {}", every);
  ATEBM_CHECK(kind != Kind::Cosine || total >= 1, "LrSchedule: cosine needs T >= 1, got {}", total);
  double lr = base_lr;
  switch (kind) {
    case Kind::Constant: break;
    case Kind::Step: lr = base_lr * std::pow(gamma, static_cast<double>(iter / every)); break;
    case Kind::Cosine:
      lr = iter >= total ? min_lr
                         : min_lr + (base_lr - min_lr) * 0.5 *
                                        (1.0 + std::cos(std::numbers::pi * static_cast<double>(iter) /
                                                        static_cast<double>(total)));
      break;
  }
  if (iter < warmup) lr *= static_cast<double>(iter + 1) / static_cast<double>(warmup);
  return lr;
}

std::string LrSchedule::str() const {
  std::string s = kind_name(kind);
  if (kind == Kind::Step) s += fmt::format(":every={},gamma={}", every, gamma);
  if (kind == Kind::Cosine) s += fmt::format(":T={},min={}", total, min_lr);
  if (warmup > 0) s += fmt::format("+warmup:{}", warmup);
  return s;
}

}  // namespace atebm::nn
