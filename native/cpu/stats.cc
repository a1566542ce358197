// columnStats: the statistics of a linear layer's input in one pass (src/nn/outliers.ts): max |x|, mean, second
// and fourth central moments, and per column the fraction of rows with |x| >= threshold.
//
// Moments in one pass: the power sums of d = x - K in double, K the mean of the first few elements. K lies near
// the mean, so turning the raw sums into central moments cancels little (the error grows with ((mean - K) / σ)^4,
// which a K from the data keeps small); double sums of float inputs keep the rest exact enough. The same scheme
// runs on the GPU (native/cuda/stats.cu); the js backend is the two-pass reference.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernel.h"

using bitscale::kParallelGrain;

namespace {

struct Partial {
  float max_abs = 0;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  std::vector<double> hits;
};

}  // namespace

// columnStats(x, out, rows, cols, threshold): out = [maxAbs, mean, m2, m4, hit fraction of each column]
BITSCALE_KERNEL(columnStats) {
  const int64_t rows = a.integer(2, "rows"), cols = a.integer(3, "cols");
  const double threshold = a.num(4, "threshold");
  const int64_t n = rows * cols;
  const float* x = a.f32(0, "x", n);
  float* out = a.f32(1, "out", 4 + cols);
  std::fill(out, out + 4 + cols, 0.0f);
  if (n == 0) return;
  const float limit = static_cast<float>(threshold);
  const int64_t few = std::min<int64_t>(n, 32);
  double k = 0;
  for (int64_t i = 0; i < few; i++) k += x[i];
  k /= static_cast<double>(few);

  std::vector<Partial> parts(omp_get_max_threads());
#pragma omp parallel if (n > kParallelGrain)
  {
    Partial& p = parts[omp_get_thread_num()];
    p.hits.assign(cols, 0.0);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float* row = x + r * cols;
      float m = p.max_abs;
      double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
#pragma omp simd reduction(max : m) reduction(+ : s1, s2, s3, s4)
      for (int64_t c = 0; c < cols; c++) {
        m = std::max(m, std::fabs(row[c]));
        const double d = static_cast<double>(row[c]) - k, d2 = d * d;
        s1 += d;
        s2 += d2;
        s3 += d2 * d;
        s4 += d2 * d2;
      }
      p.max_abs = m;
      p.s1 += s1;
      p.s2 += s2;
      p.s3 += s3;
      p.s4 += s4;
      double* hits = p.hits.data();
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) hits[c] += std::fabs(row[c]) >= limit ? 1.0 : 0.0;
    }
  }

  // Threads' partials in thread order: the same result for the same team size.
  Partial total;
  total.hits.assign(cols, 0.0);
  for (const Partial& p : parts) {
    if (p.hits.empty()) continue;  // a thread the team did not use
    total.max_abs = std::max(total.max_abs, p.max_abs);
    total.s1 += p.s1;
    total.s2 += p.s2;
    total.s3 += p.s3;
    total.s4 += p.s4;
    for (int64_t c = 0; c < cols; c++) total.hits[c] += p.hits[c];
  }
  const double inv = 1.0 / static_cast<double>(n);
  const double a1 = total.s1 * inv, e2 = total.s2 * inv, e3 = total.s3 * inv, e4 = total.s4 * inv;
  const double m2 = e2 - a1 * a1;
  const double m4 = e4 - 4 * a1 * e3 + 6 * a1 * a1 * e2 - 3 * a1 * a1 * a1 * a1;
  out[0] = total.max_abs;
  out[1] = static_cast<float>(k + a1);
  out[2] = static_cast<float>(m2 < 0 ? 0 : m2);  // rounding can leave -tiny; NaN stays NaN
  out[3] = static_cast<float>(m4 < 0 ? 0 : m4);
  for (int64_t c = 0; c < cols; c++) out[4 + c] = static_cast<float>(total.hits[c] / static_cast<double>(rows));
}
