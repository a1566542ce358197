// A kernel that writes an f32 output a product (or flash attention) reads next may write the output's 16-bit copy
// in the same pass (bc::written_half_copy, half_copy.cu): the reader then finds the copy kept on the storage and
// casts nothing. The values are rounded as half_copy's cast rounds them (nearest even), so the copy is the same
// bits either way. A null pointer (fp32 or tf32 matmul mode) stores nothing. `only`: the kernel stores the copy and
// not the f32 values (rounded outputs read as copies; the storage's f32 values stay pending, common.cuh), which
// store_out / store_out4 do in one call.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace bc {

struct HalfOut {
  void* ptr = nullptr;
  bool fp16 = false;
  bool only = false;
};

__device__ __forceinline__ uint32_t half_pair_bits(float lo, float hi, bool fp16) {
  if (fp16) {
    const __half2 p = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&p);
  }
  const __nv_bfloat162 p = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&p);
}

// Value i of the copy.
__device__ __forceinline__ void store_half(const HalfOut& h, long long i, float v) {
  if (!h.ptr) return;
  if (h.fp16) static_cast<__half*>(h.ptr)[i] = __float2half_rn(v);
  else static_cast<__nv_bfloat16*>(h.ptr)[i] = __float2bfloat16_rn(v);
}

// Values 4 i4 .. 4 i4 + 3 of the copy.
__device__ __forceinline__ void store_half4(const HalfOut& h, long long i4, float4 v) {
  if (!h.ptr) return;
  reinterpret_cast<uint2*>(h.ptr)[i4] = make_uint2(half_pair_bits(v.x, v.y, h.fp16), half_pair_bits(v.z, v.w, h.fp16));
}

// Output value i: the f32 value (unless the copy is all that is kept) and the copy's.
__device__ __forceinline__ void store_out(float* out, const HalfOut& h, long long i, float v) {
  if (!h.only) out[i] = v;
  store_half(h, i, v);
}

// Output values 4 i4 .. 4 i4 + 3.
__device__ __forceinline__ void store_out4(float* out, const HalfOut& h, long long i4, float4 v) {
  if (!h.only) reinterpret_cast<float4*>(out)[i4] = v;
  store_half4(h, i4, v);
}

}  // namespace bc
