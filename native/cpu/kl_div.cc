// KL(teacher ‖ student) on logits (rows, cols), fused for distillation: one kernel forward, one backward,
// rows in parallel like crossEntropy (softmax.cc), instead of two log-softmaxes, exp, sub, mul and sum.
#include <cmath>
#include <limits>

#include "kernel.h"
#include "vecmath.h"

using bitscale::fast_exp;
using bitscale::kParallelGrain;

// klDivLogits(student, teacher, loss, lseS, lseT, rows, cols)
// loss[r] = Σ_c p_t (log p_t − log p_s). With e = exp(x − max) and z = Σ e per row this is
//   Σ_c e_t ((t − m_t) − (s − m_s)) / z_t + log z_s − log z_t,
// one pass after the maxima, two exps per element; the differences are taken from each row's max, so no
// large logit cancels against another (logits of ±80 keep their precision).
BITSCALE_KERNEL(klDivLogits) {
  const int64_t rows = a.integer(5, "rows"), cols = a.integer(6, "cols");
  const float* s = a.f32(0, "student", rows * cols);
  const float* t = a.f32(1, "teacher", rows * cols);
  float* loss = a.f32(2, "loss", rows);
  float* lse_s = a.f32(3, "lseS", rows);
  float* lse_t = a.f32(4, "lseT", rows);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    const float *sr = s + r * cols, *tr = t + r * cols;
    float ms = -std::numeric_limits<float>::infinity(), mt = ms;
#pragma omp simd reduction(max : ms, mt)
    for (int64_t c = 0; c < cols; c++) {
      ms = sr[c] > ms ? sr[c] : ms;
      mt = tr[c] > mt ? tr[c] : mt;
    }
    float zs = 0, zt = 0, dot = 0;
#pragma omp simd reduction(+ : zs, zt, dot)
    for (int64_t c = 0; c < cols; c++) {
      const float ds = sr[c] - ms, dt = tr[c] - mt;
      const float et = fast_exp(dt);
      zs += fast_exp(ds);
      zt += et;
      dot += et * (dt - ds);
    }
    const float log_zs = std::log(zs), log_zt = std::log(zt);
    lse_s[r] = ms + log_zs;
    lse_t[r] = mt + log_zt;
    loss[r] = dot / zt + (log_zs - log_zt);
  }
}

// klDivLogitsGrad(student, teacher, lseS, lseT, gLoss, gStudent, rows, cols)
// gStudent = gLoss[r] (softmax(student) − softmax(teacher)); the teacher is a target: no gradient.
BITSCALE_KERNEL(klDivLogitsGrad) {
  const int64_t rows = a.integer(6, "rows"), cols = a.integer(7, "cols");
  const float* s = a.f32(0, "student", rows * cols);
  const float* t = a.f32(1, "teacher", rows * cols);
  const float* lse_s = a.f32(2, "lseS", rows);
  const float* lse_t = a.f32(3, "lseT", rows);
  const float* gl = a.f32(4, "gLoss", rows);
  float* gs = a.f32(5, "gStudent", rows * cols);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    const float *sr = s + r * cols, *tr = t + r * cols;
    float* g = gs + r * cols;
    const float scale = gl[r], ls = lse_s[r], lt = lse_t[r];
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) g[c] = scale * (fast_exp(sr[c] - ls) - fast_exp(tr[c] - lt));
  }
}
