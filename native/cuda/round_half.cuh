// Rounding to a half type and back to f32 (what roundTo does to a tensor), for kernels that round their
// inputs on load instead of reading a separately rounded copy. To is a dtype code: kBF16, kF16, or kF32 for
// no rounding; kernels take it as a template parameter and the host picks the instance with with_round.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "common.cuh"

// The conversions of memory.cu's cast, there and back: round to nearest even, f16 overflow to ±inf.
template <int To>
__device__ inline float round_half(float v) {
  if constexpr (To == bc::kBF16) return __bfloat162float(__float2bfloat16_rn(v));
  else if constexpr (To == bc::kF16) return __half2float(__float2half_rn(v));
  else return v;
}

// round_half with the code at run time (a uniform branch), for kernels that take it as an argument.
__device__ inline float round_half_to(int code, float v) {
  return code == bc::kBF16 ? round_half<bc::kBF16>(v) : code == bc::kF16 ? round_half<bc::kF16>(v) : v;
}

// The round code of optional argument i: absent or null -> kF32 (no rounding), else 2 (bf16) or 3 (f16).
inline int round_code(const bc::Args& a, size_t i, const char* name) {
  if (a.is_nullish(i)) return bc::kF32;
  const long long to = a.integer(i, name);
  if (to != bc::kF32 && to != bc::kBF16 && to != bc::kF16)
    throw std::runtime_error(std::string("argument ") + std::to_string(i) + " (" + name +
                             "): expected 0 (none), 2 (bf16) or 3 (f16), got " + std::to_string(to));
  return static_cast<int>(to);
}

// Calls f(std::integral_constant<int, To>{}) for the code's To, so one launch site serves all three instances.
template <typename F>
void with_round(int code, F&& f) {
  if (code == bc::kBF16) f(std::integral_constant<int, bc::kBF16>{});
  else if (code == bc::kF16) f(std::integral_constant<int, bc::kF16>{});
  else f(std::integral_constant<int, bc::kF32>{});
}

template <int To>
__global__ void round_copy_kernel(const float* x, float* out, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = round_half<To>(x[i]);
}

// out = x rounded to the code's type (roundTo's pass, on the stream), for kernels that read an input more than once
// and so take a rounded copy rather than round on each load.
inline void round_copy(const float* x, float* out, long long n, int code) {
  with_round(code, [&](auto rt) {
    round_copy_kernel<decltype(rt)::value><<<bc::blocks_for(n, 256), 256>>>(x, out, n);
  });
}
