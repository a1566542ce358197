// fakeQuant: quantize-then-dequantize a (rows, cols) float32 tensor, the native twin of
// src/numerics/fake-quant.ts. It repeats the reference's double-precision operations one for one (no FMA
// contraction, same summation order), so both backends give the same bits; read quantizer.ts for the maths.
//
// fakeQuant(spec: Float64Array (encodeFakeQuantSpec), x, out, rows, cols, steMask | null)
// Groups (rows, row-groups, columns) run in parallel; a per-tensor scale is found first, then applied in
// parallel. Each group is read once for its scale and once more (from cache) to quantize. The AVX2 build
// quantizes contiguous spans with fake_quant_avx2.h (same bits) and streams outputs past the cache when they
// are too large to stay in it.
#pragma GCC optimize("fp-contract=off")

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fake_quant_avx2.h"
#include "fake_quant_format.h"
#include "kernel.h"

namespace {

using namespace bitscale_fq;  // the spec's slots and formats, the NF4 table: native/common/fake_quant_format.h

// Outputs at least this large are written past the cache (non-temporal stores): they cannot stay in it.
constexpr size_t kStreamBytes = size_t{16} << 20;
// Work is handed to the team in tasks of about this many elements (dynamic scheduling): on a machine busier
// than its cores, a thread that loses its core for a while no longer holds up the whole kernel.
constexpr size_t kTaskElements = size_t{1} << 14;

struct Quantizer {
  GridKind grid;
  double max;        // grid max
  double lo, hi;     // clamp range in grid units
  double step = 1;   // integer grids
  int mantissa = 0;  // minifloat grids
  int min_exponent = 0;
  bool ieee_cast = false;  // bf16/fp16: overflow -> Inf, no clamp
  int mx_emax = -1000;     // MX: element emax; -1000 when not MX
  bool symmetric = true;
  int scale_method = kAbsmax;
  double percentile = 100;
  bool stochastic = false;
  uint64_t seed = 0, offset = 0;
  double nf4_mid[15];
};

struct Params {
  double scale, zero;
};

// 2^e for normal exponents, built from bits (std::ldexp is an out-of-line libm call).
inline double pow2(int e) {
  const uint64_t b = static_cast<uint64_t>(e + 1023) << 52;
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

inline int floor_log2(double a) {  // a > 0 and normal in double (our values are float32)
  uint64_t b;
  std::memcpy(&b, &a, sizeof b);
  return static_cast<int>((b >> 52) & 0x7ff) - 1023;
}

// Round half to even for |v| < 2^51: adding and removing 1.5 * 2^52 leaves no fraction bits, and the
// hardware rounds that addition to nearest-even. Inline and vectorizable, unlike std::nearbyint without
// SSE4.1; a zero may come out as +0 where the reference has -0, which the final "+ 0" erases in both.
inline double rne(double v) {
  constexpr double kMagic = 6755399441055744.0;
  return (v + kMagic) - kMagic;
}

Quantizer decode(const std::vector<double>& s) {
  if (s.size() < kSlots || s[kVersion] != 1) throw std::runtime_error("spec: expected encodeFakeQuantSpec version 1");
  Quantizer q{};
  q.symmetric = s[kSymmetric] != 0;
  q.scale_method = static_cast<int>(s[kScale]);
  q.percentile = s[kPercentile];
  q.stochastic = s[kRounding] == 1;
  q.seed = static_cast<uint64_t>(s[kSeed]);
  q.offset = static_cast<uint64_t>(s[kOffset]);
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
  return q;
}

// ---- the grid: nearest and stochastic rounding of a scaled value v ------------------------------------

template <GridKind K>
inline double ulp_of(const Quantizer& q, double v) {
  const double a = std::fabs(v);
  const int e = a == 0 ? q.min_exponent : std::max(floor_log2(a), q.min_exponent);
  return pow2(e - q.mantissa);
}

template <GridKind K>
inline double nearest(const Quantizer& q, double v) {
  if constexpr (K == kIntegerGrid) {
    return rne(v * (1 / q.step)) * q.step;  // step is a power of two: same as v / step
  } else if constexpr (K == kMinifloatGrid) {
    const double ulp = ulp_of<K>(q, v);
    const double r = rne(v * (1 / ulp)) * ulp;
    if (std::fabs(r) <= q.max) return r;
    if (q.ieee_cast) return v > 0 ? INFINITY : -INFINITY;
    return v > 0 ? q.max : -q.max;
  } else if constexpr (K == kNf4Grid) {
    int code = 0;
    for (int i = 0; i < 15; i++) code += v > q.nf4_mid[i];
    return kNf4Values[code];
  } else {
    return v >= 0 ? 1.0 : -1.0;
  }
}

template <GridKind K>
inline double stochastic(const Quantizer& q, double v, double u) {
  double lo, hi;
  if constexpr (K == kIntegerGrid) {
    lo = std::floor(v / q.step) * q.step;
    hi = lo == v ? lo : lo + q.step;
  } else if constexpr (K == kMinifloatGrid) {
    const double ulp = ulp_of<K>(q, v);
    lo = std::floor(v / ulp) * ulp;
    hi = lo == v ? lo : lo + ulp;
  } else if constexpr (K == kNf4Grid) {
    int i = 0;
    while (i < 15 && kNf4Values[i + 1] <= v) i++;
    lo = kNf4Values[i];
    hi = lo == v ? lo : kNf4Values[i + 1];
  } else {
    if (v == 1 || v == -1) return v;
    lo = -1;
    hi = 1;
  }
  if (hi == lo) return lo;
  return u < (v - lo) / (hi - lo) ? hi : lo;
}

template <GridKind K>
inline double quantize_value(const Quantizer& q, const Params& p, double inv, double x, double u, bool sr) {
  double v = x * inv + p.zero;
  if (v < q.lo) v = q.lo;
  else if (v > q.hi) v = q.hi;
  double r = sr ? stochastic<K>(q, v, u) : nearest<K>(q, v);
  if (q.ieee_cast && std::fabs(r) > q.max) r = r > 0 ? INFINITY : -INFINITY;
  return (r - p.zero) * p.scale + 0.0;  // -0 -> 0, as the reference
}

template <GridKind K>
inline bool inside(const Quantizer& q, const Params& p, double inv, double x) {
  const double v = x * inv + p.zero;
  if (q.ieee_cast) return std::fabs(nearest<K>(q, v)) <= q.max;
  return v >= q.lo && v <= q.hi;
}

// ---- Philox4x32-10, the stream of src/tensor/philox.ts ------------------------------------------------

inline void philox(uint64_t block, uint64_t seed, uint32_t out[4]) {
  uint32_t c0 = static_cast<uint32_t>(block), c1 = static_cast<uint32_t>(block >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; r++) {
    const uint64_t p0 = uint64_t{0xD2511F53} * c0, p1 = uint64_t{0xCD9E8D57} * c2;
    const uint32_t hi0 = p0 >> 32, lo0 = static_cast<uint32_t>(p0), hi1 = p1 >> 32, lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9;
    k1 += 0xBB67AE85;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

inline double uniform_at(const Quantizer& q, uint64_t i) {
  uint32_t r[4];
  const uint64_t index = q.offset + i;
  philox(index / 4, q.seed, r);
  return ((r[index % 4] >> 8) + 0.5) * (1.0 / 16777216.0);
}

// ---- scale choice (quantizer.ts chooseParams) ----------------------------------------------------------

Params symmetric_params(const Quantizer& q, double c) {
  double scale = c / q.max;
  if (!(scale > 0 && std::isfinite(1 / scale))) scale = 1;
  return {scale, 0};
}

Params asymmetric_params(const Quantizer& q, double lo, double hi) {
  double scale = (hi - lo) / q.hi;
  if (!(scale > 0 && std::isfinite(1 / scale))) scale = 1;
  const double zero = rne(-lo / scale);
  return {scale, std::min(std::max(zero, 0.0), q.hi)};
}

size_t percentile_rank(double p, size_t n) {
  return static_cast<size_t>(std::max(std::ceil((p / 100) * static_cast<double>(n)), 1.0)) - 1;
}

template <GridKind K, class ParamsAt>
Params search_mse(const Quantizer& q, const double* v, size_t n, ParamsAt at) {
  Params best = at(1.0);
  double best_error = INFINITY;
  for (int k = 0; k <= kMseSteps; k++) {
    const Params p = at(1 - static_cast<double>(k) / kMseGrid);
    const double inv = 1 / p.scale;
    double error = 0;
    for (size_t i = 0; i < n; i++) {
      const double d = quantize_value<K>(q, p, inv, v[i], 0, false) - v[i];
      error += d * d;
    }
    if (error < best_error) {
      best_error = error;
      best = p;
    }
  }
  return best;
}

// values: the group as doubles (scratch, may be reordered).
template <GridKind K>
Params choose_params(const Quantizer& q, double* v, size_t n, double absmax) {
  if (q.scale_method == kNone) return {1, 0};
  if (q.mx_emax != -1000) {
    int e = absmax == 0 ? -127 : floor_log2(absmax) - q.mx_emax;
    e = std::min(std::max(e, -127), 127);
    return {pow2(e), 0};
  }
  if (q.symmetric) {
    double c = absmax;
    if (q.scale_method == kAbsmean) {
      double sum = 0;
      for (size_t i = 0; i < n; i++) sum += std::fabs(v[i]);
      c = n > 0 ? sum / static_cast<double>(n) : 0;
    } else if (q.scale_method == kPercentileScale) {
      if (n == 0) return symmetric_params(q, absmax);
      std::vector<double> a(n);
      for (size_t i = 0; i < n; i++) a[i] = std::fabs(v[i]);
      const size_t rank = percentile_rank(q.percentile, n);
      std::nth_element(a.begin(), a.begin() + rank, a.end());
      c = a[rank];
    } else if (q.scale_method == kMse) {
      return search_mse<K>(q, v, n, [&](double f) { return symmetric_params(q, absmax * f); });
    }
    if (!(c > 0)) c = absmax;
    return symmetric_params(q, c);
  }
  double lo = 0, hi = 0;
  if (q.scale_method == kPercentileScale && n > 0) {
    std::vector<double> a(v, v + n);
    const size_t rank = percentile_rank(q.percentile, n);
    std::nth_element(a.begin(), a.begin() + rank, a.end());
    hi = std::max(a[rank], 0.0);
    std::nth_element(a.begin(), a.begin() + (n - 1 - rank), a.end());
    lo = std::min(a[n - 1 - rank], 0.0);
  } else {
    for (size_t i = 0; i < n; i++) {
      if (v[i] < lo) lo = v[i];
      if (v[i] > hi) hi = v[i];
    }
  }
  if (q.scale_method == kMse) return search_mse<K>(q, v, n, [&](double f) { return asymmetric_params(q, lo * f, hi * f); });
  return asymmetric_params(q, lo, hi);
}

// ---- apply ---------------------------------------------------------------------------------------------

// Quantizes x[start + k*stride], k < n, with the group's params; `base` is x's flat index in the tensor
// (the stochastic stream is indexed by it). Returns false on a non-finite x.
template <GridKind K>
bool apply(const Quantizer& q, const Params& p, const float* x, float* out, float* mask, size_t start, size_t stride,
           size_t n, size_t base) {
  const double inv = 1 / p.scale;
  bool finite = true;
  for (size_t k = 0; k < n; k++) {
    const size_t i = start + k * stride;
    const double xi = x[i];
    finite &= std::isfinite(xi);
    if (mask) mask[i] = inside<K>(q, p, inv, xi) ? 1.0f : 0.0f;
    const double u = q.stochastic ? uniform_at(q, base + i) : 0;
    out[i] = static_cast<float>(quantize_value<K>(q, p, inv, xi, u, q.stochastic));
  }
  return finite;
}

// One element of a contiguous span with nearest rounding (no stochastic draw, no IEEE cast); false when x is
// not finite.
template <GridKind K>
inline bool quantize_one(const Quantizer& q, const Params& p, double inv, const float* x, float* out, float* mask,
                         size_t i) {
  const double xi = x[i];
  double v = xi * inv + p.zero;
  if (mask) mask[i] = (v >= q.lo && v <= q.hi) ? 1.0f : 0.0f;
  v = v < q.lo ? q.lo : (v > q.hi ? q.hi : v);
  out[i] = static_cast<float>((nearest<K>(q, v) - p.zero) * p.scale + 0.0);
  return std::fabs(xi) <= 3.4028234663852886e38;
}

// Contiguous span at flat index `base`: a tight branch-light loop for nearest rounding (the training case).
// stream: the whole output is far larger than the cache (see fq_avx2::quantize_span).
template <GridKind K>
bool apply_contiguous(const Quantizer& q, const Params& p, const float* x, float* out, float* mask, size_t n,
                      size_t base, bool stream) {
  if (q.stochastic || q.ieee_cast) return apply<K>(q, p, x, out, mask, 0, 1, n, base);
  const double inv = 1 / p.scale;
#ifdef __AVX2__
  if constexpr (K != kNf4Grid) {
    namespace fq = bitscale::fq_avx2;
    constexpr fq::GridShape shape = K == kIntegerGrid ? fq::kInteger : K == kMinifloatGrid ? fq::kMinifloat : fq::kSign;
    const fq::Grid grid{q.lo, q.hi, q.step, q.max, pow2(q.min_exponent), pow2(-q.mantissa)};
    const auto one = [&](size_t i) { return quantize_one<K>(q, p, inv, x, out, mask, i); };
    return fq::quantize<shape>(grid, p.scale, p.zero, x, out, mask, n, stream, one);
  }
#endif
  if constexpr (K == kIntegerGrid) {
    if (!mask) {  // straight-line code the compiler can vectorize
      const double lo = q.lo, hi = q.hi, zero = p.zero, scale = p.scale, inv_step = 1 / q.step, step = q.step;
      int bad = 0;
      for (size_t i = 0; i < n; i++) {
        const double xi = x[i];
        bad |= !(std::fabs(xi) <= 3.4028234663852886e38);
        double v = xi * inv + zero;
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        out[i] = static_cast<float>((rne(v * inv_step) * step - zero) * scale + 0.0);
      }
      return bad == 0;
    }
  }
  bool finite = true;
  for (size_t i = 0; i < n; i++) finite = quantize_one<K>(q, p, inv, x, out, mask, i) && finite;
  return finite;
}

// Makes this thread's streamed (non-temporal) stores visible to the others.
inline void store_fence() {
#ifdef __AVX2__
  bitscale::fq_avx2::store_fence();
#endif
}

// ---- statistics of a contiguous span, read straight from the float32 input -----------------------------
// max |x| and min/max of x are exact in float (no rounding), so they equal the reference's double loops.

inline bool absmax_span(const float* x, size_t n, double* out) {
#ifdef __AVX2__
  return bitscale::fq_avx2::absmax(x, n, out);
#else
  float m = 0;
  bool finite = true;
  for (size_t i = 0; i < n; i++) {
    const float a = std::fabs(x[i]);
    finite &= a <= 3.4028234663852886e38f;
    m = a > m ? a : m;
  }
  *out = m;
  return finite;
#endif
}

inline bool range_span(const float* x, size_t n, double* lo, double* hi) {
#ifdef __AVX2__
  return bitscale::fq_avx2::range(x, n, lo, hi);
#else
  float a = 0, b = 0;
  bool finite = true;
  for (size_t i = 0; i < n; i++) {
    finite &= std::fabs(x[i]) <= 3.4028234663852886e38f;
    a = x[i] < a ? x[i] : a;
    b = x[i] > b ? x[i] : b;
  }
  *lo = a;
  *hi = b;
  return finite;
#endif
}

// Whether a group's params follow from its absmax (symmetric, MX), its range (asymmetric) or its mean
// |x| (absmean) alone: then no double copy of the group is needed.
bool params_from_stats(const Quantizer& q) {
  return q.scale_method == kAbsmax || q.scale_method == kNone || q.mx_emax != -1000 ||
         (q.scale_method == kAbsmean && q.symmetric);
}

// Params of the contiguous span x[0, n) from its statistics (params_from_stats(q) must hold).
template <GridKind K>
Params span_params(const Quantizer& q, const float* x, size_t n, double absmax, double lo, double hi) {
  if (q.scale_method == kAbsmean && q.mx_emax == -1000) {
    // In order, in double: the reference's sum, bit for bit.
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += std::fabs(static_cast<double>(x[i]));
    double c = n > 0 ? sum / static_cast<double>(n) : 0;
    if (!(c > 0)) c = absmax;
    return symmetric_params(q, c);
  }
  if (q.scale_method == kNone || q.mx_emax != -1000 || q.symmetric) return choose_params<K>(q, nullptr, 0, absmax);
  return asymmetric_params(q, lo, hi);
}

template <GridKind K>
bool stats_span(const Quantizer& q, const float* x, size_t n, double* absmax, double* lo, double* hi) {
  if (!q.symmetric && q.mx_emax == -1000) {
    const bool ok = range_span(x, n, lo, hi);
    *absmax = std::max(-*lo, *hi);
    return ok;
  }
  return absmax_span(x, n, absmax);
}

struct Layout {
  size_t count, length, stride;
  size_t start(size_t g) const { return stride == 1 ? g * length : g; }
};

template <GridKind K>
bool run(const Quantizer& q, int granularity, size_t group_size, const float* x, float* out, float* mask, size_t rows,
         size_t cols) {
  const size_t n = rows * cols;
  if (n == 0) return true;
  const int team = bitscale::threads();
  const bool parallel = n >= static_cast<size_t>(bitscale::kParallelGrain);
  const bool stream = n * sizeof(float) >= kStreamBytes;
  bool finite = true;
  if (granularity == kTensor) {
    // Statistics of the whole tensor (chunk by chunk, in parallel), then the params, then apply in parallel.
    const size_t chunk = 1 << 14, chunks = (n + chunk - 1) / chunk;
    double absmax = 0, lo = 0, hi = 0;
#pragma omp parallel for schedule(dynamic) reduction(max : absmax, hi) reduction(min : lo) reduction(&& : finite) \
    num_threads(team) if (parallel)
    for (size_t c = 0; c < chunks; c++) {
      const size_t a = c * chunk, b = std::min(n, a + chunk);
      double m, l = 0, h = 0;
      finite = stats_span<K>(q, x + a, b - a, &m, &l, &h) && finite;
      absmax = std::max(absmax, m);
      lo = std::min(lo, l);
      hi = std::max(hi, h);
    }
    Params p{1, 0};
    if (params_from_stats(q)) {
      p = span_params<K>(q, x, n, absmax, lo, hi);
    } else {
      std::vector<double> v(x, x + n);
      p = choose_params<K>(q, v.data(), n, absmax);
    }
#pragma omp parallel num_threads(team) if (parallel) reduction(&& : finite)
    {
#pragma omp for schedule(dynamic)
      for (size_t c = 0; c < chunks; c++) {
        const size_t a = c * chunk, b = std::min(n, a + chunk);
        finite = apply_contiguous<K>(q, p, x + a, out + a, mask ? mask + a : nullptr, b - a, a, stream) && finite;
      }
      if (stream) store_fence();
    }
    return finite;
  }
  Layout L{};
  if (granularity == kRow) L = {rows, cols, 1};
  else if (granularity == kGroup) L = {n / group_size, group_size, 1};
  else L = {cols, rows, cols};
  const bool from_stats = L.stride == 1 && params_from_stats(q);
  const int groups_per_task = static_cast<int>(std::max<size_t>(1, kTaskElements / L.length));
#pragma omp parallel num_threads(team) if (parallel) reduction(&& : finite)
  {
    std::vector<double> v(from_stats ? 0 : L.length);
#pragma omp for schedule(dynamic, groups_per_task)
    for (size_t g = 0; g < L.count; g++) {
      const size_t start = L.start(g);
      Params p;
      if (from_stats) {
        // One read for the statistics, one more (from cache) to quantize: no copy of the group.
        double absmax, lo = 0, hi = 0;
        finite = stats_span<K>(q, x + start, L.length, &absmax, &lo, &hi) && finite;
        p = span_params<K>(q, x + start, L.length, absmax, lo, hi);
      } else {
        double absmax = 0;
        for (size_t k = 0; k < L.length; k++) {
          const double xi = x[start + k * L.stride];
          v[k] = xi;
          absmax = std::max(absmax, std::fabs(xi));
        }
        p = choose_params<K>(q, v.data(), L.length, absmax);
      }
      float* mask_at = mask ? mask + start : nullptr;
      const bool ok = L.stride == 1 ? apply_contiguous<K>(q, p, x + start, out + start, mask_at, L.length, start, stream)
                                    : apply<K>(q, p, x, out, mask, start, L.stride, L.length, 0);
      finite = ok && finite;
    }
    if (stream) store_fence();
  }
  return finite;
}

}  // namespace

// fakeQuant(spec, x, out, rows, cols, steMask | null)
BITSCALE_KERNEL(fakeQuant) {
  const std::vector<double> s = a.nums(0, "spec");
  const Quantizer q = decode(s);
  const int64_t rows = a.integer(3, "rows"), cols = a.integer(4, "cols");
  const size_t n = static_cast<size_t>(rows * cols);
  const float* x = a.f32(1, "x", n);
  float* out = a.f32(2, "out", n);
  float* mask = a.f32_or_null(5, "steMask", n);
  const int granularity = static_cast<int>(s[kGranularity]);
  const size_t group = static_cast<size_t>(s[kGroupSize]);
  if (granularity == kGroup && (group == 0 || cols % static_cast<int64_t>(group) != 0)) {
    throw std::runtime_error("granularity.size = " + std::to_string(group) + " is not allowed; expected a divisor of cols = " +
                             std::to_string(cols));
  }
  bool finite = true;
  switch (q.grid) {
    case kIntegerGrid: finite = run<kIntegerGrid>(q, granularity, group, x, out, mask, rows, cols); break;
    case kMinifloatGrid: finite = run<kMinifloatGrid>(q, granularity, group, x, out, mask, rows, cols); break;
    case kNf4Grid: finite = run<kNf4Grid>(q, granularity, group, x, out, mask, rows, cols); break;
    case kBinaryGrid: finite = run<kBinaryGrid>(q, granularity, group, x, out, mask, rows, cols); break;
  }
  if (!finite) {
    for (size_t i = 0; i < n; i++)
      if (!std::isfinite(x[i])) throw std::runtime_error("x[" + std::to_string(i) + "] = " + std::to_string(x[i]) +
                                                         " is not allowed; expected a finite number (no NaN or Inf)");
  }
}
