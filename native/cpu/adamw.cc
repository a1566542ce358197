// Fused AdamW: decoupled weight decay, bias-corrected moments, one pass over the parameters.
#include <cmath>

#include "kernel.h"

// adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, gradScale)
BITSCALE_KERNEL(adamw) {
  const int64_t n = a.integer(4, "n");
  float* p = a.f32(0, "param", n);
  const float* g = a.f32(1, "grad", n);
  float* m = a.f32(2, "m", n);
  float* v = a.f32(3, "v", n);
  const double lr = a.num(5, "lr"), beta1 = a.num(6, "beta1"), beta2 = a.num(7, "beta2"), eps = a.num(8, "eps");
  const double wd = a.num(9, "weightDecay");
  const double step = a.num(10, "step"), grad_scale = a.num(11, "gradScale");
  if (!(step >= 1)) throw std::runtime_error("step must be >= 1 (1-based), got " + std::to_string(step));
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
  const float decay = static_cast<float>(1.0 - lr * wd);
  const float step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, step)));
  const float inv_bc2_sqrt = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(beta2, step)));
  const float e = static_cast<float>(eps), gs = static_cast<float>(grad_scale);
#pragma omp parallel for simd schedule(static) if (n > bitscale::kParallelGrain)
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i] * gs;
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step_size * mi / (std::sqrt(vi) * inv_bc2_sqrt + e);
  }
}
