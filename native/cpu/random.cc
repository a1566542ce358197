// Philox4x32-10 streams, bit-identical to src/tensor/philox.ts: element i of a call lives in block
// floor((offset + i) / 4), lane (offset + i) % 4; uniform = ((r >> 8) + 0.5) 2^-24 and the Box-Muller
// normals are computed in double, exactly as the TypeScript reference does.
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernel.h"

namespace {

struct Block {
  uint32_t r[4];
};

inline Block philox(uint64_t block, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(block), c1 = static_cast<uint32_t>(block >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; round++) {
    const uint64_t p0 = static_cast<uint64_t>(0xd2511f53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xcd9e8d57u) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9e3779b9u;
    k1 += 0xbb67ae85u;
  }
  return Block{{c0, c1, c2, c3}};
}

inline double uniform(uint32_t r) { return ((r >> 8) + 0.5) * (1.0 / 16777216.0); }

inline double normal(const Block& b, int lane) {
  const int pair = lane & 2;
  const double radius = std::sqrt(-2.0 * std::log(uniform(b.r[pair])));
  const double angle = 2.0 * M_PI * uniform(b.r[pair + 1]);
  return (lane & 1) == 0 ? radius * std::cos(angle) : radius * std::sin(angle);
}

uint64_t seed_bits(double seed) {
  if (!(seed >= 0) || seed != std::floor(seed) || seed > 9007199254740991.0) {
    throw std::runtime_error("seed must be a whole number in [0, 2^53), got " + std::to_string(seed));
  }
  return static_cast<uint64_t>(seed);
}

// Calls f(i, block, lane) for i < n, one Philox block evaluation per 4 consecutive stream positions.
template <class F>
void for_stream(int64_t n, uint64_t seed, uint64_t offset, F f) {
  const int64_t chunk = 1 << 12;
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n > bitscale::kParallelGrain)
  for (int64_t ch = 0; ch < chunks; ch++) {
    const int64_t end = std::min(n, (ch + 1) * chunk);
    int64_t i = ch * chunk;
    while (i < end) {
      const uint64_t index = offset + i;
      const Block b = philox(index / 4, seed);
      for (int lane = static_cast<int>(index % 4); lane < 4 && i < end; lane++, i++) f(i, b, lane);
    }
  }
}

}  // namespace

// random(out, n, dist, seed, offset); dist is 'uniform' or 'normal'.
BITSCALE_KERNEL(random) {
  const int64_t n = a.integer(1, "n");
  float* out = a.f32(0, "out", n);
  const std::string dist = a.to_str(a.argv.at(2), "argument 2 (dist)");
  const uint64_t seed = seed_bits(a.num(3, "seed"));
  const uint64_t offset = a.integer(4, "offset");
  if (dist == "uniform") {
    for_stream(n, seed, offset, [&](int64_t i, const Block& b, int lane) { out[i] = static_cast<float>(uniform(b.r[lane])); });
  } else if (dist == "normal") {
    for_stream(n, seed, offset, [&](int64_t i, const Block& b, int lane) { out[i] = static_cast<float>(normal(b, lane)); });
  } else {
    throw std::runtime_error("dist must be 'uniform' or 'normal', got '" + dist + "'");
  }
}

// dropout(x, out, n, p, seed, offset): out = x * [uniform >= p] / (1 - p).
BITSCALE_KERNEL(dropout) {
  const int64_t n = a.integer(2, "n");
  const float* x = a.f32(0, "x", n);
  float* out = a.f32(1, "out", n);
  const double p = a.num(3, "p");
  if (!(p >= 0 && p < 1)) throw std::runtime_error("p must be in [0, 1), got " + std::to_string(p));
  const uint64_t seed = seed_bits(a.num(4, "seed"));
  const uint64_t offset = a.integer(5, "offset");
  const float keep_scale = static_cast<float>(1.0 / (1.0 - p));
  for_stream(n, seed, offset, [&](int64_t i, const Block& b, int lane) {
    out[i] = uniform(b.r[lane]) >= p ? x[i] * keep_scale : 0.0f;
  });
}
