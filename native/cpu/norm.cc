// RMSNorm and LayerNorm over the last axis of (rows, cols), forward and backward. Weight gradients are
// summed over rows in per-thread buffers and added once, so threads never race on gw/gb.
#include <omp.h>

#include <cmath>
#include <vector>

#include "half.h"
#include "kernel.h"

using bitscale::kParallelGrain;

namespace {

// Adds each thread's column partials into dst (when dst is not null) after the rows are done.
struct ColumnSums {
  std::vector<float> local;
  explicit ColumnSums(int64_t cols) : local(cols, 0.0f) {}
  void flush_into(float* dst) {
    if (!dst) return;
#pragma omp critical(bitscale_column_sums)
    for (size_t c = 0; c < local.size(); c++) dst[c] += local[c];
  }
};

// One row of RMSNorm: writes out = xr * rstd * w and returns rstd. rmsNorm and addRmsNorm share it, so the
// fused op's output is the unfused one bit for bit.
inline float rms_norm_row(const float* xr, const float* w, float* out, int64_t cols, float eps) {
  float ss = 0;
#pragma omp simd reduction(+ : ss)
  for (int64_t c = 0; c < cols; c++) ss += xr[c] * xr[c];
  const float s = 1.0f / std::sqrt(ss / cols + eps);
  for (int64_t c = 0; c < cols; c++) out[c] = xr[c] * s * w[c];
  return s;
}

}  // namespace

// rmsNorm(x, w, out, rstd, rows, cols, eps)
BITSCALE_KERNEL(rmsNorm) {
  const int64_t rows = a.integer(4, "rows"), cols = a.integer(5, "cols");
  const float eps = static_cast<float>(a.num(6, "eps"));
  const float* x = a.f32(0, "x", rows * cols);
  const float* w = a.f32(1, "w", cols);
  float* out = a.f32(2, "out", rows * cols);
  float* rstd = a.f32(3, "rstd", rows);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) rstd[r] = rms_norm_row(x + r * cols, w, out + r * cols, cols, eps);
}

// addRmsNorm(x, r, w, sum, out, rstd, rows, cols, eps, roundDelta?): sum = x + r (the residual stream), then
// RMSNorm of sum, row by row while the row is in cache: one pass over memory instead of an add and a norm.
// roundDelta (0 / absent, 2 bf16, 3 f16) rounds r on load, as roundTo would.
BITSCALE_KERNEL(addRmsNorm) {
  const int64_t rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  const float eps = static_cast<float>(a.num(8, "eps"));
  const int round = bitscale::round_code(a, 9, "roundDelta");
  const float* x = a.f32(0, "x", rows * cols);
  const float* res = a.f32(1, "r", rows * cols);
  const float* w = a.f32(2, "w", cols);
  float* sum = a.f32(3, "sum", rows * cols);
  float* out = a.f32(4, "out", rows * cols);
  float* rstd = a.f32(5, "rstd", rows);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t o = r * cols;
    if (round == bitscale::kRoundNone) {
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) sum[o + c] = x[o + c] + res[o + c];
    } else {
      for (int64_t c = 0; c < cols; c++) sum[o + c] = x[o + c] + bitscale::round_half(res[o + c], round);
    }
    rstd[r] = rms_norm_row(sum + o, w, out + o, cols, eps);
  }
}

// rmsNormGrad(x, w, rstd, gy, gx, gw, rows, cols, accumulate, roundGy?): gx = rstd (gy w - x rstd^2 mean_c(gy w x))
// (added to gx with accumulate); gw += Σ_r gy x rstd; gy rounded on load with roundGy (2 bf16, 3 f16).
BITSCALE_KERNEL(rmsNormGrad) {
  const int64_t rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  const float* w = a.f32(1, "w", cols);
  const float* rstd = a.f32(2, "rstd", rows);
  const float* gy = a.f32(3, "gy", rows * cols);
  float* gx = a.f32(4, "gx", rows * cols);
  float* gw = a.f32(5, "gw", cols);
  const bool accumulate = a.flag(8, "accumulate");
  const int round = bitscale::round_code(a, 9, "roundGy");
#pragma omp parallel if (rows * cols > kParallelGrain)
  {
    ColumnSums sums(cols);
    std::vector<float> rounded(round == bitscale::kRoundNone ? 0 : cols);  // the row of gy rounded, where asked
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float *xr = x + r * cols, *g = gy + r * cols;
      if (!rounded.empty()) {
        for (int64_t c = 0; c < cols; c++) rounded[c] = bitscale::round_half(g[c], round);
        g = rounded.data();
      }
      const float s = rstd[r];
      float dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t c = 0; c < cols; c++) dot += g[c] * w[c] * xr[c];
      const float k = s * s * dot / cols;
      for (int64_t c = 0; c < cols; c++) {
        const float d = s * (g[c] * w[c] - xr[c] * k);
        gx[r * cols + c] = accumulate ? gx[r * cols + c] + d : d;
        sums.local[c] += g[c] * xr[c] * s;
      }
    }
    sums.flush_into(gw);
  }
}

// layerNorm(x, w, b, out, mean, rstd, rows, cols, eps); w and b may be null.
BITSCALE_KERNEL(layerNorm) {
  const int64_t rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  const float eps = static_cast<float>(a.num(8, "eps"));
  const float* x = a.f32(0, "x", rows * cols);
  const float* w = a.f32_or_null(1, "w", cols);
  const float* b = a.f32_or_null(2, "b", cols);
  float* out = a.f32(3, "out", rows * cols);
  float* mean = a.f32(4, "mean", rows);
  float* rstd = a.f32(5, "rstd", rows);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < cols; c++) sum += xr[c];
    const float mu = sum / cols;
    float var = 0;
#pragma omp simd reduction(+ : var)
    for (int64_t c = 0; c < cols; c++) var += (xr[c] - mu) * (xr[c] - mu);
    const float s = 1.0f / std::sqrt(var / cols + eps);
    mean[r] = mu;
    rstd[r] = s;
    float* o = out + r * cols;
    for (int64_t c = 0; c < cols; c++) {
      float v = (xr[c] - mu) * s;
      if (w) v *= w[c];
      if (b) v += b[c];
      o[c] = v;
    }
  }
}

// layerNormGrad(x, w, mean, rstd, gy, gx, gw, gb, rows, cols):
// gx = rstd (g - mean_c g - xhat mean_c(g xhat)) with g = gy w; gw += Σ_r gy xhat; gb += Σ_r gy.
BITSCALE_KERNEL(layerNormGrad) {
  const int64_t rows = a.integer(8, "rows"), cols = a.integer(9, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  const float* w = a.f32_or_null(1, "w", cols);
  const float* mean = a.f32(2, "mean", rows);
  const float* rstd = a.f32(3, "rstd", rows);
  const float* gy = a.f32(4, "gy", rows * cols);
  float* gx = a.f32(5, "gx", rows * cols);
  float* gw = a.f32_or_null(6, "gw", cols);
  float* gb = a.f32_or_null(7, "gb", cols);
#pragma omp parallel if (rows * cols > kParallelGrain)
  {
    ColumnSums sum_w(gw ? cols : 0), sum_b(gb ? cols : 0);
    std::vector<float> g(cols);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float *xr = x + r * cols, *gr = gy + r * cols;
      const float mu = mean[r], s = rstd[r];
      float g_mean = 0, gx_mean = 0;
      for (int64_t c = 0; c < cols; c++) {
        const float xhat = (xr[c] - mu) * s;
        g[c] = w ? gr[c] * w[c] : gr[c];
        g_mean += g[c];
        gx_mean += g[c] * xhat;
        if (gw) sum_w.local[c] += gr[c] * xhat;
        if (gb) sum_b.local[c] += gr[c];
      }
      g_mean /= cols;
      gx_mean /= cols;
      for (int64_t c = 0; c < cols; c++) gx[r * cols + c] = s * (g[c] - g_mean - (xr[c] - mu) * s * gx_mean);
    }
    sum_w.flush_into(gw);
    sum_b.flush_into(gb);
  }
}
