// Philox4x32-10 random numbers and dropout: the exact stream of src/tensor/philox.ts, so every backend draws
// the same numbers for the same (seed, offset). Uniforms and Box-Muller in double, as the reference.
#include <cmath>

#include "common.cuh"
#include "philox.cuh"

namespace {

__global__ void random_kernel(float* out, long long n, bool normal, unsigned long long seed, unsigned long long offset) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const unsigned long long index = offset + i;
    unsigned r[4];
    philox_block(index / 4, seed, r);
    const int lane = static_cast<int>(index % 4);
    if (!normal) {
      out[i] = static_cast<float>(uniform_from_bits(r[lane]));
    } else {
      const int pair = lane & 2;
      const double u0 = uniform_from_bits(r[pair]), u1 = uniform_from_bits(r[pair + 1]);
      const double radius = sqrt(-2 * log(u0)), angle = 2 * M_PI * u1;
      out[i] = static_cast<float>((lane & 1) == 0 ? radius * cos(angle) : radius * sin(angle));
    }
  }
}

__global__ void dropout_kernel(const float* x, float* out, long long n, double p, unsigned long long seed, unsigned long long offset) {
  const double keep = 1 / (1 - p);
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const unsigned long long index = offset + i;
    unsigned r[4];
    philox_block(index / 4, seed, r);
    out[i] = uniform_from_bits(r[index % 4]) >= p ? static_cast<float>(x[i] * keep) : 0.0f;
  }
}

}  // namespace

// random(out, n, dist: 'uniform' | 'normal', seed, offset)
BC_KERNEL(random) {
  const long long n = a.integer(1, "n");
  float* out = a.out_f32(0, "out", n);
  const std::string dist = a.str(2, "dist");
  if (dist != "uniform" && dist != "normal") throw std::runtime_error("dist '" + dist + "' is not one of uniform, normal");
  const long long seed = a.integer(3, "seed"), offset = a.integer(4, "offset");
  if (n == 0) return nullptr;
  bc::op_context() = "random(" + dist + ", n=" + std::to_string(n) + ")";
  random_kernel<<<bc::blocks_for(n, 256), 256>>>(out, n, dist == "normal", seed, offset);
  bc::check_launch("random");
  return nullptr;
}

// dropout(x, out, n, p, seed, offset)
BC_KERNEL(dropout) {
  const long long n = a.integer(2, "n");
  const float* x = a.f32(0, "x", n);
  float* out = a.out_f32(1, "out", n);
  const double p = a.num(3, "p");
  if (!(p >= 0 && p < 1)) throw std::runtime_error("p = " + std::to_string(p) + " is not allowed; expected 0 <= p < 1");
  const long long seed = a.integer(4, "seed"), offset = a.integer(5, "offset");
  if (n == 0) return nullptr;
  bc::op_context() = "dropout(n=" + std::to_string(n) + ")";
  dropout_kernel<<<bc::blocks_for(n, 256), 256>>>(x, out, n, p, seed, offset);
  bc::check_launch("dropout");
  return nullptr;
}
