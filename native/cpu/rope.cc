// Rotary position embedding on (B, T, nh, hs): pairs (j, j + hs/2) of each head rotate by
// (posOffset + t) * base^(-2j/hs); direction -1 rotates back (the gradient). Angles in double, as the oracle.
#include <cmath>
#include <vector>

#include "half.h"
#include "kernel.h"

// rope(x, out, B, T, nh, hs, base, posOffset, direction, roundInput?): roundInput (0 / absent, 2 bf16, 3 f16)
// rounds x on load, as roundTo would.
BITSCALE_KERNEL(rope) {
  const int64_t B = a.integer(2, "B"), T = a.integer(3, "T"), nh = a.integer(4, "nh"), hs = a.integer(5, "hs");
  const double base = a.num(6, "base");
  const int64_t pos_offset = a.integer(7, "posOffset");
  const double direction = a.num(8, "direction");
  if (hs % 2 != 0) throw std::runtime_error("hs must be even, got " + std::to_string(hs));
  if (direction != 1 && direction != -1) throw std::runtime_error("direction must be 1 or -1");
  const int round = bitscale::round_code(a, 9, "roundInput");
  const int64_t n = B * T * nh * hs;
  const float* x = a.f32(0, "x", n);
  float* out = a.f32(1, "out", n);
  const int64_t half = hs / 2;
  std::vector<float> cos_t(T * half), sin_t(T * half);
  for (int64_t t = 0; t < T; t++) {
    for (int64_t j = 0; j < half; j++) {
      const double angle = static_cast<double>(pos_offset + t) * std::pow(base, -2.0 * j / hs);
      cos_t[t * half + j] = static_cast<float>(std::cos(angle));
      sin_t[t * half + j] = static_cast<float>(direction * std::sin(angle));
    }
  }
#pragma omp parallel for schedule(static) if (n > bitscale::kParallelGrain)
  for (int64_t bt = 0; bt < B * T; bt++) {
    const float* c = cos_t.data() + (bt % T) * half;
    const float* s = sin_t.data() + (bt % T) * half;
    for (int64_t h = 0; h < nh; h++) {
      const float* xp = x + (bt * nh + h) * hs;
      float* op = out + (bt * nh + h) * hs;
      for (int64_t j = 0; j < half; j++) {
        const float x1 = bitscale::round_half(xp[j], round), x2 = bitscale::round_half(xp[j + half], round);
        op[j] = x1 * c[j] - x2 * s[j];
        op[j + half] = x1 * s[j] + x2 * c[j];
      }
    }
  }
}
