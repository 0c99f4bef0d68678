#pragma once
// Element types. Float32 and Float64 carry gradients; Int64 holds indices (max/argmax,
// index_select); Bool holds masks and comparison results (one byte per element).
// BFloat16 is reserved: it has a name and a size, and every kernel rejects it for now.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/error.h"

namespace atebm {

enum class DType : uint8_t { Float32, Float64, Int64, Bool, BFloat16 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
    case DType::BFloat16: return 2;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
    case DType::BFloat16: return "bfloat16";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };

}  // namespace atebm

template <>
struct fmt::formatter<atebm::DType> : fmt::formatter<std::string_view> {
  auto format(atebm::DType t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(atebm::dtype_name(t), ctx);
  }
};

// Dispatch on a floating dtype: the body sees `scalar_t` as float or double.
#define ATEBM_DISPATCH_FLOATING(dtype, opname, ...)                                          \
  [&] {                                                                                      \
    switch (dtype) {                                                                         \
      case ::atebm::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }        \
      case ::atebm::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); }       \
      default:                                                                               \
        ATEBM_FAIL("{}: expected a float32 or float64 tensor, got {}", opname, dtype);       \
    }                                                                                        \
  }()

// Dispatch on every dtype that has kernels (floats, int64, bool).
#define ATEBM_DISPATCH_ALL(dtype, opname, ...)                                               \
  [&] {                                                                                      \
    switch (dtype) {                                                                         \
      case ::atebm::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }        \
      case ::atebm::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); }       \
      case ::atebm::DType::Int64: { using scalar_t = int64_t; return __VA_ARGS__(); }        \
      case ::atebm::DType::Bool: { using scalar_t = bool; return __VA_ARGS__(); }            \
      default:                                                                               \
        ATEBM_FAIL("{}: dtype {} is not supported yet", opname, dtype);                      \
    }                                                                                        \
  }()
