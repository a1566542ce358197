// Conversions between f32 and the half types (bf16, f16): the cast kernel's, and roundTo's there and back. Fused
// kernels that round an input on load (swiglu, addRmsNorm, rope) use round_half, so they match roundTo bit for bit.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernel.h"

namespace bitscale {

inline uint16_t f32_to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if ((b & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // the canonical quiet NaN, as the reference
  b += 0x7fffu + ((b >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(b >> 16);
}

inline float bf16_to_f32(uint16_t h) {
  uint32_t b = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

inline uint16_t f32_to_f16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000u;
  const uint32_t abs = b & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): value = m * 2^-24; round abs / 2^-24 to nearest even.
    float v;
    std::memcpy(&v, &abs, 4);
    const float scaled = v * 16777216.0f;  // exact: power-of-two scaling of a float well inside range
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
  uint32_t h = ((abs - 0x38000000u) >> 13);
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
  return static_cast<uint16_t>(sign | h);
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  uint32_t b;
  if (exp == 0) {
    const float v = static_cast<float>(man) * 5.9604644775390625e-8f;  // m * 2^-24, exact
    std::memcpy(&b, &v, 4);
    b |= sign;
  } else if (exp == 31) {
    b = sign | 0x7f800000u | (man << 13);
  } else {
    b = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Dtype codes of the half types, as the cast kernel numbers them (0 f32, 1 i32, 2 bf16, 3 f16).
constexpr int kRoundNone = 0, kRoundBF16 = 2, kRoundF16 = 3;

// v rounded to bf16 (code 2) or f16 (3) and back, as roundTo does it; code 0 leaves v as it is.
inline float round_half(float v, int code) {
  if (code == kRoundBF16) return bf16_to_f32(f32_to_bf16(v));
  if (code == kRoundF16) return f16_to_f32(f32_to_f16(v));
  return v;
}

// The round code of optional argument i: absent or null -> 0 (no rounding), else 0, 2 (bf16) or 3 (f16).
inline int round_code(const Args& a, size_t i, const char* name) {
  if (a.is_nullish(i)) return kRoundNone;
  const int64_t code = a.integer(i, name);
  if (code != kRoundNone && code != kRoundBF16 && code != kRoundF16)
    throw std::runtime_error(std::string("argument ") + std::to_string(i) + " (" + name +
                             "): expected 0 (none), 2 (bf16) or 3 (f16), got " + std::to_string(code));
  return static_cast<int>(code);
}

}  // namespace bitscale
