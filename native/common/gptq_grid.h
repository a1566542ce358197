// GPTQ's integer grid, shared by the CPU addon (native/cpu/gptq.cc) and the CUDA addon's host kernels
// (native/cuda/gptq_host.cu): symmetric [-(2^(b-1) - 1), 2^(b-1) - 1] or asymmetric [0, 2^b - 1] with absmax
// scales, the arithmetic of src/numerics/quantizer.ts (chooseParams, symmetricParams, asymmetricParams) one
// operation for one. Include it where fused multiply-adds are off (both builds say how).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace gptq_grid {

// Round half to even for |v| < 2^51 (see native/cpu/fake_quant.cc).
inline double rne(double v) {
  constexpr double kMagic = 6755399441055744.0;
  return (v + kMagic) - kMagic;
}

struct IntGrid {
  bool symmetric;
  double lo, hi;
  IntGrid(int bits, bool sym) : symmetric(sym) {
    hi = sym ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    lo = sym ? -hi : 0;
  }
  void params(const double* v, int64_t n, double* scale, double* zero) const {
    if (symmetric) {
      double m = 0;
      for (int64_t i = 0; i < n; i++) m = std::fabs(v[i]) > m ? std::fabs(v[i]) : m;
      double s = m / hi;
      *scale = s > 0 && std::isfinite(1 / s) ? s : 1;
      *zero = 0;
      return;
    }
    double a = 0, b = 0;
    for (int64_t i = 0; i < n; i++) {
      if (v[i] < a) a = v[i];
      if (v[i] > b) b = v[i];
    }
    double s = (b - a) / hi;
    if (!(s > 0 && std::isfinite(1 / s))) s = 1;
    *scale = s;
    *zero = std::min(std::max(rne(-a / s), 0.0), hi);
  }
  double quantize(double scale, double zero, double x) const {
    double v = x * (1 / scale) + zero;
    if (v < lo) v = lo;
    else if (v > hi) v = hi;
    return (rne(v) - zero) * scale + 0.0;
  }
};

}  // namespace gptq_grid
