// Reductions: sum or max over the middle axis of an (outer, mid, inner) view, and the sum of squares.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernel.h"

using bitscale::kParallelGrain;

namespace {

// Sums accumulate in double so long reductions match the float64 reference to float precision.
void reduce_sum(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner) {
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * mid > kParallelGrain)
    for (int64_t o = 0; o < outer; o++) {
      const float* row = x + o * mid;
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t m = 0; m < mid; m++) s += row[m];
      out[o] = static_cast<float>(s);
    }
    return;
  }
#pragma omp parallel if (outer * mid * inner > kParallelGrain)
  {
    std::vector<double> acc(inner);
#pragma omp for schedule(static)
    for (int64_t o = 0; o < outer; o++) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t m = 0; m < mid; m++) {
        const float* row = x + (o * mid + m) * inner;
        for (int64_t i = 0; i < inner; i++) acc[i] += row[i];
      }
      for (int64_t i = 0; i < inner; i++) out[o * inner + i] = static_cast<float>(acc[i]);
    }
  }
}

void reduce_max(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner) {
#pragma omp parallel for schedule(static) if (outer * mid * inner > kParallelGrain)
  for (int64_t o = 0; o < outer; o++) {
    float* dst = out + o * inner;
    for (int64_t i = 0; i < inner; i++) dst[i] = -std::numeric_limits<float>::infinity();
    for (int64_t m = 0; m < mid; m++) {
      const float* row = x + (o * mid + m) * inner;
      for (int64_t i = 0; i < inner; i++) dst[i] = row[i] != row[i] || row[i] > dst[i] ? row[i] : dst[i];
    }
  }
}

}  // namespace

// reduce(op, x, out, outer, mid, inner)
BITSCALE_KERNEL(reduce) {
  const std::string op = a.to_str(a.argv.at(0), "argument 0 (op)");
  const int64_t outer = a.integer(3, "outer"), mid = a.integer(4, "mid"), inner = a.integer(5, "inner");
  const float* x = a.f32(1, "x", outer * mid * inner);
  float* out = a.f32(2, "out", outer * inner);
  if (op == "sum") return reduce_sum(x, out, outer, mid, inner);
  if (op == "max") return reduce_max(x, out, outer, mid, inner);
  throw std::runtime_error("unknown reduce op '" + op + "' (allowed: sum, max)");
}

// sumSquares(x, n) -> number
BITSCALE_KERNEL(sumSquares) {
  const int64_t n = a.integer(1, "n");
  const float* x = a.f32(0, "x", n);
  double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(x[i]) * x[i];
  bitscale::set_result(s);
}
