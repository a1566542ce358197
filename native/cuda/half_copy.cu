// The 16-bit copy of an f32 storage that the bf16 and fp16 paths read (Storage::shadow): the products' operands
// (matmul.cu) and flash attention's q, k, v and gOut (attention.cu). Made on first use, kept on the storage until
// anything writes it (Args drops it), so a tensor read by several products, or by attention's forward and then its
// backward, is cast once.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "common.cuh"
#include "half_in.cuh"
#include "half_out.cuh"

namespace {

// Two floats as one 16-bit pair, rounded to nearest even (half: |x| past 65504 becomes +-inf, NaN stays NaN).
__device__ __forceinline__ uint32_t pair_of(float lo, float hi, __nv_bfloat16*) {
  const __nv_bfloat162 p = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&p);
}
__device__ __forceinline__ uint32_t pair_of(float lo, float hi, __half*) {
  const __half2 p = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&p);
}
__device__ __forceinline__ __nv_bfloat16 one_of(float x, __nv_bfloat16*) { return __float2bfloat16_rn(x); }
__device__ __forceinline__ __half one_of(float x, __half*) { return __float2half_rn(x); }

// f32 -> bf16 or half, four values per thread (cache_alloc's blocks are 256-byte aligned), the tail one by one.
template <typename Half>
__global__ void to_16bit(const float* x, Half* out, long long n) {
  const long long n4 = n / 4, stride = (long long)gridDim.x * blockDim.x;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += stride) {
    const float4 v = reinterpret_cast<const float4*>(x)[i];
    reinterpret_cast<uint2*>(out)[i] = make_uint2(pair_of(v.x, v.y, out), pair_of(v.z, v.w, out));
  }
  for (long long i = 4 * n4 + blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = one_of(x[i], out);
}

// A 16-bit copy's values as f32 (exact), four a thread, the tail one by one: HalfIn's loads.
__global__ void from_16bit(bc::HalfIn x, float* out, long long n) {
  const long long n4 = n / 4, stride = (long long)gridDim.x * blockDim.x;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += stride)
    reinterpret_cast<float4*>(out)[i] = x.load4(i);
  for (long long i = 4 * n4 + blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += stride) out[i] = x[i];
}

}  // namespace

namespace bc {

HalfOnlyCounts& half_only_counts() {
  static HalfOnlyCounts counts{0, 0};
  return counts;
}

void widen_copy(const void* half, bool fp16, float* out, long long n) {
  from_16bit<<<blocks_for((n + 3) / 4, 256), 256>>>(HalfIn{nullptr, static_cast<const uint16_t*>(half), fp16}, out, n);
  check_launch("f32 values from a 16-bit copy");
}

void write_pending_f32(Storage& s) {
  if (!s.f32_pending) return;
  s.f32_pending = false;
  half_only_counts().widened++;
  widen_copy(s.shadow, s.shadow_fp16, static_cast<float*>(s.ptr), static_cast<long long>(s.size));
}

const void* half_copy(Storage& s, long long len, bool fp16, const char* what) {
  if (!s.shadow || s.shadow_len < len || s.shadow_fp16 != fp16) {
    drop_shadow(s);
    s.shadow = cache_alloc(len * 2);
    s.shadow_len = len;
    s.shadow_fp16 = fp16;
    const unsigned blocks = blocks_for((len + 3) / 4, 256);  // a thread per four values
    if (fp16) to_16bit<<<blocks, 256>>>(static_cast<const float*>(s.ptr), static_cast<__half*>(s.shadow), len);
    else to_16bit<<<blocks, 256>>>(static_cast<const float*>(s.ptr), static_cast<__nv_bfloat16*>(s.shadow), len);
    check_launch(what);
  }
  return s.shadow;
}

HalfOut written_half_copy(Storage& s, long long len, int rounded, bool half_only) {
  const bool fp16 = matmul_uses_fp16();
  if (len <= 0 || !(fp16 || matmul_uses_bf16())) return {};
  drop_shadow(s);
  s.shadow = cache_alloc(len * 2);
  s.shadow_len = len;
  s.shadow_fp16 = fp16;
  // Only values already of the copy's type, over the whole storage, can be kept as the copy alone.
  const bool only = half_only && rounded == (fp16 ? kF16 : kBF16) && len == static_cast<long long>(s.size);
  if (only) {
    s.f32_pending = true;
    half_only_counts().kept++;
  }
  return {s.shadow, fp16, only};
}

}  // namespace bc

// halfOnlyCounts() -> [kept, widened]: outputs that kept only their 16-bit copy, and those whose f32 values
// were written later because something read them (a step where products and attention read every such output
// widens none).
BC_KERNEL(halfOnlyCounts) {
  napi_value arr;
  napi_create_array_with_length(a.env, 2, &arr);
  napi_set_element(a.env, arr, 0, bc::number(a.env, static_cast<double>(bc::half_only_counts().kept)));
  napi_set_element(a.env, arr, 1, bc::number(a.env, static_cast<double>(bc::half_only_counts().widened)));
  return arr;
}

// Tests only: f32Pending(storage) -> whether its f32 values are still to be written from its 16-bit copy.
BC_KERNEL(f32Pending) {
  napi_value out;
  napi_get_boolean(a.env, a.lookup(0, "storage").f32_pending, &out);
  return out;
}

// Tests only: halfCopyOf(storage, n) -> the first n values of the storage's kept 16-bit copy as a Uint16Array of
// their bits, or null when it keeps none (or one shorter than n). Reads without touching the copy.
BC_KERNEL(halfCopyOf) {
  bc::Storage& s = a.lookup(0, "storage");
  const long long n = a.integer(1, "n");
  napi_value out;
  if (!s.shadow || s.shadow_len < n || n < 0) {
    napi_get_null(a.env, &out);
    return out;
  }
  void* data = nullptr;
  napi_value buffer;
  if (napi_create_arraybuffer(a.env, n * 2, &data, &buffer) != napi_ok) throw std::runtime_error("halfCopyOf: no buffer");
  bc::check(cudaMemcpy(data, s.shadow, n * 2, cudaMemcpyDeviceToHost), "cudaMemcpy(halfCopyOf)");
  if (napi_create_typedarray(a.env, napi_uint16_array, n, buffer, 0, &out) != napi_ok)
    throw std::runtime_error("halfCopyOf: no array");
  return out;
}
