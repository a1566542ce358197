// An f32 input that a kernel reads where its values may be held only by the storage's 16-bit copy (an output
// kept as the copy alone, Storage::f32_pending: a product's rounded output, read next by rope, swiglu or
// addRmsNorm): the kernel reads whichever holds them, so the f32 values are never written. Take it after the
// kernel's outputs (Args::out_f32 writes an aliased input's pending values first).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "common.cuh"

namespace bc {

struct HalfIn {
  const float* f32 = nullptr;      // the f32 values, or
  const uint16_t* half = nullptr;  // the 16-bit copy (bf16, or half where fp16) that holds them
  bool fp16 = false;

  __host__ __device__ const void* data() const { return half ? static_cast<const void*>(half) : f32; }

  __device__ __forceinline__ static float widen(uint16_t bits, bool fp16) {
    return fp16 ? __half2float(__ushort_as_half(bits)) : __uint_as_float(static_cast<uint32_t>(bits) << 16);
  }
  // Value i.
  __device__ __forceinline__ float operator[](long long i) const { return half ? widen(half[i], fp16) : f32[i]; }
  // Values 4 i4 .. 4 i4 + 3 (data() 16-byte aligned for f32, 8-byte for the copy).
  __device__ __forceinline__ float4 load4(long long i4) const { return half ? load4_as<true>(i4) : load4_as<false>(i4); }
  // load4 where the kernel is instantiated per source (Half: the copy), so that no branch stands between its loads
  // (a kernel that keeps several loads in flight).
  template <bool Half>
  __device__ __forceinline__ float4 load4_as(long long i4) const {
    if constexpr (!Half) {
      return reinterpret_cast<const float4*>(f32)[i4];
    } else {
      const uint2 v = reinterpret_cast<const uint2*>(half)[i4];
      return make_float4(widen(v.x & 0xffff, fp16), widen(v.x >> 16, fp16), widen(v.y & 0xffff, fp16), widen(v.y >> 16, fp16));
    }
  }
};

// Input i of at least n elements: its 16-bit copy where that alone holds the values, else its f32 values (as
// Args::f32 hands them out).
inline HalfIn values_of(const Args& a, size_t i, const char* name, long long n) {
  Storage& s = a.lookup(i, name);
  if (s.f32_pending && s.dtype == kF32 && n <= static_cast<long long>(s.size) && s.shadow_len >= n)
    return {nullptr, static_cast<const uint16_t*>(s.shadow), s.shadow_fp16};
  return {a.f32(i, name, n), nullptr, false};
}

// Calls f(std::true_type{}) where x is a 16-bit copy, else f(std::false_type{}): one launch site for both
// instances of a kernel templated on its source (HalfIn::load4_as).
template <class F>
void with_source(const HalfIn& x, F&& f) {
  if (x.half) f(std::true_type{});
  else f(std::false_type{});
}

}  // namespace bc
