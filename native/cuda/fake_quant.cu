// fakeQuant: quantize-then-dequantize a (rows, cols) float32 tensor, the CUDA twin of src/numerics/fake-quant.ts
// and native/cpu/fake_quant.cc. It repeats the reference's double-precision arithmetic (this file is built with
// -fmad=false so no multiply-add is contracted), so the backends agree to the bit except where a sum's order
// differs (mse's error, absmean's mean).
//
// Two launches: `choose_params` gives each group (tensor, row, column or row-group) one block that finds its
// scale and zero point; `apply` quantizes every element with its group's parameters, writes the clipped
// straight-through mask and draws the stochastic-rounding uniforms from the Philox stream at the element's
// flat index. A per-tensor absmax over a large tensor first reduces over the whole grid.
#include <algorithm>
#include <cmath>
#include <vector>

#include "block_reduce.cuh"
#include <type_traits>

#include "common.cuh"
#include "half_out.cuh"
#include "fake_quant_format.h"
#include "philox.cuh"
#include "round_half.cuh"

namespace {

using namespace bitscale_fq;  // the spec's slots and formats, the NF4 table: native/common/fake_quant_format.h

constexpr int kThreads = 256;

__constant__ double kNf4Device[16] = BITSCALE_NF4_VALUES;  // the device copy of kNf4Values

struct Quantizer {
  int grid;
  double max, lo, hi, step;
  double inv_step;  // 1 / step (a power of two, so exact): one multiply per value instead of a division
  int mantissa, min_exponent;
  bool ieee_cast;
  int mx_emax;  // -1000 when not MX
  bool symmetric;
  int scale_method;
  double percentile;
  bool stochastic;
  unsigned long long seed, offset;
  double nf4_mid[15];
};

struct Params {
  double scale, zero;
};

__host__ __device__ inline double pow2(int e) {
  const unsigned long long b = static_cast<unsigned long long>(e + 1023) << 52;
#ifdef __CUDA_ARCH__
  return __longlong_as_double(static_cast<long long>(b));
#else
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
#endif
}

__device__ inline int floor_log2(double a) {
  const unsigned long long b = static_cast<unsigned long long>(__double_as_longlong(a));
  return static_cast<int>((b >> 52) & 0x7ff) - 1023;
}

Quantizer decode(const std::vector<double>& s) {
  if (s.size() < kSlots || s[kVersion] != 1) throw std::runtime_error("spec: expected encodeFakeQuantSpec version 1");
  Quantizer q{};
  q.step = 1;
  q.mx_emax = -1000;
  q.symmetric = s[kSymmetric] != 0;
  q.scale_method = static_cast<int>(s[kScale]);
  q.percentile = s[kPercentile];
  q.stochastic = s[kRounding] == 1;
  q.seed = static_cast<unsigned long long>(s[kSeed]);
  q.offset = static_cast<unsigned long long>(s[kOffset]);
  for (int i = 0; i < 15; i++) q.nf4_mid[i] = (kNf4Values[i] + kNf4Values[i + 1]) / 2;
  auto minifloat = [&](int E, int M, bool fn, bool ieee) {
    const int bias = (1 << (E - 1)) - 1, top = (1 << E) - 1;
    const int max_field = ieee ? top - 1 : top;
    const int max_mant = fn ? (1 << M) - 2 : (1 << M) - 1;
    q.grid = kMinifloatGrid;
    q.mantissa = M;
    q.min_exponent = 1 - bias;
    q.max = pow2(max_field - bias) * (1 + max_mant / static_cast<double>(1 << M));
    q.lo = -q.max;
    q.hi = q.max;
    return max_field - bias;
  };
  auto ocp = [&](int E, int M) {
    if (E == 4 && M == 3) return minifloat(4, 3, true, false);
    if (E == 5 && M == 2) return minifloat(5, 2, false, true);
    if ((E == 3 && M == 2) || (E == 2 && M == 3) || (E == 2 && M == 1)) return minifloat(E, M, false, false);
    throw std::runtime_error("spec: unknown fp element E" + std::to_string(E) + "M" + std::to_string(M));
  };
  const int E = static_cast<int>(s[kExponent]), M = static_cast<int>(s[kMantissa]);
  switch (static_cast<int>(s[kFormat])) {
    case kInt: {
      const int bits = static_cast<int>(s[kBits]);
      q.grid = kIntegerGrid;
      if (q.symmetric) {
        q.max = (1 << (bits - 1)) - 1;
        q.lo = -q.max;
      } else {
        q.max = (1 << bits) - 1;
        q.lo = 0;
      }
      q.hi = q.max;
      break;
    }
    case kFp: ocp(E, M); break;
    case kMx:
      if (s[kBits] == 8) {
        q.grid = kIntegerGrid;
        q.step = pow2(-6);
        q.max = 127 * q.step;
        q.lo = -q.max;
        q.hi = q.max;
        q.mx_emax = 0;
      } else {
        q.mx_emax = ocp(E, M);
      }
      break;
    case kNf4: q.grid = kNf4Grid; q.max = 1; q.lo = -1; q.hi = 1; break;
    case kTernary: q.grid = kIntegerGrid; q.max = 1; q.lo = -1; q.hi = 1; break;
    case kBinary: q.grid = kBinaryGrid; q.max = 1; q.lo = -1; q.hi = 1; break;
    case kBf16:
    case kFp16:
      if (s[kFormat] == kBf16) minifloat(8, 7, false, true);
      else minifloat(5, 10, false, true);
      q.ieee_cast = true;
      q.lo = -INFINITY;
      q.hi = INFINITY;
      break;
    default: throw std::runtime_error("spec: unknown format code " + std::to_string(s[kFormat]));
  }
  q.inv_step = 1 / q.step;
  return q;
}

// ---- the grid ------------------------------------------------------------------------------------------
__device__ inline double ulp_of(const Quantizer& q, double v) {
  const double a = fabs(v);
  const int e = a == 0 ? q.min_exponent : max(floor_log2(a), q.min_exponent);
  return pow2(e - q.mantissa);
}

template <int K>
__device__ inline double nearest(const Quantizer& q, double v) {
  if constexpr (K == kIntegerGrid) {
    return rint(v * q.inv_step) * q.step;
  } else if constexpr (K == kMinifloatGrid) {
    const double ulp = ulp_of(q, v);
    const double r = rint(v * (1 / ulp)) * ulp;
    if (fabs(r) <= q.max) return r;
    if (q.ieee_cast) return v > 0 ? INFINITY : -INFINITY;
    return v > 0 ? q.max : -q.max;
  } else if constexpr (K == kNf4Grid) {
    int code = 0;
    for (int i = 0; i < 15; i++) code += v > q.nf4_mid[i];
    return kNf4Device[code];
  } else {
    return v >= 0 ? 1.0 : -1.0;
  }
}

template <int K>
__device__ inline double stochastic(const Quantizer& q, double v, double u) {
  double lo, hi;
  if constexpr (K == kIntegerGrid) {
    lo = floor(v / q.step) * q.step;
    hi = lo == v ? lo : lo + q.step;
  } else if constexpr (K == kMinifloatGrid) {
    const double ulp = ulp_of(q, v);
    lo = floor(v / ulp) * ulp;
    hi = lo == v ? lo : lo + ulp;
  } else if constexpr (K == kNf4Grid) {
    int i = 0;
    while (i < 15 && kNf4Device[i + 1] <= v) i++;
    lo = kNf4Device[i];
    hi = lo == v ? lo : kNf4Device[i + 1];
  } else {
    if (v == 1 || v == -1) return v;
    lo = -1;
    hi = 1;
  }
  if (hi == lo) return lo;
  return u < (v - lo) / (hi - lo) ? hi : lo;
}

template <int K>
__device__ inline double quantize_value(const Quantizer& q, const Params& p, double inv, double x, double u, bool sr) {
  double v = x * inv + p.zero;
  if (v < q.lo) v = q.lo;
  else if (v > q.hi) v = q.hi;
  double r = sr ? stochastic<K>(q, v, u) : nearest<K>(q, v);
  if (q.ieee_cast && fabs(r) > q.max) r = r > 0 ? INFINITY : -INFINITY;
  return (r - p.zero) * p.scale + 0.0;
}

template <int K>
__device__ inline bool inside(const Quantizer& q, const Params& p, double inv, double x) {
  const double v = x * inv + p.zero;
  if (q.ieee_cast) return fabs(nearest<K>(q, v)) <= q.max;
  return v >= q.lo && v <= q.hi;
}

// ---- parameters ----------------------------------------------------------------------------------------
__device__ inline Params symmetric_params(const Quantizer& q, double c) {
  double scale = c / q.max;
  if (!(scale > 0 && isfinite(1 / scale))) scale = 1;
  return {scale, 0};
}
__device__ inline Params asymmetric_params(const Quantizer& q, double lo, double hi) {
  double scale = (hi - lo) / q.hi;
  if (!(scale > 0 && isfinite(1 / scale))) scale = 1;
  const double zero = rint(-lo / scale);
  return {scale, fmin(fmax(zero, 0.0), q.hi)};
}

struct Group {
  long long start, stride, length;
  __device__ long long at(long long k) const { return start + k * stride; }
};

__device__ inline Group group_of(int granularity, long long g, long long rows, long long cols, long long group_size) {
  switch (granularity) {
    case kRow: return {g * cols, 1, cols};
    case kGroup: return {g * group_size, 1, group_size};
    case kCol: return {g, cols, rows};
    default: return {0, 1, rows * cols};
  }
}

// Orderable keys for the radix select: |x| (non-negative float bits sort as integers) or signed x.
__device__ inline unsigned order_key(float x, bool absolute) {
  if (absolute) return __float_as_uint(fabsf(x));
  const unsigned b = __float_as_uint(x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ inline float from_key(unsigned k, bool absolute) {
  if (absolute) return __uint_as_float(k);
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// The rank-th smallest key of the group (0-based), by a 32-pass most-significant-bit-first radix select.
__device__ float select_rank(const float* x, const Group& grp, long long rank, bool absolute) {
  unsigned prefix = 0;
  for (int bit = 31; bit >= 0; bit--) {
    const unsigned high_mask = bit == 31 ? 0u : ~((1u << (bit + 1)) - 1);
    long long count = 0;  // keys matching the prefix with this bit 0
    for (long long k = threadIdx.x; k < grp.length; k += blockDim.x) {
      const unsigned key = order_key(x[grp.at(k)], absolute);
      count += ((key & high_mask) == prefix) && !((key >> bit) & 1u);
    }
    count = block_sum(count);
    if (count <= rank) {
      rank -= count;
      prefix |= 1u << bit;
    }
  }
  return from_key(prefix, absolute);
}

template <int K>
__device__ double squared_error(const Quantizer& q, const Params& p, const float* x, const Group& grp) {
  const double inv = 1 / p.scale;
  double e = 0;
  for (long long k = threadIdx.x; k < grp.length; k += blockDim.x) {
    const double v = x[grp.at(k)];
    const double d = quantize_value<K>(q, p, inv, v, 0, false) - v;
    e += d * d;
  }
  return block_sum(e);
}

// Per-block partial statistics of a whole tensor: absmax, min(x, 0), max(x, 0). Extremes of floats are exact in
// float, so the loop runs in float over float4 loads (several in flight per thread) and widens at the end.
__global__ void tensor_stats(const float* x, long long n, double* partial) {
  float absmax = 0, lo = 0, hi = 0;
  const long long stride = (long long)gridDim.x * blockDim.x, first = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  const long long n4 = reinterpret_cast<uintptr_t>(x) % 16 == 0 ? n / 4 : 0;
  for (long long i = first; i < n4; i += stride) {
    const float4 v = reinterpret_cast<const float4*>(x)[i];
    absmax = fmaxf(absmax, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
    lo = fminf(lo, fminf(fminf(v.x, v.y), fminf(v.z, v.w)));
    hi = fmaxf(hi, fmaxf(fmaxf(v.x, v.y), fmaxf(v.z, v.w)));
  }
  for (long long i = 4 * n4 + first; i < n; i += stride) {
    const float v = x[i];
    absmax = fmaxf(absmax, fabsf(v));
    lo = fminf(lo, v);
    hi = fmaxf(hi, v);
  }
  // NaN propagates as in the double version: fmax ignores it there too; non-finite inputs are reported by apply.
  const double a = block_max(static_cast<double>(absmax), 0.0);
  const double l = -block_max(-static_cast<double>(lo), 0.0);
  const double h = block_max(static_cast<double>(hi), 0.0);
  if (threadIdx.x == 0) {
    partial[3 * blockIdx.x] = a;
    partial[3 * blockIdx.x + 1] = l;
    partial[3 * blockIdx.x + 2] = h;
  }
}

template <int K>
__global__ void choose_params(Quantizer q, int granularity, const float* x, long long rows, long long cols, long long group_size,
                              const double* partial, int partial_count, Params* out) {
  const Group grp = group_of(granularity, blockIdx.x, rows, cols, group_size);
  double absmax = 0, lo = 0, hi = 0, abs_sum = 0;
  if (partial) {
    for (int i = threadIdx.x; i < partial_count; i += blockDim.x) {
      absmax = fmax(absmax, partial[3 * i]);
      lo = fmin(lo, partial[3 * i + 1]);
      hi = fmax(hi, partial[3 * i + 2]);
    }
  } else {
    for (long long k = threadIdx.x; k < grp.length; k += blockDim.x) {
      const double v = x[grp.at(k)];
      absmax = fmax(absmax, fabs(v));
      lo = fmin(lo, v);
      hi = fmax(hi, v);
      abs_sum += fabs(v);
    }
  }
  absmax = block_max(absmax, 0.0);
  lo = -block_max(-lo, 0.0);
  hi = block_max(hi, 0.0);
  abs_sum = block_sum(abs_sum);
  const long long n = grp.length;
  Params p{1, 0};
  if (q.scale_method == kNone) {
    p = {1, 0};
  } else if (q.mx_emax != -1000) {
    int e = absmax == 0 ? -127 : floor_log2(absmax) - q.mx_emax;
    e = min(max(e, -127), 127);
    p = {pow2(e), 0};
  } else if (q.symmetric) {
    double c = absmax;
    if (q.scale_method == kAbsmean) {
      c = n > 0 ? abs_sum / static_cast<double>(n) : 0;
    } else if (q.scale_method == kPercentileScale && n > 0) {
      const long long rank = static_cast<long long>(fmax(ceil((q.percentile / 100) * static_cast<double>(n)), 1.0)) - 1;
      c = select_rank(x, grp, rank, true);
    }
    if (q.scale_method == kMse) {
      double best_error = INFINITY;
      p = symmetric_params(q, absmax);
      for (int k = 0; k <= kMseSteps; k++) {
        const Params cand = symmetric_params(q, absmax * (1 - static_cast<double>(k) / kMseGrid));
        const double e = squared_error<K>(q, cand, x, grp);
        if (e < best_error) {
          best_error = e;
          p = cand;
        }
      }
    } else {
      if (!(c > 0)) c = absmax;
      p = symmetric_params(q, c);
    }
  } else {
    if (q.scale_method == kPercentileScale && n > 0) {
      const long long rank = static_cast<long long>(fmax(ceil((q.percentile / 100) * static_cast<double>(n)), 1.0)) - 1;
      hi = fmax(static_cast<double>(select_rank(x, grp, rank, false)), 0.0);
      lo = fmin(static_cast<double>(select_rank(x, grp, n - 1 - rank, false)), 0.0);
    }
    if (q.scale_method == kMse) {
      double best_error = INFINITY;
      p = asymmetric_params(q, lo, hi);
      for (int k = 0; k <= kMseSteps; k++) {
        const double f = 1 - static_cast<double>(k) / kMseGrid;
        const Params cand = asymmetric_params(q, lo * f, hi * f);
        const double e = squared_error<K>(q, cand, x, grp);
        if (e < best_error) {
          best_error = e;
          p = cand;
        }
      }
    } else {
      p = asymmetric_params(q, lo, hi);
    }
  }
  if (threadIdx.x == 0) out[blockIdx.x] = p;
}

// Value i: its quantized value, and its straight-through mask into *mask_slot when asked.
template <int K>
__device__ inline float quantize_at(const Quantizer& q, const Params& p, double inv, float x, long long i, float* mask_slot,
                                    bc::DeviceError* err) {
  const double xi = x;
  if (!isfinite(xi)) bc::record_error(err, bc::kErrNonFinite, 0, i);
  if (mask_slot) *mask_slot = inside<K>(q, p, inv, xi) ? 1.0f : 0.0f;
  double u = 0;
  if (q.stochastic) {
    const unsigned long long index = q.offset + i;
    unsigned r[4];
    philox_block(index / 4, q.seed, r);
    u = uniform_from_bits(r[index % 4]);
  }
  return static_cast<float>(quantize_value<K>(q, p, inv, xi, u, q.stochastic));
}

template <int K>
__global__ void apply(Quantizer q, int granularity, const float* x, float* out, float* mask, long long rows, long long cols,
                      long long group_size, const Params* params, bc::DeviceError* err, int round_out) {
  const long long n = rows * cols;
  long long cached = -1;  // a thread's values mostly share a group: one division per group, not per value
  Params p{1, 0};
  double inv = 1;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const long long g = granularity == kRow ? i / cols : granularity == kGroup ? i / group_size : granularity == kCol ? i % cols : 0;
    if (g != cached) {
      p = params[g];
      inv = 1 / p.scale;
      cached = g;
    }
    out[i] = round_half_to(round_out, quantize_at<K>(q, p, inv, x[i], i, mask ? mask + i : nullptr, err));
  }
}

// One scale for the whole tensor (activations): four values a thread through float4 loads and stores.
template <int K>
__global__ void apply_tensor4(Quantizer q, const float4* x, float4* out, float4* mask, long long n4, const Params* params,
                              bc::DeviceError* err, bc::HalfOut out16, int round_out) {
  const Params p = params[0];
  const double inv = 1 / p.scale;
  float m[4];
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
    const float4 v = x[i];
    float4 r;
    r.x = round_half_to(round_out, quantize_at<K>(q, p, inv, v.x, 4 * i, mask ? &m[0] : nullptr, err));
    r.y = round_half_to(round_out, quantize_at<K>(q, p, inv, v.y, 4 * i + 1, mask ? &m[1] : nullptr, err));
    r.z = round_half_to(round_out, quantize_at<K>(q, p, inv, v.z, 4 * i + 2, mask ? &m[2] : nullptr, err));
    r.w = round_half_to(round_out, quantize_at<K>(q, p, inv, v.w, 4 * i + 3, mask ? &m[3] : nullptr, err));
    bc::store_out4(reinterpret_cast<float*>(out), out16, i, r);
    if (mask) mask[i] = make_float4(m[0], m[1], m[2], m[3]);
  }
}

__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  return v;
}

// A group's scale and zero point from its extremes (absmax, none, MX scale methods).
__device__ inline Params extremes_params(const Quantizer& q, double absmax, double lo, double hi) {
  if (q.scale_method == kNone) return {1, 0};
  if (q.mx_emax != -1000) {
    int e = absmax == 0 ? -127 : floor_log2(absmax) - q.mx_emax;
    e = min(max(e, -127), 127);
    return {pow2(e), 0};
  }
  return q.symmetric ? symmetric_params(q, absmax) : asymmetric_params(q, lo, hi);
}

// Contiguous groups (row or row-group granularity) whose scale needs only their extremes (absmax, none, MX):
// one warp per group finds the scale and quantizes in the same launch, the group's second read hitting cache.
// This is the training path for weights (per output row) and the KV cache (per head row). Extremes of floats
// are exact in float: the warp reduces floats (half the shuffles of doubles) and widens the result.
template <int K>
__global__ void fused_groups(Quantizer q, const float* x, float* out, float* mask, long long groups, long long length,
                             bc::DeviceError* err, bc::HalfOut out16, int round_out) {
  const int lane = threadIdx.x & 31;
  const long long warps = static_cast<long long>(gridDim.x) * (blockDim.x >> 5);
  for (long long g = blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5); g < groups; g += warps) {
    const long long start = g * length;
    float amax = 0, fl = 0, fh = 0;
    for (long long k = lane; k < length; k += 32) {
      const float v = x[start + k];
      amax = fmaxf(amax, fabsf(v));
      fl = fminf(fl, v);
      fh = fmaxf(fh, v);
    }
    const Params p = extremes_params(q, warp_max(amax), -warp_max(-fl), warp_max(fh));
    const double inv = 1 / p.scale;
    for (long long k = lane; k < length; k += 32) {
      const long long i = start + k;
      bc::store_out(out, out16, i, round_half_to(round_out, quantize_at<K>(q, p, inv, x[i], i, mask ? mask + i : nullptr, err)));
    }
  }
}

// Short groups (a KV head row of 64): L lanes a group, V float4s a lane (length = 4 V L), so a warp quantizes 32 / L
// groups at once where fused_groups would give each its own warp and two values a lane. The same extremes, scale
// and rounding as fused_groups, value for value; no STE mask.
template <int K, int L, int V>
__global__ void short_groups(Quantizer q, const float4* x, float4* out, long long groups, bc::DeviceError* err,
                             bc::HalfOut out16, int round_out) {
  constexpr int kPerWarp = 32 / L;
  const int lane = threadIdx.x & 31, sub = lane % L;
  const long long warps = static_cast<long long>(gridDim.x) * (blockDim.x >> 5);
  // The loop bound is the warp's (uniform), so every lane takes part in the shuffles; lanes past the last group idle.
  for (long long first = (blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5)) * kPerWarp; first < groups;
       first += warps * kPerWarp) {
    const long long g = first + lane / L;
    const bool valid = g < groups;
    float4 v[V];
    float amax = 0, fl = 0, fh = 0;
#pragma unroll
    for (int k = 0; k < V; k++) {
      v[k] = valid ? x[g * (V * L) + sub + k * L] : make_float4(0, 0, 0, 0);
      amax = fmaxf(amax, fmaxf(fmaxf(fabsf(v[k].x), fabsf(v[k].y)), fmaxf(fabsf(v[k].z), fabsf(v[k].w))));
      fl = fminf(fl, fminf(fminf(v[k].x, v[k].y), fminf(v[k].z, v[k].w)));
      fh = fmaxf(fh, fmaxf(fmaxf(v[k].x, v[k].y), fmaxf(v[k].z, v[k].w)));
    }
#pragma unroll
    for (int o = L / 2; o > 0; o >>= 1) {
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffff, amax, o));
      fl = fminf(fl, __shfl_xor_sync(0xffffffff, fl, o));
      fh = fmaxf(fh, __shfl_xor_sync(0xffffffff, fh, o));
    }
    if (!valid) continue;
    const Params p = extremes_params(q, amax, fl, fh);
    const double inv = 1 / p.scale;
#pragma unroll
    for (int k = 0; k < V; k++) {
      const long long j = g * (V * L) + sub + k * L, i = 4 * j;  // float4 index, value index
      const float4 r = make_float4(round_half_to(round_out, quantize_at<K>(q, p, inv, v[k].x, i, nullptr, err)),
                                   round_half_to(round_out, quantize_at<K>(q, p, inv, v[k].y, i + 1, nullptr, err)),
                                   round_half_to(round_out, quantize_at<K>(q, p, inv, v[k].z, i + 2, nullptr, err)),
                                   round_half_to(round_out, quantize_at<K>(q, p, inv, v[k].w, i + 3, nullptr, err)));
      bc::store_out4(reinterpret_cast<float*>(out), out16, j, r);
    }
  }
}

// Launches short_groups for a group length it has a shape for (32 .. 512 values); false where it has none.
template <int K>
bool launch_short_groups(const Quantizer& q, const float* x, float* out, long long groups, long long length, bc::HalfOut out16,
                         int round_out) {
  auto go = [&](auto lt, auto vt) {
    constexpr int L = decltype(lt)::value, V = decltype(vt)::value;
    const long long warps = (groups + 32 / L - 1) / (32 / L);
    const unsigned blocks = static_cast<unsigned>(std::min<long long>((warps + 7) / 8, 65535LL * 4));
    short_groups<K, L, V><<<blocks, kThreads>>>(q, reinterpret_cast<const float4*>(x), reinterpret_cast<float4*>(out), groups,
                                                bc::device_error(), out16, round_out);
  };
  switch (length) {
    case 32: go(std::integral_constant<int, 8>{}, std::integral_constant<int, 1>{}); return true;
    case 64: go(std::integral_constant<int, 8>{}, std::integral_constant<int, 2>{}); return true;
    case 128: go(std::integral_constant<int, 16>{}, std::integral_constant<int, 2>{}); return true;
    case 256: go(std::integral_constant<int, 32>{}, std::integral_constant<int, 2>{}); return true;
    case 512: go(std::integral_constant<int, 32>{}, std::integral_constant<int, 4>{}); return true;
    default: return false;
  }
}

// out_storage: out's storage, which the paths that feed products write the 16-bit copy of (half_out.cuh); round_out
// rounds the output as it is stored, and with half_only the copy may be all that is kept (HalfOnly).
template <int K>
void run(const Quantizer& q, int granularity, const float* x, float* out, float* mask, long long rows, long long cols, long long group_size,
         bc::Storage& out_storage, int round_out, bool half_only) {
  const long long n = rows * cols;
  const long long groups = granularity == kRow ? rows : granularity == kGroup ? n / group_size : granularity == kCol ? cols : 1;
  if (groups > 2147483647LL) throw std::runtime_error("too many quantization groups");
  const bool extremes_only = q.scale_method == kAbsmax || q.scale_method == kNone || q.mx_emax != -1000;
  if ((granularity == kRow || granularity == kGroup) && extremes_only) {
    const long long length = granularity == kRow ? cols : group_size;
    const unsigned blocks = static_cast<unsigned>(std::min<long long>((groups + 7) / 8, 65535LL * 4));
    const bc::HalfOut out16 = bc::written_half_copy(out_storage, n, round_out, half_only);
    const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
    if constexpr (K == kIntegerGrid) {
      if (!mask && aligned && launch_short_groups<K>(q, x, out, groups, length, out16, round_out)) {
        bc::check_launch("fakeQuant short_groups");
        return;
      }
    }
    fused_groups<K><<<blocks, kThreads>>>(q, x, out, mask, groups, length, bc::device_error(), out16, round_out);
    bc::check_launch("fakeQuant fused_groups");
    return;
  }
  bc::Scratch params(groups * sizeof(Params));
  const bool whole_grid_stats = granularity == kTensor && (q.scale_method == kAbsmax || q.scale_method == kNone || q.mx_emax != -1000);
  if (whole_grid_stats) {
    const int blocks = static_cast<int>(bc::blocks_for(n, kThreads, 4LL * bc::sm_count()));
    bc::Scratch partial(3 * blocks * sizeof(double));
    tensor_stats<<<blocks, kThreads>>>(x, n, partial.as<double>());
    bc::check_launch("fakeQuant tensor_stats");
    choose_params<K><<<1, kThreads>>>(q, granularity, x, rows, cols, group_size, partial.as<double>(), blocks, params.as<Params>());
  } else {
    // Short groups (a 64-wide KV head row) get a block of their own width, not 256 mostly idle threads.
    const long long length = granularity == kRow ? cols : granularity == kGroup ? group_size : granularity == kCol ? rows : n;
    const int threads = static_cast<int>(std::min<long long>(kThreads, std::max<long long>(32, (length + 31) / 32 * 32)));
    choose_params<K><<<static_cast<unsigned>(groups), threads>>>(q, granularity, x, rows, cols, group_size, nullptr, 0, params.as<Params>());
  }
  bc::check_launch("fakeQuant choose_params");
  const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(mask) % 16 == 0;
  if (granularity == kTensor && n % 4 == 0 && aligned) {
    const bc::HalfOut out16 = bc::written_half_copy(out_storage, n, round_out, half_only);
    apply_tensor4<K><<<bc::blocks_for(n / 4, kThreads), kThreads>>>(q, reinterpret_cast<const float4*>(x), reinterpret_cast<float4*>(out),
                                                                     reinterpret_cast<float4*>(mask), n / 4, params.as<Params>(),
                                                                     bc::device_error(), out16, round_out);
  } else {
    apply<K><<<bc::blocks_for(n, kThreads), kThreads>>>(q, granularity, x, out, mask, rows, cols, group_size, params.as<Params>(),
                                                        bc::device_error(), round_out);
  }
  bc::check_launch("fakeQuant apply");
}

}  // namespace

// fakeQuant(spec: Float64Array (encodeFakeQuantSpec), x, out, rows, cols, steMask | null, roundOutput?, halfOnly?)
// with roundOutput 0 / absent, 2 (bf16), 3 (f16): out rounded to it as it is stored
BC_KERNEL(fakeQuant) {
  const std::vector<double> s = a.nums(0, "spec");
  const Quantizer q = decode(s);
  const long long rows = a.integer(3, "rows"), cols = a.integer(4, "cols");
  const long long n = rows * cols;
  const int granularity = static_cast<int>(s[kGranularity]);
  const long long group = static_cast<long long>(s[kGroupSize]);
  if (granularity == kGroup && (group <= 0 || cols % group != 0))
    throw std::runtime_error("granularity.size = " + std::to_string(group) + " is not allowed; expected a divisor of cols = " + std::to_string(cols));
  const float* x = a.f32(1, "x", n);
  float* out = a.out_f32(2, "out", n);
  float* mask = a.is_nullish(5) ? nullptr : a.out_f32(5, "steMask", n);
  const int round_out = round_code(a, 6, "roundOutput");
  const bool half_only = a.flag_or(7, "halfOnly", false);
  if (n == 0) return nullptr;
  bc::op_context() = "fakeQuant(rows=" + std::to_string(rows) + ", cols=" + std::to_string(cols) + ", format=" +
                     std::to_string(static_cast<int>(s[kFormat])) + ", granularity=" + std::to_string(granularity) + ")";
  switch (q.grid) {
    case kIntegerGrid: run<kIntegerGrid>(q, granularity, x, out, mask, rows, cols, group, a.lookup(2, "out"), round_out, half_only); break;
    case kMinifloatGrid: run<kMinifloatGrid>(q, granularity, x, out, mask, rows, cols, group, a.lookup(2, "out"), round_out, half_only); break;
    case kNf4Grid: run<kNf4Grid>(q, granularity, x, out, mask, rows, cols, group, a.lookup(2, "out"), round_out, half_only); break;
    default: run<kBinaryGrid>(q, granularity, x, out, mask, rows, cols, group, a.lookup(2, "out"), round_out, half_only); break;
  }
  return nullptr;
}
