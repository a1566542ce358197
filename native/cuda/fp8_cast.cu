// FP8 operands: the per-tensor absmax on the device, one pass that casts into E4M3 or E5M2 codes, and where the
// product's TN layout needs it a byte transpose of those codes. The rounding repeats fake_quant.cu's double
// arithmetic, so codes times scale are bit for bit fakeQuant(x, fp8, per-tensor absmax, nearest): the native FP8
// product is a faster way to the same numbers, not another quantizer. Built with -fmad=false like fake_quant.cu.
// The source is the f32 values, or their 16-bit copy where the product quantizes x rounded to the half compute
// type first (fakeQuant(roundTo(x))): half the bytes read, and nothing to read but the copy where that alone holds
// the values (Storage::f32_pending).
#include <cuda_fp8.h>

#include <cfloat>
#include <type_traits>

#include "common.cuh"
#include "fp8_cast.cuh"
#include "half_in.cuh"
#include "round_half.cuh"

namespace {

struct Grid {
  int mantissa, min_exponent;
  double max;
};
// OCP E4M3 (no infinities; max 1.75 * 2^8 = 448) and E5M2 (IEEE-like; max 1.75 * 2^15 = 57344).
__host__ __device__ constexpr Grid grid_of(bc::Fp8Format f) {
  return f == bc::kE4M3 ? Grid{3, -6, 448.0} : Grid{2, -14, 57344.0};
}

__device__ inline double pow2(int e) {
  return __longlong_as_double(static_cast<long long>(static_cast<unsigned long long>(e + 1023) << 52));
}
__device__ inline int floor_log2(double a) {
  return static_cast<int>((static_cast<unsigned long long>(__double_as_longlong(a)) >> 52) & 0x7ff) - 1023;
}

// fake_quant.cu's symmetric_params: scale = c / max, 1 where that is zero or its inverse overflows.
__device__ inline double scale_of(float amax, const Grid& g) {
  double scale = static_cast<double>(amax) / g.max;
  if (!(scale > 0 && isfinite(1 / scale))) scale = 1;
  return scale;
}

// fake_quant.cu's quantize_value + nearest for a minifloat grid: clip, round half to even at the value's ulp.
// The result lies on the grid, so the cast to the FP8 type below is exact.
__device__ inline float round_to_grid(float x, double inv, const Grid& g) {
  double v = static_cast<double>(x) * inv;
  if (v < -g.max) v = -g.max;
  else if (v > g.max) v = g.max;
  const double a = fabs(v);
  const int e = a == 0 ? g.min_exponent : max(floor_log2(a), g.min_exponent);
  const double ulp = pow2(e - g.mantissa);
  double r = rint(v * (1 / ulp)) * ulp;
  if (fabs(r) > g.max) r = r > 0 ? g.max : -g.max;
  return static_cast<float>(r);
}

__device__ inline unsigned char to_code(float r, bc::Fp8Format f) {
  return __nv_cvt_float_to_fp8(r, __NV_SATFINITE, f == bc::kE4M3 ? __NV_E4M3 : __NV_E5M2);
}

// The code of x / scale, as round_to_grid computes it in double, taken in float where float decides it: v in float
// (1 / scale rounded to float, then the product) is within 2^-23 of v relative, so within 2^-19 of a grid step
// (a binade holds 2^mantissa steps). The hardware's rounding to nearest even then rounds as the double arithmetic
// does unless v lies within 2^-16 of a step's midpoint, or is not finite (1 / scale beyond float): such a value
// sets `unsure`, and the thread takes its values again through the double arithmetic, out of line (about one
// value in 2^15). No branch per value: one in the fast path made every value a divergence point. Clipping in
// float is exact: ±max is on the grid, half a step from any midpoint.
template <int F>
__device__ __forceinline__ uint32_t fast_code(float x, float inv, bool& unsure) {
  constexpr Grid g = grid_of(static_cast<bc::Fp8Format>(F));
  const float v = x * inv;
  const float a = fminf(fabsf(v), static_cast<float>(g.max));
  const int e = max(static_cast<int>(__float_as_uint(a) >> 23) - 127, g.min_exponent);
  const float steps = a * __uint_as_float(static_cast<uint32_t>(127 + g.mantissa - e) << 23);  // exact: a power of 2
  unsure |= !(fabsf(v) <= FLT_MAX) | (fabsf(steps - truncf(steps) - 0.5f) < 0x1p-16f);  // (| : no branch)
  __nv_fp8x2_storage_t pair;
  if constexpr (F == bc::kE4M3) asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(0.0f), "f"(copysignf(a, v)));
  else asm("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(0.0f), "f"(copysignf(a, v)));
  return pair & 0xffu;  // (the second operand lands in the low byte)
}

// Four codes in one word, the first value's in the lowest byte (memory order): fast_code, or the double
// arithmetic for all four where one is unsure.
__device__ __noinline__ uint32_t slow_codes4(float4 v, double inv, bc::Fp8Format f) {
  const Grid g = grid_of(f);
  return static_cast<uint32_t>(to_code(round_to_grid(v.x, inv, g), f)) | static_cast<uint32_t>(to_code(round_to_grid(v.y, inv, g), f)) << 8 |
         static_cast<uint32_t>(to_code(round_to_grid(v.z, inv, g), f)) << 16 | static_cast<uint32_t>(to_code(round_to_grid(v.w, inv, g), f)) << 24;
}

template <int F>
__device__ __forceinline__ uint32_t codes4(float4 v, float inv, double inv_exact) {
  bool unsure = false;
  const uint32_t c = fast_code<F>(v.x, inv, unsure) | fast_code<F>(v.y, inv, unsure) << 8 | fast_code<F>(v.z, inv, unsure) << 16 |
                     fast_code<F>(v.w, inv, unsure) << 24;
  return unsure ? slow_codes4(v, inv_exact, static_cast<bc::Fp8Format>(F)) : c;
}

__device__ inline float absmax4(float4 v) { return fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))); }

// |x| of non-negative floats orders like its bits, so an unsigned atomicMax finds the float maximum. The grid is a
// few blocks an SM, so each thread covers many values: four loads in flight at a time, or the pass waits on them.
template <bool Half>
__global__ void amax_kernel(bc::HalfIn x, long long n, unsigned* amax) {
  float m = 0;
  const long long n4 = n / 4;
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n4; i += 4 * stride) {
    float4 v[4];
#pragma unroll
    for (int u = 0; u < 4; u++) v[u] = x.load4_as<Half>(i + u * stride);
#pragma unroll
    for (int u = 0; u < 4; u++) m = fmaxf(m, absmax4(v[u]));
  }
  for (; i < n4; i += stride) m = fmaxf(m, absmax4(x.load4_as<Half>(i)));
  for (long long j = 4 * n4 + blockIdx.x * (long long)blockDim.x + threadIdx.x; j < n; j += stride) m = fmaxf(m, fabsf(x[j]));
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, o));
  __shared__ float warps[32];
  if ((threadIdx.x & 31) == 0) warps[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x < 32) {
    m = threadIdx.x < (blockDim.x >> 5) ? warps[threadIdx.x] : 0;
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, o));
    if (threadIdx.x == 0) atomicMax(amax, __float_as_uint(m));
  }
}

__device__ inline void write_scale(double scale, float* out_scale) {
  if (blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0 && threadIdx.y == 0) *out_scale = static_cast<float>(scale);
}

// Eight values a thread (n a multiple of 8): two four-value loads in flight (16 bytes of a 16-bit copy), eight
// codes out as one 64-bit store.
template <bool Half, int F>
__global__ void quantize8(bc::HalfIn x, long long n8, const float* amax, uint2* out, float* out_scale) {
  const double scale = scale_of(*amax, grid_of(static_cast<bc::Fp8Format>(F))), inv = 1 / scale;
  const float inv_f = static_cast<float>(inv);
  write_scale(scale, out_scale);
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n8; i += (long long)gridDim.x * blockDim.x) {
    const float4 lo = x.load4_as<Half>(2 * i), hi = x.load4_as<Half>(2 * i + 1);
    out[i] = make_uint2(codes4<F>(lo, inv_f, inv), codes4<F>(hi, inv_f, inv));
  }
}

// Four values a thread (n a multiple of 4).
template <bool Half, int F>
__global__ void quantize4(bc::HalfIn x, long long n4, const float* amax, uint32_t* out, float* out_scale) {
  const double scale = scale_of(*amax, grid_of(static_cast<bc::Fp8Format>(F))), inv = 1 / scale;
  write_scale(scale, out_scale);
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x)
    out[i] = codes4<F>(x.load4_as<Half>(i), static_cast<float>(inv), inv);
}

// One value a thread, in double (shapes whose size is not a multiple of 4: small, and tests).
__global__ void quantize1(bc::HalfIn x, long long n, bc::Fp8Format f, const float* amax, unsigned char* out, float* out_scale) {
  const Grid g = grid_of(f);
  const double scale = scale_of(*amax, g), inv = 1 / scale;
  write_scale(scale, out_scale);
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = to_code(round_to_grid(x[i], inv, g), f);
}

// out (cols, rows) = in (rows, cols)ᵀ, bytes, through a 32x32 shared tile: coalesced reads and writes. The
// transposed copy an FP8 product needs (TN) comes from the codes, a byte a value, not from the floats again.
// (Any shape; rows and cols multiples of 4 take transpose_words.)
constexpr int kTile = 32;
__global__ void transpose_codes(const unsigned char* in, long long rows, long long cols, unsigned char* out) {
  __shared__ unsigned char tile[kTile][kTile + 1];
  const long long r0 = static_cast<long long>(blockIdx.y) * kTile, c0 = static_cast<long long>(blockIdx.x) * kTile;
  for (int dy = threadIdx.y; dy < kTile; dy += blockDim.y) {
    const long long r = r0 + dy, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[dy][threadIdx.x] = in[r * cols + c];
  }
  __syncthreads();
  for (int dy = threadIdx.y; dy < kTile; dy += blockDim.y) {
    const long long c = c0 + dy, r = r0 + threadIdx.x;  // out row c, column r
    if (r < rows && c < cols) out[c * rows + r] = tile[threadIdx.x][dy];
  }
}

// transpose_codes for rows and cols multiples of 4 (every FP8 product's): 64 x 64 tiles moved as 32-bit words of
// four codes. A byte a thread left the copy bound by its load and store instructions, at a quarter of the
// bandwidth. Thread (tx, ty) of (16, 16) loads word tx of tile rows ty, ty + 16, ...; then writes, for tile
// columns c = ty, ty + 16, ..., the word of column c's codes in rows 4 tx .. 4 tx + 3.
constexpr int kWordTile = 64;
__global__ void transpose_words(const uint32_t* in, long long rows, long long cols, uint32_t* out) {
  __shared__ uint32_t tile[kWordTile][kWordTile / 4 + 1];  // (padded: the column reads spread over the banks)
  const long long r0 = static_cast<long long>(blockIdx.y) * kWordTile, c0 = static_cast<long long>(blockIdx.x) * kWordTile;
  const int tx = threadIdx.x;
  for (int r = threadIdx.y; r < kWordTile; r += blockDim.y) {
    const long long gr = r0 + r, gc = c0 + 4 * tx;
    if (gr < rows && gc < cols) tile[r][tx] = in[(gr * cols + gc) / 4];
  }
  __syncthreads();
  for (int c = threadIdx.y; c < kWordTile; c += blockDim.y) {
    const long long gc = c0 + c, gr = r0 + 4 * tx;
    if (gc < cols && gr < rows) {
      const int word = c >> 2, shift = 8 * (c & 3);
      uint32_t v = 0;
#pragma unroll
      for (int j = 0; j < 4; j++) v |= ((tile[4 * tx + j][word] >> shift) & 0xffu) << (8 * j);
      out[(gc * rows + gr) / 4] = v;
    }
  }
}

// Codes back to floats (code * scale), for the test that holds them against fakeQuant.
__global__ void dequantize(const unsigned char* codes, long long n, bc::Fp8Format f, const float* amax, float* out) {
  const double scale = scale_of(*amax, grid_of(f));  // in double, as fakeQuant (the product gets it as a float)
  const __nv_fp8_interpretation_t kind = f == bc::kE4M3 ? __NV_E4M3 : __NV_E5M2;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const __half_raw h = __nv_cvt_fp8_to_halfraw(codes[i], kind);
    // code * scale in double, rounded once to float: fakeQuant's (r * scale) exactly.
    out[i] = static_cast<float>(static_cast<double>(__half2float(__half(h))) * scale);
  }
}

}  // namespace

namespace bc {

void fp8_amax(const HalfIn& x, long long n, float* amax) {
  check(cudaMemsetAsync(amax, 0, sizeof(float)), "cudaMemsetAsync(fp8 amax)");
  if (n == 0) return;
  with_source(x, [&](auto half) {
    amax_kernel<decltype(half)::value><<<blocks_for((n + 3) / 4, 256, 4LL * sm_count()), 256>>>(x, n, reinterpret_cast<unsigned*>(amax));
  });
  check_launch("fp8 amax");
}

void fp8_quantize(const HalfIn& x, long long n, Fp8Format format, const float* amax, unsigned char* out, float* scale) {
  // (the kernels instantiated per source and format: no branch on either per value)
  const auto per_format = [&](auto launch) {
    if (format == kE4M3) launch(std::integral_constant<int, kE4M3>{});
    else launch(std::integral_constant<int, kE5M2>{});
  };
  if (n % 8 == 0) {
    with_source(x, [&](auto half) {
      per_format([&](auto f) {
        quantize8<decltype(half)::value, decltype(f)::value><<<blocks_for(n / 8, 256), 256>>>(x, n / 8, amax, reinterpret_cast<uint2*>(out), scale);
      });
    });
  } else if (n % 4 == 0) {
    with_source(x, [&](auto half) {
      per_format([&](auto f) {
        quantize4<decltype(half)::value, decltype(f)::value><<<blocks_for(n / 4, 256), 256>>>(x, n / 4, amax, reinterpret_cast<uint32_t*>(out), scale);
      });
    });
  } else {
    quantize1<<<blocks_for(n, 256), 256>>>(x, n, format, amax, out, scale);
  }
  check_launch("fp8 quantize");
}

void fp8_transpose(const unsigned char* codes, long long rows, long long cols, unsigned char* out) {
  if (rows % 4 == 0 && cols % 4 == 0) {
    const dim3 blocks(static_cast<unsigned>((cols + kWordTile - 1) / kWordTile), static_cast<unsigned>((rows + kWordTile - 1) / kWordTile));
    if (blocks.y > 65535) throw CudaError("fp8 transpose: " + std::to_string(rows) + " rows exceed the grid");
    transpose_words<<<blocks, dim3(kWordTile / 4, 16)>>>(reinterpret_cast<const uint32_t*>(codes), rows, cols, reinterpret_cast<uint32_t*>(out));
    check_launch("fp8 transpose");
    return;
  }
  const dim3 blocks(static_cast<unsigned>((cols + kTile - 1) / kTile), static_cast<unsigned>((rows + kTile - 1) / kTile));
  if (blocks.y > 65535) throw CudaError("fp8 transpose: " + std::to_string(rows) + " rows exceed the grid");
  transpose_codes<<<blocks, dim3(kTile, 8)>>>(codes, rows, cols, out);
  check_launch("fp8 transpose");
}

// What Storage::fp8 points to.
struct Fp8Copies {
  long long len = 0;                      // the elements the amax covers
  int source = kF32;                      // the values quantized: f32, or rounded to kBF16 / kF16 (the 16-bit copy)
  float* stats = nullptr;                 // device: amax at 0, scale E4M3 at 4, scale E5M2 at 8 (16-byte aligned)
  unsigned char* direct[2] = {};          // per format: codes as stored
  unsigned char* flipped[2] = {};         // per format: codes transposed, of the view (flipped_rows, len / rows)
  long long flipped_rows[2] = {};
};

void drop_fp8(Storage& s) {
  auto* c = static_cast<Fp8Copies*>(s.fp8);
  if (!c) return;
  // Stream order: products that read these are queued before any reuse of the blocks.
  for (int f = 0; f < 2; f++) {
    if (c->direct[f]) cache_free(c->direct[f]);
    if (c->flipped[f]) cache_free(c->flipped[f]);
  }
  if (c->stats) cache_free(c->stats);
  delete c;
  s.fp8 = nullptr;
}

// A block of n bytes filled by make(block); kept only if make returns (a failed launch leaves nothing behind).
template <class Make>
unsigned char* made(long long n, Make make) {
  auto* p = static_cast<unsigned char*>(cache_alloc(n > 0 ? n : 1));
  try {
    make(p);
  } catch (...) {
    cache_free(p);
    throw;
  }
  return p;
}

Fp8Operand fp8_operand(Storage& s, long long rows, long long cols, bool transpose, Fp8Format format, int rounded) {
  const long long n = rows * cols;
  // The source first: a new 16-bit copy replaces the old one and the FP8 copies made from either.
  const HalfIn source = rounded == kF32 ? HalfIn{static_cast<const float*>(s.ptr), nullptr, false}
                                        : HalfIn{nullptr, static_cast<const uint16_t*>(half_copy(s, n, rounded == kF16, "fp8 operand: cast to 16 bits")),
                                                 rounded == kF16};
  if (s.fp8 && (static_cast<Fp8Copies*>(s.fp8)->len != n || static_cast<Fp8Copies*>(s.fp8)->source != rounded)) drop_fp8(s);
  if (!s.fp8) {
    auto* c = new Fp8Copies;
    c->len = n;
    c->source = rounded;
    c->stats = static_cast<float*>(cache_alloc(12 * sizeof(float)));
    s.fp8 = c;  // from here drop_fp8 owns it
    try {
      fp8_amax(source, n, c->stats);
    } catch (...) {
      drop_fp8(s);
      throw;
    }
  }
  auto* c = static_cast<Fp8Copies*>(s.fp8);
  // Each scale on its own 16 bytes: cuBLASLt may refuse scale pointers of lesser alignment.
  float* scale = c->stats + 4 * (1 + format);
  if (!c->direct[format])
    c->direct[format] = made(n, [&](unsigned char* p) {
      fp8_quantize(source, n, format, c->stats, p, scale);
    });
  if (!transpose) return {c->direct[format], scale};
  if (c->flipped[format] && c->flipped_rows[format] != rows) {
    cache_free(c->flipped[format]);
    c->flipped[format] = nullptr;
  }
  if (!c->flipped[format]) {
    c->flipped[format] = made(n, [&](unsigned char* p) { fp8_transpose(c->direct[format], rows, cols, p); });
    c->flipped_rows[format] = rows;
  }
  return {c->flipped[format], scale};
}

}  // namespace bc

// fp8RoundTrip(x, out, rows, cols, transpose, format: 0 E4M3 | 1 E5M2, rounded?: 0 | 2 bf16 | 3 f16): out = the
// values an FP8 product reads, codes * scale, (rows, cols) or transposed, through the copies kept on x (as
// matmulFp8 gets them), of x rounded to `rounded` first (read from its 16-bit copy). The GPU tests compare these
// with fakeQuant.
BC_KERNEL(fp8RoundTrip) {
  const long long rows = a.integer(2, "rows"), cols = a.integer(3, "cols");
  const bool transpose = a.flag(4, "transpose");
  const long long fmt = a.integer(5, "format");
  const int rounded = round_code(a, 6, "rounded");
  if (fmt != 0 && fmt != 1) throw std::runtime_error("format " + std::to_string(fmt) + " is not 0 (E4M3) or 1 (E5M2)");
  float* out = a.out_f32(1, "out", rows * cols);
  bc::Storage& x = rounded == bc::kF32 ? a.f32_input(0, "x", rows * cols) : a.half_input(0, "x", rows * cols);
  if (rows * cols == 0) return nullptr;
  const auto f = static_cast<bc::Fp8Format>(fmt);
  const bc::Fp8Operand op = bc::fp8_operand(x, rows, cols, transpose, f, rounded);
  const float* amax = static_cast<bc::Fp8Copies*>(x.fp8)->stats;
  dequantize<<<bc::blocks_for(rows * cols, 256), 256>>>(op.codes, rows * cols, f, amax, out);
  bc::check_launch("fp8 dequantize");
  return nullptr;
}
