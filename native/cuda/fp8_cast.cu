// FP8 operands: the per-tensor absmax on the device, one pass that casts into E4M3 or E5M2 codes, and where the
// product's TN layout needs it a byte transpose of those codes. The rounding repeats fake_quant.cu's double
// arithmetic, so codes times scale are bit for bit fakeQuant(x, fp8, per-tensor absmax, nearest): the native FP8
// product is a faster way to the same numbers, not another quantizer. Built with -fmad=false like fake_quant.cu.
// The source is the f32 values, or their 16-bit copy where the product quantizes x rounded to the half compute
// type first (fakeQuant(roundTo(x))): half the bytes read, and nothing to read but the copy where that alone holds
// the values (Storage::f32_pending).
#include <cuda_fp8.h>

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
__host__ __device__ inline Grid grid_of(bc::Fp8Format f) {
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

// |x| of non-negative floats orders like its bits, so an unsigned atomicMax finds the float maximum.
template <bool Half>
__global__ void amax_kernel(bc::HalfIn x, long long n, unsigned* amax) {
  float m = 0;
  const long long n4 = n / 4;
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += stride) {
    const float4 v = x.load4_as<Half>(i);
    m = fmaxf(m, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
  }
  for (long long i = 4 * n4 + blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += stride) m = fmaxf(m, fabsf(x[i]));
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

// Four values a thread (n a multiple of 4): four values in, four codes out as one 32-bit store.
template <bool Half>
__global__ void quantize4(bc::HalfIn x, long long n4, bc::Fp8Format f, const float* amax, uchar4* out, float* out_scale) {
  const Grid g = grid_of(f);
  const double scale = scale_of(*amax, g), inv = 1 / scale;
  write_scale(scale, out_scale);
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
    const float4 v = x.load4_as<Half>(i);
    out[i] = make_uchar4(to_code(round_to_grid(v.x, inv, g), f), to_code(round_to_grid(v.y, inv, g), f),
                         to_code(round_to_grid(v.z, inv, g), f), to_code(round_to_grid(v.w, inv, g), f));
  }
}

__global__ void quantize1(bc::HalfIn x, long long n, bc::Fp8Format f, const float* amax, unsigned char* out, float* out_scale) {
  const Grid g = grid_of(f);
  const double scale = scale_of(*amax, g), inv = 1 / scale;
  write_scale(scale, out_scale);
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = to_code(round_to_grid(x[i], inv, g), f);
}

// out (cols, rows) = in (rows, cols)ᵀ, bytes, through a 32x32 shared tile: coalesced reads and writes. The
// transposed copy an FP8 product needs (TN) comes from the codes, a byte a value, not from the floats again.
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
  if (n % 4 == 0) {
    with_source(x, [&](auto half) {
      quantize4<decltype(half)::value><<<blocks_for(n / 4, 256), 256>>>(x, n / 4, format, amax, reinterpret_cast<uchar4*>(out), scale);
    });
  } else {
    quantize1<<<blocks_for(n, 256), 256>>>(x, n, format, amax, out, scale);
  }
  check_launch("fp8 quantize");
}

void fp8_transpose(const unsigned char* codes, long long rows, long long cols, unsigned char* out) {
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
