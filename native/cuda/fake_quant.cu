// fakeQuant: quantize-then-dequantize a (rows, cols) float32 tensor, the CUDA twin of src/numerics/fake-quant.ts
// and native/cpu/fake_quant.cc. It repeats the reference's double-precision arithmetic (this file is built with
// -fmad=false so no multiply-add is contracted), so the backends agree to the bit except where a sum's order
// differs (mse's error, absmean's mean).
//
// Two launches: `choose_params` gives each group (tensor, row, column or row-group) one block that finds its
// scale and zero point; `apply` quantizes every element with its group's parameters, writes the clipped
// straight-through mask and draws the stochastic-rounding uniforms from the Philox stream at the element's
// flat index. A per-tensor scale from the extremes reduces over the whole grid instead (`tensor_stats`, whose last
// block chooses it), and contiguous groups scaled by their extremes take one launch (`register_groups`,
// `fused_groups`). On the integer grid with nearest rounding, the training path, the values are computed in float
// where float decides the rounding (the fast path below), the reference's arithmetic elsewhere.
#include <algorithm>
#include <cmath>
#include <vector>

#include "block_reduce.cuh"
#include <type_traits>

#include "common.cuh"
#include "half_in.cuh"
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
  double inv;  // 1 / scale, as the reference divides (its check that it is finite divides once already)
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
  const double scale = c / q.max, inv = 1 / scale;
  if (!(scale > 0 && isfinite(inv))) return {1, 0, 1};
  return {scale, 0, inv};
}
__device__ inline Params asymmetric_params(const Quantizer& q, double lo, double hi) {
  double scale = (hi - lo) / q.hi, inv = 1 / scale;
  if (!(scale > 0 && isfinite(inv))) scale = inv = 1;
  const double zero = rint(-lo / scale);
  return {scale, fmin(fmax(zero, 0.0), q.hi), inv};
}

// A group's scale and zero point from its extremes (absmax, none, MX scale methods).
__device__ inline Params extremes_params(const Quantizer& q, double absmax, double lo, double hi) {
  if (q.scale_method == kNone) return {1, 0, 1};
  if (q.mx_emax != -1000) {
    int e = absmax == 0 ? -127 : floor_log2(absmax) - q.mx_emax;
    e = min(max(e, -127), 127);
    return {pow2(e), 0, pow2(-e)};
  }
  return q.symmetric ? symmetric_params(q, absmax) : asymmetric_params(q, lo, hi);
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

constexpr int kUnroll = 4;  // float4 loads in flight per thread in the streaming kernels

// Blocks of tensor_stats that have written their partials; its last block sets it back to 0. One counter serves
// every call because the addon runs its kernels on one stream, one launch after another.
__device__ unsigned tensor_stats_done = 0;

// Per-block partial statistics of a whole tensor: absmax, min(x, 0), max(x, 0). Extremes of floats are exact in
// float, so the loop runs in float over float4 loads and widens at the end. x may be the 16-bit copy that alone
// holds the values (Half): half the bytes. The last block to finish reduces every block's partials and writes the
// tensor's parameters (the scale methods that need only the extremes), where a second launch of one block did.
template <bool Half>
__global__ void tensor_stats(Quantizer q, bc::HalfIn x, long long n, double* partial, Params* params) {
  float absmax = 0, lo = 0, hi = 0;
  const long long stride = (long long)gridDim.x * blockDim.x, first = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  const long long n4 = reinterpret_cast<uintptr_t>(x.data()) % 16 == 0 ? n / 4 : 0;
  for (long long base = first; base < n4; base += kUnroll * stride) {
    float4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) v[u] = base + u * stride < n4 ? x.load4_as<Half>(base + u * stride) : make_float4(0, 0, 0, 0);
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      absmax = fmaxf(absmax, fmaxf(fmaxf(fabsf(v[u].x), fabsf(v[u].y)), fmaxf(fabsf(v[u].z), fabsf(v[u].w))));
      lo = fminf(lo, fminf(fminf(v[u].x, v[u].y), fminf(v[u].z, v[u].w)));
      hi = fmaxf(hi, fmaxf(fmaxf(v[u].x, v[u].y), fmaxf(v[u].z, v[u].w)));
    }
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
  __shared__ bool last;
  if (threadIdx.x == 0) {
    partial[3 * blockIdx.x] = a;
    partial[3 * blockIdx.x + 1] = l;
    partial[3 * blockIdx.x + 2] = h;
    __threadfence();  // the partials are visible before the count says so
    last = atomicAdd(&tensor_stats_done, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  double absmax_all = 0, lo_all = 0, hi_all = 0;
  for (int i = threadIdx.x; i < gridDim.x; i += blockDim.x) {
    absmax_all = fmax(absmax_all, __ldcg(&partial[3 * i]));
    lo_all = fmin(lo_all, __ldcg(&partial[3 * i + 1]));
    hi_all = fmax(hi_all, __ldcg(&partial[3 * i + 2]));
  }
  absmax_all = block_max(absmax_all, 0.0);
  lo_all = -block_max(-lo_all, 0.0);
  hi_all = block_max(hi_all, 0.0);
  if (threadIdx.x == 0) {
    params[0] = extremes_params(q, absmax_all, lo_all, hi_all);
    tensor_stats_done = 0;
  }
}

template <int K>
__global__ void choose_params(Quantizer q, int granularity, const float* x, long long rows, long long cols, long long group_size,
                              Params* out) {
  const Group grp = group_of(granularity, blockIdx.x, rows, cols, group_size);
  double absmax = 0, lo = 0, hi = 0, abs_sum = 0;
  for (long long k = threadIdx.x; k < grp.length; k += blockDim.x) {
    const double v = x[grp.at(k)];
    absmax = fmax(absmax, fabs(v));
    lo = fmin(lo, v);
    hi = fmax(hi, v);
    abs_sum += fabs(v);
  }
  absmax = block_max(absmax, 0.0);
  lo = -block_max(-lo, 0.0);
  hi = block_max(hi, 0.0);
  abs_sum = block_sum(abs_sum);
  const long long n = grp.length;
  Params p{1, 0, 1};
  if (q.scale_method == kNone) {
    p = {1, 0, 1};
  } else if (q.mx_emax != -1000) {
    int e = absmax == 0 ? -127 : floor_log2(absmax) - q.mx_emax;
    e = min(max(e, -127), 127);
    p = {pow2(e), 0, pow2(-e)};
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

// ---- the integer grid's fast path ------------------------------------------------------------------------
// Nearest rounding onto an integer grid (int formats, MX int8) without the reference's double arithmetic, which
// made the apply kernels issue-bound: the grid index k = rint((x / scale + zero) / step) is taken in float, and
// the double path runs only where float's error could move the rounding: within kTieMargin of a tie (and for
// NaN or infinity). On the <= 256-point grids this path takes, |x / (scale step)| <= 512 and the index <= 256
// in range, so float's error on it is below 512 2^-23 + 256 2^-24 < 2^-13, half the margin: k is the
// reference's (out of range, both clamp to the same end). The dequantized value of k is then computed
// (or looked up) exactly as the reference computes it.
constexpr float kTieMargin = 1.0f / 4096;

// Whether the quantizer may take it: integer grid, nearest rounding, at most 256 grid points.
inline bool int_fast_path(const Quantizer& q) {
  return q.grid == kIntegerGrid && !q.stochastic && (q.hi - q.lo) * q.inv_step <= 255;
}

struct IntIndex {
  float mul, add;  // index ~ x mul + add: 1 / (scale step) and zero / step, rounded to float
  int lo, hi;      // the grid's index range
};

__device__ inline IntIndex int_index_of(const Quantizer& q, const Params& p, double inv) {
  return {static_cast<float>(inv * q.inv_step), static_cast<float>(p.zero * q.inv_step), static_cast<int>(lrint(q.lo * q.inv_step)),
          static_cast<int>(lrint(q.hi * q.inv_step))};
}

// The grid index of x less the grid's lowest (a table slot), or false where float cannot decide it: near a tie, or
// where x mul is not finite (x NaN or infinite, or an inverse scale beyond float). The index is clamped before it
// is rounded, which the reference's clamp to the grid's ends allows, so that adding 1.5 2^23 rounds it (to
// nearest even, as rint) into the low bits of the sum's mantissa.
__device__ inline bool int_slot(const IntIndex& f, float x, int& slot) {
  constexpr float kMagic = 12582912.0f;  // 1.5 2^23, bits 0x4B400000
  const float t = x * f.mul + f.add;     // (two roundings: this file is built without contraction)
  const float clamped = fminf(fmaxf(t, static_cast<float>(f.lo - 1)), static_cast<float>(f.hi + 1));
  const float m = clamped + kMagic;
  slot = min(max(__float_as_int(m) - 0x4B400000 - f.lo, 0), f.hi - f.lo);
  return fabsf(clamped - (m - kMagic)) <= 0.5f - kTieMargin && fabsf(t) <= 3.402823466e38f;
}

// The dequantized value of slot as the reference computes it from r = (lo + slot) step: r - zero is exact in float
// (small integers times a power of two), so one double product and its rounding remain. (The reference's + 0.0
// only turns -0 into +0, and r - zero here is never -0.)
__device__ inline float int_slot_value(const Quantizer& q, const Params& p, const IntIndex& f, int slot, int round_out) {
  const float r = static_cast<float>(f.lo + slot) * static_cast<float>(q.step) - static_cast<float>(p.zero);
  return round_half_to(round_out, static_cast<float>(static_cast<double>(r) * p.scale));
}

// The grid slot of a finite x where float could not decide it, by the reference's own double arithmetic
// (quantize_value: x inv + zero, clamped, rint of its multiple of the step): a few double instructions where
// int_reference is a call of a hundred and more, and the values the fast path leaves are taken one lane at a time
// (about one value in 2^11, so by estimate a fifth of a warp's iterations had one; Nsight saw 15-23 active threads
// a warp on average).
__device__ __noinline__ int int_slot_exact(float x, double inv, double zero, double lo, double hi, double inv_step, int first) {
  double v = static_cast<double>(x) * inv + zero;
  if (v < lo) v = lo;
  else if (v > hi) v = hi;
  return static_cast<int>(rint(v * inv_step)) - first;
}

__device__ inline int int_slot_exact(const Quantizer& q, const Params& p, double inv, const IntIndex& f, float x) {
  return int_slot_exact(x, inv, p.zero, q.lo, q.hi, q.inv_step, f.lo);
}

// Value i as the reference computes it (quantize_at on the integer grid, nearest rounding), for the values the fast
// path leaves that are not finite; it reports them. Out of line, with scalars for arguments (the grid's fields that
// quantize_value reads on the integer grid, set in a local Quantizer): inlined at every value of an unrolled loop,
// with the kernel's Quantizer copied to local memory, it made the kernels' code miss the instruction cache.
__device__ __noinline__ float int_reference(float x, double inv, double zero, double scale, double lo, double hi, double step,
                                            double inv_step, long long i, int round_out, bc::DeviceError* err) {
  Quantizer grid{};
  grid.grid = kIntegerGrid;
  grid.lo = lo;
  grid.hi = grid.max = hi;
  grid.step = step;
  grid.inv_step = inv_step;
  return round_half_to(round_out, quantize_at<kIntegerGrid>(grid, Params{scale, zero, inv}, inv, x, i, nullptr, err));
}

__device__ inline float int_reference(const Quantizer& q, const Params& p, double inv, float x, long long i, int round_out,
                                      bc::DeviceError* err) {
  return int_reference(x, inv, p.zero, p.scale, q.lo, q.hi, q.step, q.inv_step, i, round_out, err);
}

template <int K>
__global__ void apply(Quantizer q, int granularity, const float* x, float* out, float* mask, long long rows, long long cols,
                      long long group_size, const Params* params, bc::DeviceError* err, int round_out) {
  const long long n = rows * cols;
  long long cached = -1;  // a thread's values mostly share a group: one division per group, not per value
  Params p{1, 0, 1};
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
__global__ void apply_tensor4(Quantizer q, bc::HalfIn x, float4* out, float4* mask, long long n4, const Params* params,
                              bc::DeviceError* err, bc::HalfOut out16, int round_out) {
  const Params p = params[0];
  const double inv = 1 / p.scale;
  float m[4];
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
    const float4 v = x.load4(i);
    float4 r;
    r.x = round_half_to(round_out, quantize_at<K>(q, p, inv, v.x, 4 * i, mask ? &m[0] : nullptr, err));
    r.y = round_half_to(round_out, quantize_at<K>(q, p, inv, v.y, 4 * i + 1, mask ? &m[1] : nullptr, err));
    r.z = round_half_to(round_out, quantize_at<K>(q, p, inv, v.z, 4 * i + 2, mask ? &m[2] : nullptr, err));
    r.w = round_half_to(round_out, quantize_at<K>(q, p, inv, v.w, 4 * i + 3, mask ? &m[3] : nullptr, err));
    bc::store_out4(reinterpret_cast<float*>(out), out16, i, r);
    if (mask) mask[i] = make_float4(m[0], m[1], m[2], m[3]);
  }
}

// apply_tensor4 on the integer grid's fast path (no STE mask): the dequantized values of the grid's <= 256 points
// are looked up in a table each block builds (one copy a lane: no bank conflicts), so a value costs a few float
// instructions, and kUnroll loads are in flight per thread. Blocks walk the tensor from its end: tensor_stats read
// the end last, and what of it is still in the L2 is read first.
template <bool Half>
__global__ void __launch_bounds__(kThreads, 4)
    apply_tensor4_int(Quantizer q, bc::HalfIn x, float4* out, long long n4, const Params* params, bc::DeviceError* err, bc::HalfOut out16,
                      int round_out) {
  // a copy of the table for each lane, so that a warp's 32 lookups fall in 32 banks
  __shared__ float table[256][32];
  const Params p = params[0];
  const double inv = p.inv;
  const IntIndex f = int_index_of(q, p, inv);
  const int lane = threadIdx.x & 31;
  for (int k = f.lo + threadIdx.x; k <= f.hi; k += blockDim.x) {
    const float value = int_slot_value(q, p, f, k - f.lo, round_out);
    for (int l = 0; l < 32; l++) table[k - f.lo][l] = value;
  }
  __syncthreads();
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long base = blockIdx.x * (long long)blockDim.x + threadIdx.x; base < n4; base += kUnroll * stride) {
    float4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const long long j = base + u * stride;
      v[u] = j < n4 ? x.load4_as<Half>(n4 - 1 - j) : make_float4(0, 0, 0, 0);
    }
    // Each value is replaced by its result; the few the fast path leaves are read again and done after, out of line.
    unsigned slow = 0;
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      float* value = &v[u].x;
#pragma unroll
      for (int c = 0; c < 4; c++) {
        int slot;
        slow |= static_cast<unsigned>(!int_slot(f, value[c], slot)) << (4 * u + c);
        value[c] = table[slot][lane];
      }
    }
    if (slow) {
#pragma unroll
      for (int u = 0; u < kUnroll; u++) {
        // (past the end, the zeros read as slow where 1 / scale is beyond float: nothing to read again)
        if (!(slow >> (4 * u) & 15) || base + u * stride >= n4) continue;
        const long long i = n4 - 1 - (base + u * stride);
        const float4 again = x.load4_as<Half>(i);
        const float in[4] = {again.x, again.y, again.z, again.w};
        float* value = &v[u].x;
#pragma unroll
        for (int c = 0; c < 4; c++)
          if (slow >> (4 * u + c) & 1)
            value[c] = isfinite(in[c]) ? table[int_slot_exact(q, p, inv, f, in[c])][lane]
                                       : int_reference(q, p, inv, in[c], 4 * i + c, round_out, err);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const long long j = base + u * stride;
      if (j < n4) bc::store_out4(reinterpret_cast<float*>(out), out16, n4 - 1 - j, v[u]);
    }
  }
}

__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  return v;
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

// Contiguous groups on the integer grid whose scale needs only their extremes, held in registers: L lanes a group,
// up to V float4s a lane (length <= 4 V L, a multiple of 4), so a warp quantizes 32 / L groups at once with every
// load in flight, where fused_groups gives each group a warp and reads it twice, a value at a time. The KV cache's
// head rows (64 values) and the weights' rows (d_model, d_ff) take it. The same extremes, scale and rounding as
// fused_groups, value for value; no STE mask. On the fast path (Fast) a value costs one double product. x may be
// the 16-bit copy (Half).
constexpr int kGroupBlock = 128;  // four warps: the weights' 1024 rows spread over twice the SMs of 256-thread blocks

template <int L, int V, bool Half, bool Fast>
__global__ void __launch_bounds__(kGroupBlock, V <= 2 ? 10 : 1)
    register_groups(Quantizer q, bc::HalfIn x, float4* out, long long groups, int n4, bc::DeviceError* err, bc::HalfOut out16, int round_out) {
  constexpr int kPerWarp = 32 / L;
  const int lane = threadIdx.x & 31, sub = lane % L;
  const long long warps = static_cast<long long>(gridDim.x) * (blockDim.x >> 5);
  // The loop bound is the warp's (uniform), so every lane takes part in the shuffles; lanes past the last group
  // idle after them.
  for (long long first = (blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5)) * kPerWarp; first < groups;
       first += warps * kPerWarp) {
    const long long g = first + lane / L;
    const bool valid = g < groups;
    float4 v[V];
    float amax = 0, fl = 0, fh = 0;
#pragma unroll
    for (int k = 0; k < V; k++) {
      const int c = sub + k * L;  // the lane's k-th float4 of the row
      v[k] = valid && c < n4 ? x.load4_as<Half>(g * n4 + c) : make_float4(0, 0, 0, 0);
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
    const Params p = extremes_params(q, amax, fl, fh);
    const double inv = p.inv;
    const IntIndex f = int_index_of(q, p, inv);
    if (valid) {
      // Each value is replaced by its result; the few the fast path leaves are read again and done after, out of
      // line.
      unsigned slow[(V + 7) / 8] = {};
      if constexpr (!Fast) {
#pragma unroll
        for (int k = 0; k < V; k++) {
          float* value = &v[k].x;
#pragma unroll
          for (int e = 0; e < 4; e++)
            value[e] = round_half_to(round_out, quantize_at<kIntegerGrid>(q, p, inv, value[e], 4 * (g * n4 + sub + k * L) + e, nullptr, err));
        }
      } else {
#pragma unroll
        for (int k = 0; k < V; k++) {
          float* value = &v[k].x;
#pragma unroll
          for (int e = 0; e < 4; e++) {
            int slot;
            slow[k / 8] |= static_cast<unsigned>(!int_slot(f, value[e], slot)) << (4 * (k % 8) + e);
            value[e] = int_slot_value(q, p, f, slot, round_out);
          }
        }
#pragma unroll
        for (int w = 0; w < (V + 7) / 8; w++) {
          if (!slow[w]) continue;
#pragma unroll
          for (int k = 8 * w; k < V && k < 8 * w + 8; k++) {
            if (!(slow[w] >> (4 * (k % 8)) & 15) || sub + k * L >= n4) continue;
            const long long j = g * n4 + sub + k * L;
            const float4 again = x.load4_as<Half>(j);
            const float in[4] = {again.x, again.y, again.z, again.w};
            float* value = &v[k].x;
#pragma unroll
            for (int e = 0; e < 4; e++)
              if (slow[w] >> (4 * (k % 8) + e) & 1)
                value[e] = isfinite(in[e]) ? int_slot_value(q, p, f, int_slot_exact(q, p, inv, f, in[e]), round_out)
                                           : int_reference(q, p, inv, in[e], 4 * j + e, round_out, err);
          }
        }
      }
#pragma unroll
      for (int k = 0; k < V; k++) {
        const int c = sub + k * L;
        if (c < n4) bc::store_out4(reinterpret_cast<float*>(out), out16, g * n4 + c, v[k]);
      }
    }
  }
}

// The group lengths register_groups has a shape for: a multiple of 4, at most 3072 values.
inline bool register_groups_take(long long length) { return length % 4 == 0 && length <= 3072; }

// Launches register_groups for a group length it takes.
void launch_register_groups(const Quantizer& q, bc::HalfIn x, float* out, long long groups, long long length, bc::HalfOut out16,
                            int round_out) {
  const int n4 = static_cast<int>(length / 4);
  const bool fast = int_fast_path(q);
  auto go = [&](auto lt, auto vt) {
    constexpr int L = decltype(lt)::value, V = decltype(vt)::value;
    const long long warps = (groups + 32 / L - 1) / (32 / L);
    const unsigned blocks = static_cast<unsigned>(std::min<long long>((warps + kGroupBlock / 32 - 1) / (kGroupBlock / 32), 65535LL * 8));
    bc::with_source(x, [&](auto half) {
      constexpr bool H = decltype(half)::value;
      if (fast)
        register_groups<L, V, H, true><<<blocks, kGroupBlock>>>(q, x, reinterpret_cast<float4*>(out), groups, n4, bc::device_error(), out16,
                                                                round_out);
      else
        register_groups<L, V, H, false><<<blocks, kGroupBlock>>>(q, x, reinterpret_cast<float4*>(out), groups, n4, bc::device_error(), out16,
                                                                 round_out);
    });
  };
  using std::integral_constant;
  if (n4 <= 8) go(integral_constant<int, 8>{}, integral_constant<int, 1>{});
  else if (n4 <= 16) go(integral_constant<int, 8>{}, integral_constant<int, 2>{});
  else if (n4 <= 32) go(integral_constant<int, 16>{}, integral_constant<int, 2>{});
  else if (n4 <= 64) go(integral_constant<int, 32>{}, integral_constant<int, 2>{});
  else if (n4 <= 128) go(integral_constant<int, 32>{}, integral_constant<int, 4>{});
  else if (n4 <= 256) go(integral_constant<int, 32>{}, integral_constant<int, 8>{});
  else if (n4 <= 512) go(integral_constant<int, 32>{}, integral_constant<int, 16>{});
  else go(integral_constant<int, 32>{}, integral_constant<int, 24>{});
}

// out_storage: out's storage, which the paths that feed products write the 16-bit copy of (half_out.cuh); round_out
// rounds the output as it is stored, and with half_only the copy may be all that is kept (HalfOnly). xin: x as the
// kernels that can read a 16-bit copy take it; x_f32() its f32 values (written from the copy where pending), for
// the paths that cannot.
template <int K, class F32>
void run(const Quantizer& q, int granularity, bc::HalfIn xin, F32 x_f32, float* out, float* mask, long long rows, long long cols,
         long long group_size, bc::Storage& out_storage, int round_out, bool half_only) {
  const long long n = rows * cols;
  const long long groups = granularity == kRow ? rows : granularity == kGroup ? n / group_size : granularity == kCol ? cols : 1;
  if (groups > 2147483647LL) throw std::runtime_error("too many quantization groups");
  const bool extremes_only = q.scale_method == kAbsmax || q.scale_method == kNone || q.mx_emax != -1000;
  const bool aligned_io = reinterpret_cast<uintptr_t>(xin.data()) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
  if ((granularity == kRow || granularity == kGroup) && extremes_only) {
    const long long length = granularity == kRow ? cols : group_size;
    if (K == kIntegerGrid && !mask && aligned_io && register_groups_take(length)) {
      launch_register_groups(q, xin, out, groups, length, bc::written_half_copy(out_storage, n, round_out, half_only), round_out);
      bc::check_launch("fakeQuant register_groups");
      return;
    }
    // x's f32 values before out's copy: where out is x, marking the copy as holding out's values (half_only) would
    // have x's values written from a copy not yet written.
    const float* x = x_f32();
    const bc::HalfOut out16 = bc::written_half_copy(out_storage, n, round_out, half_only);
    const unsigned blocks = static_cast<unsigned>(std::min<long long>((groups + 7) / 8, 65535LL * 4));
    fused_groups<K><<<blocks, kThreads>>>(q, x, out, mask, groups, length, bc::device_error(), out16, round_out);
    bc::check_launch("fakeQuant fused_groups");
    return;
  }
  const bool whole_grid_stats = granularity == kTensor && extremes_only;
  // One scale from the extremes, four values a thread: tensor_stats and apply_tensor4 read x as they find it.
  const bool tensor4 = whole_grid_stats && n % 4 == 0 && aligned_io && reinterpret_cast<uintptr_t>(mask) % 16 == 0;
  const bool fast_tensor = K == kIntegerGrid && tensor4 && !mask && int_fast_path(q);
  if (!tensor4) xin = bc::HalfIn{x_f32(), nullptr, false};
  const float* x = xin.f32;  // (null where a copy holds the values: then nothing below reads x)
  bc::Scratch params(groups * sizeof(Params));
  if (whole_grid_stats) {
    const int blocks = static_cast<int>(bc::blocks_for(n, kThreads, 4LL * bc::sm_count()));
    bc::Scratch partial(3 * blocks * sizeof(double));
    bc::with_source(xin, [&](auto half) {
      tensor_stats<decltype(half)::value><<<blocks, kThreads>>>(q, xin, n, partial.as<double>(), params.as<Params>());
    });
  } else {
    // Short groups (a 64-wide KV head row) get a block of their own width, not 256 mostly idle threads.
    const long long length = granularity == kRow ? cols : granularity == kGroup ? group_size : granularity == kCol ? rows : n;
    const int threads = static_cast<int>(std::min<long long>(kThreads, std::max<long long>(32, (length + 31) / 32 * 32)));
    choose_params<K><<<static_cast<unsigned>(groups), threads>>>(q, granularity, x, rows, cols, group_size, params.as<Params>());
  }
  bc::check_launch(whole_grid_stats ? "fakeQuant tensor_stats" : "fakeQuant choose_params");
  if (fast_tensor) {
    const bc::HalfOut out16 = bc::written_half_copy(out_storage, n, round_out, half_only);
    const unsigned blocks = bc::blocks_for(n / 4, kThreads, 8LL * bc::sm_count());  // one resident wave; grid-stride
    bc::with_source(xin, [&](auto half) {
      apply_tensor4_int<decltype(half)::value><<<blocks, kThreads>>>(q, xin, reinterpret_cast<float4*>(out), n / 4, params.as<Params>(),
                                                                     bc::device_error(), out16, round_out);
    });
  } else if (tensor4) {
    const bc::HalfOut out16 = bc::written_half_copy(out_storage, n, round_out, half_only);
    apply_tensor4<K><<<bc::blocks_for(n / 4, kThreads), kThreads>>>(q, xin, reinterpret_cast<float4*>(out),
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
  float* out = a.out_f32(2, "out", n);  // (before x: it writes an aliased input's pending values)
  float* mask = a.is_nullish(5) ? nullptr : a.out_f32(5, "steMask", n);
  const bc::HalfIn xin = bc::values_of(a, 1, "x", n);  // x's 16-bit copy where that alone holds its values
  auto x_f32 = [&] { return a.f32(1, "x", n); };
  const int round_out = round_code(a, 6, "roundOutput");
  const bool half_only = a.flag_or(7, "halfOnly", false);
  if (n == 0) return nullptr;
  bc::op_context() = "fakeQuant(rows=" + std::to_string(rows) + ", cols=" + std::to_string(cols) + ", format=" +
                     std::to_string(static_cast<int>(s[kFormat])) + ", granularity=" + std::to_string(granularity) + ")";
  bc::Storage& out_storage = a.lookup(2, "out");
  switch (q.grid) {
    case kIntegerGrid: run<kIntegerGrid>(q, granularity, xin, x_f32, out, mask, rows, cols, group, out_storage, round_out, half_only); break;
    case kMinifloatGrid: run<kMinifloatGrid>(q, granularity, xin, x_f32, out, mask, rows, cols, group, out_storage, round_out, half_only); break;
    case kNf4Grid: run<kNf4Grid>(q, granularity, xin, x_f32, out, mask, rows, cols, group, out_storage, round_out, half_only); break;
    default: run<kBinaryGrid>(q, granularity, xin, x_f32, out, mask, rows, cols, group, out_storage, round_out, half_only); break;
  }
  return nullptr;
}
