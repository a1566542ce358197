// AVX2 spans of fake_quant.cc's hot path (nearest rounding onto an integer, minifloat or sign grid, one scale
// per span), four doubles per instruction. They repeat the scalar code's double-precision operations one for one
// (same products, sums and roundings, no FMA), so the bits stay those of src/numerics/quantizer.ts:
//   v = x * inv + zero;  inside = lo <= v <= hi;  v = clamp(v, lo, hi)
//   integer grid:   r = rne(v * (1 / step)) * step
//   sign grid:      r = v >= 0 ? 1 : -1
//   minifloat grid: ulp = 2^(max(floor(log2 |v|), min_exponent) - mantissa), r = rne(v * (1 / ulp)) * ulp,
//                   then saturated to [-max, max]
//   out = float((r - zero) * scale + 0)
// (quantize_span drops the operations that cannot change a bit; it says why.)
// Only compiled into the AVX2 build (binding.gyp); the portable build keeps the scalar loops.
#pragma once
#ifdef __AVX2__
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace bitscale::fq_avx2 {

// Every span reports non-finite inputs through the return value (true: all finite) instead of checking
// each element with a branch.
inline __m256 abs_ps(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

inline __m256 finite_ps(__m256 x) {
  return _mm256_cmp_ps(abs_ps(x), _mm256_set1_ps(3.4028234663852886e38f), _CMP_LE_OQ);
}

// max |x[i]| over n floats (exact: max does not round), and whether all are finite.
inline bool absmax(const float* x, size_t n, double* out) {
  __m256 m = _mm256_setzero_ps(), ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    m = _mm256_max_ps(m, abs_ps(v));
    ok = _mm256_and_ps(ok, finite_ps(v));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  float best = 0;
  for (float l : lanes) best = l > best ? l : best;
  bool finite = _mm256_movemask_ps(ok) == 0xff;
  for (; i < n; i++) {
    const float a = x[i] < 0 ? -x[i] : x[i];
    finite &= a <= 3.4028234663852886e38f;
    best = a > best ? a : best;
  }
  *out = best;
  return finite;
}

// min(x, 0) and max(x, 0) over n floats (the asymmetric range), and whether all are finite.
inline bool range(const float* x, size_t n, double* lo_out, double* hi_out) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps(), ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    lo = _mm256_min_ps(lo, v);
    hi = _mm256_max_ps(hi, v);
    ok = _mm256_and_ps(ok, finite_ps(v));
  }
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, lo);
  _mm256_store_ps(h, hi);
  float a = 0, b = 0;
  for (int k = 0; k < 8; k++) {
    a = l[k] < a ? l[k] : a;
    b = h[k] > b ? h[k] : b;
  }
  bool finite = _mm256_movemask_ps(ok) == 0xff;
  for (; i < n; i++) {
    finite &= (x[i] < 0 ? -x[i] : x[i]) <= 3.4028234663852886e38f;
    a = x[i] < a ? x[i] : a;
    b = x[i] > b ? x[i] : b;
  }
  *lo_out = a;
  *hi_out = b;
  return finite;
}

inline void store_fence() { _mm_sfence(); }

// The grids a span can round onto: integers (with a step), a minifloat, or the signs {-1, +1} (binary).
enum GridShape { kInteger, kMinifloat, kSign };

// The grid's constants, as the scalar code has them.
struct Grid {
  double lo, hi;      // clamp range in grid units
  double step;        // integer grid: a power of two
  double max;         // minifloat: largest magnitude
  double min_binade;  // minifloat: 2^min_exponent
  double ulp_factor;  // minifloat: 2^-mantissa
};

// Round half to even of |v| < 2^51 (see rne in fake_quant.cc).
inline __m256d rne(__m256d v) {
  const __m256d magic = _mm256_set1_pd(6755399441055744.0);
  return _mm256_sub_pd(_mm256_add_pd(v, magic), magic);
}

// Shapes of a span, fixed at compile time so the loop carries no dead work:
//   Shape: the grid; Shifted: a nonzero zero point (asymmetric int); UnitStep: integer step 1 (not MXINT8).
// Dropping "+ zero" when zero = 0 and "* 1" when step = 1 changes at most the sign of a zero v, which rne
// erases (it returns +0 for every zero result). For the same reason the reference's final "+ 0" (-0 -> +0)
// is not needed: rne's zeros are +0 and the scale is positive, so (r - zero) * scale is never -0.
template <GridShape Shape, bool UnitStep>
inline __m256d round_to_grid(const Grid& g, __m256d v) {
  if constexpr (Shape == kInteger) {
    if constexpr (UnitStep) return rne(v);
    return _mm256_mul_pd(rne(_mm256_mul_pd(v, _mm256_set1_pd(1 / g.step))), _mm256_set1_pd(g.step));
  } else if constexpr (Shape == kSign) {
    return _mm256_blendv_pd(_mm256_set1_pd(-1.0), _mm256_set1_pd(1.0),
                            _mm256_cmp_pd(v, _mm256_setzero_pd(), _CMP_GE_OQ));
  } else {
    // 2^floor(log2 |v|) is |v| with its mantissa bits cleared (0 for v = 0, which the max lifts).
    const __m256d exponent_bits = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7ff0000000000000LL));
    const __m256d binade = _mm256_max_pd(_mm256_and_pd(v, exponent_bits), _mm256_set1_pd(g.min_binade));
    // rne(v / ulp) * ulp without the scaling: adding and removing shift = 1.5 * 2^52 * ulp rounds v to a
    // multiple of ulp, ties to even, exactly as the magic-number rne does on v / ulp (scaling by a power
    // of two changes no rounding). No saturation needed either: v is clamped to [-max, max] and max lies on
    // the grid, so the nearest grid value of v never exceeds it.
    const __m256d shift = _mm256_mul_pd(binade, _mm256_set1_pd(g.ulp_factor * 6755399441055744.0));
    return _mm256_sub_pd(_mm256_add_pd(v, shift), shift);
  }
}

// out[i] (and mask[i] when given) for i < n with one (scale, zero); scalar(i) handles the tail.
// stream: write out (not mask: measured slower) with non-temporal stores, for outputs far larger than the
// cache, which would otherwise be read into it before being overwritten (a third of the memory traffic).
// The caller runs store_fence() on each thread that streamed before the output is read.
template <GridShape Shape, bool Shifted, bool UnitStep, class Scalar>
inline bool quantize_span(const Grid& g, double scale, double zero, const float* x, float* out, float* mask,
                          size_t n, bool stream, Scalar scalar) {
  const __m256d inv = _mm256_set1_pd(1 / scale), z = _mm256_set1_pd(zero), s = _mm256_set1_pd(scale);
  const __m256d lo = _mm256_set1_pd(g.lo), hi = _mm256_set1_pd(g.hi);
  __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  bool finite = true;
  size_t i = 0;
  if (stream) {
    // 16-byte streams of each half: typed arrays are 16-byte aligned, rarely 32.
    for (; i < n && reinterpret_cast<uintptr_t>(out + i) % 16 != 0; i++) finite = scalar(i) && finite;
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 xf = _mm256_loadu_ps(x + i);
    ok = _mm256_and_ps(ok, finite_ps(xf));
    __m128 half[2];
    __m256d inside[2];
    for (int h = 0; h < 2; h++) {
      const __m256d xd = _mm256_cvtps_pd(h == 0 ? _mm256_castps256_ps128(xf) : _mm256_extractf128_ps(xf, 1));
      __m256d v = _mm256_mul_pd(xd, inv);
      if constexpr (Shifted) v = _mm256_add_pd(v, z);
      if (mask) inside[h] = _mm256_and_pd(_mm256_cmp_pd(v, lo, _CMP_GE_OQ), _mm256_cmp_pd(v, hi, _CMP_LE_OQ));
      v = _mm256_min_pd(_mm256_max_pd(v, lo), hi);
      __m256d r = round_to_grid<Shape, UnitStep>(g, v);
      if constexpr (Shifted) r = _mm256_sub_pd(r, z);
      half[h] = _mm256_cvtpd_ps(_mm256_mul_pd(r, s));
    }
    if (stream) {
      _mm_stream_ps(out + i, half[0]);
      _mm_stream_ps(out + i + 4, half[1]);
    } else {
      _mm256_storeu_ps(out + i, _mm256_set_m128(half[1], half[0]));
    }
    if (mask) {
      // All-ones lanes -> 1.0f, zero lanes -> 0.0f.
      const __m128 m0 = _mm256_cvtpd_ps(_mm256_and_pd(inside[0], _mm256_set1_pd(1.0)));
      const __m128 m1 = _mm256_cvtpd_ps(_mm256_and_pd(inside[1], _mm256_set1_pd(1.0)));
      _mm256_storeu_ps(mask + i, _mm256_set_m128(m1, m0));
    }
  }
  finite = _mm256_movemask_ps(ok) == 0xff && finite;
  for (; i < n; i++) finite = scalar(i) && finite;
  return finite;
}

// quantize_span with its shape chosen from the grid and the params.
template <GridShape Shape, class Scalar>
inline bool quantize(const Grid& g, double scale, double zero, const float* x, float* out, float* mask, size_t n,
                     bool stream, Scalar scalar) {
  if (zero != 0) return quantize_span<Shape, true, false>(g, scale, zero, x, out, mask, n, stream, scalar);
  if (Shape == kInteger && g.step == 1)
    return quantize_span<Shape, false, true>(g, scale, zero, x, out, mask, n, stream, scalar);
  return quantize_span<Shape, false, false>(g, scale, zero, x, out, mask, n, stream, scalar);
}

}  // namespace bitscale::fq_avx2
#endif
