// Row-wise softmax, log-softmax and fused cross-entropy over (rows, cols), with their gradients.
#include <cmath>
#include <limits>
#include <string>

#include "kernel.h"
#include "vecmath.h"

using bitscale::fast_exp;
using bitscale::kParallelGrain;

namespace {

float row_max(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < n; c++) m = x[c] > m ? x[c] : m;
  return m;
}

// Σ exp(x - shift), writing the exponentials to out (which may be x itself).
float exp_sum(const float* x, float shift, float* out, int64_t n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; c++) {
    out[c] = fast_exp(x[c] - shift);
    s += out[c];
  }
  return s;
}

float exp_sum_only(const float* x, float shift, int64_t n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; c++) s += fast_exp(x[c] - shift);
  return s;
}

#define FOR_ROWS(rows, cols) _Pragma("omp parallel for schedule(static) if ((rows) * (cols) > kParallelGrain)") \
  for (int64_t r = 0; r < (rows); r++)

}  // namespace

// softmax(x, out, rows, cols)
BITSCALE_KERNEL(softmax) {
  const int64_t rows = a.integer(2, "rows"), cols = a.integer(3, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  float* out = a.f32(1, "out", rows * cols);
  FOR_ROWS(rows, cols) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    const float inv = 1.0f / exp_sum(xr, row_max(xr, cols), o, cols);
    for (int64_t c = 0; c < cols; c++) o[c] *= inv;
  }
}

// softmaxGrad(y, gy, gx, rows, cols)
BITSCALE_KERNEL(softmaxGrad) {
  const int64_t rows = a.integer(3, "rows"), cols = a.integer(4, "cols");
  const float* y = a.f32(0, "y", rows * cols);
  const float* gy = a.f32(1, "gy", rows * cols);
  float* gx = a.f32(2, "gx", rows * cols);
  FOR_ROWS(rows, cols) {
    const float *yr = y + r * cols, *g = gy + r * cols;
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t c = 0; c < cols; c++) dot += yr[c] * g[c];
    for (int64_t c = 0; c < cols; c++) gx[r * cols + c] = yr[c] * (g[c] - dot);
  }
}

// logSoftmax(x, out, rows, cols)
BITSCALE_KERNEL(logSoftmax) {
  const int64_t rows = a.integer(2, "rows"), cols = a.integer(3, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  float* out = a.f32(1, "out", rows * cols);
  FOR_ROWS(rows, cols) {
    const float* xr = x + r * cols;
    const float m = row_max(xr, cols);
    const float lse = m + std::log(exp_sum_only(xr, m, cols));
    for (int64_t c = 0; c < cols; c++) out[r * cols + c] = xr[c] - lse;
  }
}

// logSoftmaxGrad(y, gy, gx, rows, cols)
BITSCALE_KERNEL(logSoftmaxGrad) {
  const int64_t rows = a.integer(3, "rows"), cols = a.integer(4, "cols");
  const float* y = a.f32(0, "y", rows * cols);
  const float* gy = a.f32(1, "gy", rows * cols);
  float* gx = a.f32(2, "gx", rows * cols);
  FOR_ROWS(rows, cols) {
    const float *yr = y + r * cols, *g = gy + r * cols;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < cols; c++) sum += g[c];
    for (int64_t c = 0; c < cols; c++) gx[r * cols + c] = g[c] - fast_exp(yr[c]) * sum;
  }
}

namespace {

void check_targets(const int32_t* t, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    if (t[r] >= cols) {
      throw std::runtime_error("targets[" + std::to_string(r) + "] = " + std::to_string(t[r]) +
                               " is not a class in [0, " + std::to_string(cols) + ") (negative ignores the row)");
    }
  }
}

}  // namespace

// crossEntropy(logits, targets, loss, lse, rows, cols)
BITSCALE_KERNEL(crossEntropy) {
  const int64_t rows = a.integer(4, "rows"), cols = a.integer(5, "cols");
  const float* x = a.f32(0, "logits", rows * cols);
  const int32_t* t = a.i32(1, "targets", rows);
  float* loss = a.f32(2, "loss", rows);
  float* lse = a.f32(3, "lse", rows);
  check_targets(t, rows, cols);
  FOR_ROWS(rows, cols) {
    const float* xr = x + r * cols;
    const float m = row_max(xr, cols);
    lse[r] = m + std::log(exp_sum_only(xr, m, cols));
    loss[r] = t[r] < 0 ? 0.0f : lse[r] - xr[t[r]];
  }
}

// crossEntropyGrad(logits, targets, lse, gLoss, gLogits, rows, cols)
BITSCALE_KERNEL(crossEntropyGrad) {
  const int64_t rows = a.integer(5, "rows"), cols = a.integer(6, "cols");
  const float* x = a.f32(0, "logits", rows * cols);
  const int32_t* t = a.i32(1, "targets", rows);
  const float* lse = a.f32(2, "lse", rows);
  const float* gl = a.f32(3, "gLoss", rows);
  float* gx = a.f32(4, "gLogits", rows * cols);
  check_targets(t, rows, cols);
  FOR_ROWS(rows, cols) {
    const float* xr = x + r * cols;
    float* g = gx + r * cols;
    if (t[r] < 0) {
      for (int64_t c = 0; c < cols; c++) g[c] = 0;
      continue;
    }
    const float scale = gl[r], shift = lse[r];
    for (int64_t c = 0; c < cols; c++) g[c] = scale * fast_exp(xr[c] - shift);
    g[t[r]] -= scale;
  }
}
