// GPTQ's heavy parts for machines with the CUDA addon and no native CPU addon (GPU hosts often lack OpenBLAS):
// the same four entry points as native/cpu/gptq.cc, as host code with OpenMP and no BLAS. The column loop
// repeats the reference's operations one for one (src/numerics/gptq.ts); the factorization and the lazy
// update sum in another order than LAPACK/BLAS, so results agree with the reference to rounding, not to the bit.
// Built with -ffp-contract=off (build.sh): no fused multiply-adds, as in the reference. Threads: OpenMP's, as
// many as OMP_NUM_THREADS (a sweep worker gets its --cores-per-job).
// The model's calibration (X^T X) runs on the GPU through the engine; what is left here is O(rows cols^2) per
// layer, a fraction of a second for the layers of the models a study trains.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common.cuh"
#include "gptq_grid.h"

namespace {

// A host typed array argument of at least `need` elements; errors name it as the CPU addon's do
// ("argument 0 (x): Float32Array of 10 elements, the kernel needs 16").
template <typename T>
T* typed_arg(const bc::Args& a, size_t i, const char* name, long long need, napi_typedarray_type want, const char* what) {
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type;
  const std::string arg = "argument " + std::to_string(i) + " (" + name + ")";
  try {
    a.typed_array(i, name, &data, &length, &type);
  } catch (const std::exception&) {
    throw std::runtime_error(arg + ": expected " + what);
  }
  if (type != want) throw std::runtime_error(arg + ": expected " + what);
  if (static_cast<long long>(length) < need)
    throw std::runtime_error(arg + ": " + what + " of " + std::to_string(length) + " elements, the kernel needs " +
                             std::to_string(need));
  return static_cast<T*>(data);
}

double* f64_arg(const bc::Args& a, size_t i, const char* name, long long need) {
  return typed_arg<double>(a, i, name, need, napi_float64_array, "Float64Array");
}

using gptq_grid::IntGrid;

// x·y over n terms in four interleaved partial sums: a reduction the compiler may not reorder on its own
// (no -ffast-math), so it cannot vectorize it; four chains keep the FPU's pipelines full.
inline double dot(const double* x, const double* y, long long n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  long long k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += x[k] * y[k];
    s1 += x[k + 1] * y[k + 1];
    s2 += x[k + 2] * y[k + 2];
    s3 += x[k + 3] * y[k + 3];
  }
  for (; k < n; k++) s0 += x[k] * y[k];
  return (s0 + s1) + (s2 + s3);
}


void check_block(long long i1, long long i2, long long cols) {
  if (!(0 <= i1 && i1 <= i2 && i2 <= cols))
    throw std::runtime_error("i1 = " + std::to_string(i1) + ", i2 = " + std::to_string(i2) +
                             " are not allowed; expected 0 <= i1 <= i2 <= cols = " + std::to_string(cols));
}

}  // namespace

// gptqHessian(x: F32 (tokens, cols), tokens, cols, h: F64 (cols, cols)): h = 2/tokens x^T x, both triangles.
BC_KERNEL(gptqHessian) {
  const long long tokens = a.integer(1, "tokens"), cols = a.integer(2, "cols");
  const float* x = typed_arg<float>(a, 0, "x", tokens * cols, napi_float32_array, "Float32Array");
  double* h = f64_arg(a, 3, "h", cols * cols);
  const double alpha = tokens > 0 ? 2.0 / static_cast<double>(tokens) : 0.0;
#pragma omp parallel for schedule(dynamic, 8)
  for (long long i = 0; i < cols; i++) {
    for (long long j = 0; j <= i; j++) {
      double s = 0;
      for (long long t = 0; t < tokens; t++) s += static_cast<double>(x[t * cols + i]) * x[t * cols + j];
      h[i * cols + j] = h[j * cols + i] = alpha * s;
    }
  }
  return nullptr;
}

// gptqInverseCholesky(h: F64 (n, n), n): in place, h (symmetric positive definite) -> the upper-triangular U
// with U^T U = h^-1. With J the reversal, J h J = L L^T and U = J L^-1 J (as native/cpu/gptq.cc).
BC_KERNEL(gptqInverseCholesky) {
  const long long n = a.integer(1, "n");
  double* h = f64_arg(a, 0, "h", n * n);
  if (n == 0) return nullptr;
  std::reverse(h, h + n * n);  // J h J
  // Cholesky, left-looking by columns, L in the lower triangle (row-major): contiguous row dot products.
  std::vector<double> l(static_cast<size_t>(n * n), 0.0);
  for (long long j = 0; j < n; j++) {
    const double* lj = l.data() + j * n;
    const double d = h[j * n + j] - dot(lj, lj, j);
    if (!(d > 0))
      throw std::runtime_error("hessian pivot [" + std::to_string(j) +
                               "] is not positive; expected a positive definite matrix (raise dampPercent)");
    const double djj = std::sqrt(d);
    l[j * n + j] = djj;
#pragma omp parallel for schedule(static) if (n - j > 64)
    for (long long i = j + 1; i < n; i++) {
      const double* li = l.data() + i * n;
      l[i * n + j] = (h[i * n + j] - dot(li, lj, j)) / djj;
    }
  }
  // X = L^-1, lower: each column is a forward substitution of its own, so columns run in parallel
  // (kept column-major in xc for contiguous access, then written row-major into h).
  std::vector<double> xc(static_cast<size_t>(n * n), 0.0);
#pragma omp parallel for schedule(dynamic, 8)
  for (long long j = 0; j < n; j++) {
    double* x = xc.data() + j * n;
    for (long long i = j; i < n; i++) {
      const double* li = l.data() + i * n;
      x[i] = ((i == j ? 1.0 : 0.0) - dot(li + j, x + j, i - j)) / li[i];
    }
  }
#pragma omp parallel for schedule(static)
  for (long long i = 0; i < n; i++)
    for (long long j = 0; j < n; j++) h[i * n + j] = j <= i ? xc[j * n + i] : 0.0;
  std::reverse(h, h + n * n);  // U = J X J, upper
  return nullptr;
}

// gptqQuantizeBlock(w, q, err, ldErr, u, scales, zeros, groupOf, rows, cols, i1, i2, group, bits, symmetric,
//                   paramsFixed): the column loop of one block, rows in parallel (see native/cpu/gptq.cc).
BC_KERNEL(gptqQuantizeBlock) {
  const long long rows = a.integer(8, "rows"), cols = a.integer(9, "cols"), i1 = a.integer(10, "i1"),
                  i2 = a.integer(11, "i2"), group = a.integer(12, "group"), bits = a.integer(13, "bits");
  const bool symmetric = a.flag(14, "symmetric"), fixed = a.flag(15, "paramsFixed");
  check_block(i1, i2, cols);
  if (group <= 0 || cols % group != 0)
    throw std::runtime_error("group = " + std::to_string(group) + " is not allowed; expected a divisor of cols = " +
                             std::to_string(cols));
  if (bits < (symmetric ? 2 : 1) || bits > 8)
    throw std::runtime_error("bits = " + std::to_string(bits) + " is not allowed; expected " +
                             (symmetric ? "2..8 (symmetric)" : "1..8"));
  const long long count = i2 - i1, groups = cols / group, ld_err = a.integer(3, "ldErr");
  if (ld_err < count)
    throw std::runtime_error("ldErr = " + std::to_string(ld_err) + " is not allowed; expected at least i2 - i1");
  double* w = f64_arg(a, 0, "w", rows * cols);
  double* q = f64_arg(a, 1, "q", rows * cols);
  double* err = f64_arg(a, 2, "err", rows == 0 ? 0 : (rows - 1) * ld_err + count);
  const double* u = f64_arg(a, 4, "u", cols * cols);
  double* scales = f64_arg(a, 5, "scales", rows * groups);
  double* zeros = f64_arg(a, 6, "zeros", rows * groups);
  const int32_t* group_of = typed_arg<int32_t>(a, 7, "groupOf", cols, napi_int32_array, "Int32Array");
  for (long long c = i1; c < i2; c++) {
    if (group_of[c] < 0 || group_of[c] >= groups)
      throw std::runtime_error("groupOf[" + std::to_string(c) + "] = " + std::to_string(group_of[c]) +
                               " is not allowed; expected 0.." + std::to_string(groups - 1));
  }
  const IntGrid grid(static_cast<int>(bits), symmetric);
#pragma omp parallel for schedule(static) if (rows * count * count >= (1 << 16))
  for (long long r = 0; r < rows; r++) {
    double* wr = w + r * cols;
    double* er = err + r * ld_err;
    for (long long k = 0; k < count; k++) {
      const long long col = i1 + k, p = r * groups + group_of[col];
      if (!fixed && col % group == 0) grid.params(wr + col, group, scales + p, zeros + p);
      const double* ur = u + col * cols;
      const double wv = wr[col], qv = grid.quantize(scales[p], zeros[p], wv);
      q[r * cols + col] = qv;
      const double e = (wv - qv) / ur[col];
      er[k] = e;
      for (long long j = col + 1; j < i2; j++) wr[j] -= e * ur[j];
    }
  }
  return nullptr;
}

// gptqLazyUpdate(w, err, ldErr, u, rows, cols, i1, i2, end): w[:, i2:end] -= err (rows, i2 - i1) u[i1:i2, i2:end].
BC_KERNEL(gptqLazyUpdate) {
  const long long rows = a.integer(4, "rows"), cols = a.integer(5, "cols"), i1 = a.integer(6, "i1"),
                  i2 = a.integer(7, "i2"), end = a.integer(8, "end");
  check_block(i1, i2, cols);
  if (!(i2 <= end && end <= cols))
    throw std::runtime_error("end = " + std::to_string(end) + " is not allowed; expected i2 <= end <= cols");
  const long long count = i2 - i1, rest = end - i2, ld_err = a.integer(2, "ldErr");
  if (ld_err < count)
    throw std::runtime_error("ldErr = " + std::to_string(ld_err) + " is not allowed; expected at least i2 - i1");
  double* w = f64_arg(a, 0, "w", rows * cols);
  const double* err = f64_arg(a, 1, "err", rows == 0 ? 0 : (rows - 1) * ld_err + count);
  const double* u = f64_arg(a, 3, "u", cols * cols);
#pragma omp parallel for schedule(static) if (rows * count * rest >= (1 << 18))
  for (long long r = 0; r < rows; r++) {
    double* wr = w + r * cols + i2;
    for (long long k = 0; k < count; k++) {
      const double e = err[r * ld_err + k];
      const double* ur = u + (i1 + k) * cols + i2;
      for (long long j = 0; j < rest; j++) wr[j] -= e * ur[j];
    }
  }
  return nullptr;
}
