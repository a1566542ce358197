// Branch-free float math the compiler can vectorize: the kernels' exp is this one rather than libm's
// expf, which GCC will not vectorize without -ffast-math (and -ffast-math would break NaN handling).
#pragma once
#include <cstdint>
#include <cstring>

namespace bitscale {

// e^x with a relative error below 2e-7 over the float range; underflows to 0 below -87.3, +inf above 88.7.
inline float fast_exp(float x) {
  x = x < -87.33654f ? -87.33654f : x;
  const bool overflow = x > 88.72283f;
  x = overflow ? 88.72283f : x;
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (no SSE4.1 needed), r = x - n ln 2 in two parts.
  const float shifter = 12582912.0f;
  float t = x * 1.44269504088896341f + shifter;
  int32_t tbits;
  std::memcpy(&tbits, &t, 4);
  const int32_t n = tbits - 0x4b400000;
  t -= shifter;
  float r = x - t * 0.693359375f;
  r = r - t * -2.12194440e-4f;
  // Cephes expf polynomial on [-ln2/2, ln2/2].
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // Scale by 2^n in two halves so n = -126 .. 128 stays representable.
  const int32_t n1 = n >> 1;
  const int32_t n2 = n - n1;
  int32_t s1bits = (n1 + 127) << 23;
  int32_t s2bits = (n2 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &s1bits, 4);
  std::memcpy(&s2, &s2bits, 4);
  const float y = p * s1 * s2;
  return overflow ? __builtin_inff() : y;
}

}  // namespace bitscale
